//! The integration's one error type.

use crate::store::{CampaignStatus, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AirtableError {
    #[error(transparent)]
    Airtable(#[from] airtable::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A new campaign's mode or session settings break a rule.
    #[error(transparent)]
    Settings(#[from] super::dialer::SettingsError),
    #[error(transparent)]
    Dialer(#[from] super::dialer::DialerError),
    /// Twilio or the destination policy refused a leg of a session.
    #[error(transparent)]
    Call(#[from] crate::calls::CallError),
    /// The record's phone field holds no number we can call; the record was marked.
    #[error(
        "record {record_id} has no valid phone number in its {field:?} field (E.164, e.g. \
         +14155550100); the record is marked"
    )]
    NoPhone { record_id: String, field: String },
    /// A campaign asked for another agent than the one asking.
    #[error("agent must be your own email: a campaign calls for the agent who starts it")]
    NotYourCampaign,
    #[error("Airtable refused the view {view:?}: {source}")]
    ViewRefused {
        view: String,
        source: airtable::Error,
    },
    /// No such campaign of the asking agent's.
    #[error("no campaign {0}")]
    NoCampaign(String),
    #[error("the campaign is {}; it cannot be made {}", .now.as_str(), .to.as_str())]
    CampaignCannotMove {
        now: CampaignStatus,
        to: CampaignStatus,
    },
}
