//! callbridge: outbound conference calls on Twilio Voice.
#![forbid(unsafe_code)]

pub mod airtable;
pub mod audit;
pub mod auth;
pub mod calls;
pub mod cli;
pub mod config;
pub mod demo;
pub mod destinations;
pub mod domain;
pub mod http;
pub mod idempotency;
pub mod metrics;
pub mod outbox;
pub mod ratelimit;
pub mod setup;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod webhooks;
