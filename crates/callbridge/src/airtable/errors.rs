//! The integration's one error type.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AirtableError {
    #[error(transparent)]
    Airtable(#[from] airtable::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record's phone field holds no number we can call; the record was marked.
    #[error(
        "record {record_id} has no valid phone number in its {field:?} field (E.164, e.g. \
         +14155550100); the record is marked"
    )]
    NoPhone { record_id: String, field: String },
}
