//! Checks HTTP exchanges against OpenAPI 3 documents.
//!
//! [`Spec::load`] merges several documents (one per product host, as Twilio publishes them) into one
//! routing table served from a single base. [`Spec::check_request`] validates a request's path
//! parameters, query and form (or JSON) body; [`Spec::check_response`] validates a response's status
//! and JSON body. Every problem found is a [`Violation`] naming where it is (a JSON pointer) and what is
//! wrong, so a test can print all of them at once.
#![forbid(unsafe_code)]

mod error;
mod form;
mod format;
mod schema;
mod spec;
mod template;
mod violation;

pub use error::{Error, Result};
pub use spec::{Operation, Spec};
pub use violation::{Kind, Place, Violation};
