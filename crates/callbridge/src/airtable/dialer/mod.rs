//! Campaigns worked as a power dialer: agents stay on the line in a session while the
//! campaign dials the next record for whoever is free. The rules live here, free of HTTP.

pub mod guard;
pub mod settings;

pub use settings::{CampaignMode, DialerSettings, RawSettings, SettingsError};
