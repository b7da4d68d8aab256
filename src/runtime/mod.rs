//! The runtime: executing compiled processes.

pub mod approval;
pub mod audit;
pub mod calendar;
pub mod clock;
mod effects;
pub mod engine;
pub mod error;
pub mod outbox;
pub mod schedule;
pub mod store;
pub mod tick;
pub mod values;

pub use engine::{Actor, Engine};
pub use error::RuntimeError;
