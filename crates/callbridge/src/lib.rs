//! callbridge: outbound conference calls on Twilio Voice.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
