//! pdca: a language, compiler and runtime for ISO/IEC 20000-1:2018
//! service management processes.
//!
//! The pipeline, one module per stage:
//! [`load`] (files) -> [`syntax`] (parse) -> [`check`] (resolve + checks)
//! -> [`lower`] (IR in [`ir`]); [`compile::compile`] chains them.
//! Diagnostics from every stage share [`diag::Diagnostic`].

pub mod check;
pub mod cli;
pub mod compile;
pub mod coverage;
pub mod diag;
pub mod ir;
pub mod load;
pub mod lower;
pub mod runtime;
pub mod script;
pub mod server;
pub mod source;
pub mod stdlib;
pub mod syntax;

pub use compile::{compile, Compilation};
