//! The runtime: executing compiled processes.

pub mod access;
pub mod approval;
pub mod audit;
pub mod calendar;
pub mod clock;
mod effects;
pub mod engine;
pub mod error;
pub mod escalation;
pub mod idempotency;
pub mod outbox;
pub mod schedule;
pub mod spawn;
pub mod store;
pub mod tick;
pub mod values;

pub use engine::{Actor, Engine};
pub use error::RuntimeError;
