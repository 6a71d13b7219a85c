//! The integration's one error type.

use crate::http::ApiError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AirtableError {
    #[error(transparent)]
    Airtable(#[from] airtable::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AirtableError> for ApiError {
    fn from(err: AirtableError) -> Self {
        match err {
            AirtableError::Store(e) => e.into(),
            AirtableError::Airtable(e) if e.status() == Some(404) => {
                Self::NotFound("Airtable has no such record".into())
            }
            AirtableError::Airtable(e) => Self::Upstream {
                message: format!("Airtable failed: {e}"),
                twilio_code: None,
            },
        }
    }
}
