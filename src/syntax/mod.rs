//! The syntax stage: text to AST.

pub mod ast;
pub mod duration_text;
pub mod errors;
mod once;
pub mod parser;
pub mod span;

pub use parser::parse;
