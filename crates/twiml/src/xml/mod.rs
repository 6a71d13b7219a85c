//! Reading TwiML back: a small strict XML tree, and [`equivalent`] to compare two documents.

mod compare;
mod parse;
mod tree;

pub use compare::equivalent;
pub use parse::parse;
pub use tree::{Element, Node};
