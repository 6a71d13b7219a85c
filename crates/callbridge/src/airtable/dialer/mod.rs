//! Campaigns worked as a power dialer: agents stay on the line in a session while the
//! campaign dials the next record for whoever is free. The rules live here, free of HTTP.

pub mod customer;
mod errors;
pub mod guard;
pub(crate) mod http;
pub mod outcome;
pub mod progress;
pub mod runner;
pub mod session;
pub mod settings;
pub mod twiml;
pub(crate) mod webhooks;

pub use errors::DialerError;
pub use settings::{CampaignMode, DialerSettings, RawSettings, SettingsError};
