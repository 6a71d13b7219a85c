//! A small typed client for Airtable's Web API, the pacing Airtable asks of its callers, and
//! (with the `fake` feature) an in-memory Airtable for tests.
//!
//! Airtable allows 5 requests per second per base and asks callers to wait 30 seconds after a
//! 429. Every request of a [`Client`] passes through its [`pace::RateGate`], which enforces the
//! first rule and, after a 429, the second.
#![forbid(unsafe_code)]

mod client;
mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod pace;
mod records;

pub use client::{Client, Config, DEFAULT_BASE_URL};
pub use error::Error;
pub use records::{ListParams, MAX_PAGE_SIZE, MAX_RECORDS_PER_UPDATE, Page, Record, RecordUpdate};
pub use secrecy::SecretString;
