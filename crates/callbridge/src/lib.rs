//! callbridge: outbound conference calls on Twilio Voice.
#![forbid(unsafe_code)]

pub mod airtable;
mod audit;
pub mod auth;
pub(crate) mod browser;
pub mod calls;
pub mod cli;
pub mod config;
#[cfg(feature = "simulator")]
pub mod demo;
mod destinations;
pub mod domain;
mod http;
mod idempotency;
pub mod metrics;
mod outbox;
mod patience;
mod ratelimit;
mod setup;
pub mod startup;
pub mod state;
pub mod store;
mod telemetry;
mod web;
mod webhooks;
