//! What can go wrong in a call's use cases, in words a caller can be shown: each variant's text
//! is the message its HTTP answer carries (`http/error.rs` decides the status).

use crate::domain::{CallId, CallState, DomainError};
use crate::patience::Busy;
use crate::ratelimit::RateLimitError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No such call, or not the asking agent's: the same answer, so nobody learns which.
    #[error("call not found")]
    NotFound,
    #[error("call already ended ({0})")]
    AlreadyEnded(CallState),
    /// The call is not in a state that allows this (not connected yet, a transfer under way).
    #[error("{0}")]
    NotNow(String),
    /// A field missing or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The agent may not do this (no verified phone, another agent's number).
    #[error("{0}")]
    Forbidden(String),
    /// Well-formed, but the destination policy refuses the number.
    #[error("{0}")]
    Refused(String),
    /// The Airtable record already has a call that is not over.
    #[error("record {record_id} already has a call in progress: {call_id}")]
    RecordHasCall { record_id: String, call_id: CallId },
    /// The agent's start limit.
    #[error("too many requests, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Twilio failed or refused; `retry_after_secs` when waiting helps (busy, down or silent).
    #[error("{message}")]
    Twilio {
        message: String,
        twilio_code: Option<u32>,
        retry_after_secs: Option<u64>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our own failure (a bug, TwiML we could not write).
    #[error("{0}")]
    Internal(String),
}

impl CallError {
    /// Our own failure (the database down or slow, a bug), which says nothing of the request:
    /// the same request may well succeed in a moment.
    pub fn is_ours(&self) -> bool {
        match self {
            Self::Internal(_) => true,
            Self::Store(err) => !matches!(err, StoreError::NotFound | StoreError::Conflict(_)),
            _ => false,
        }
    }
}

impl Busy for CallError {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Store(err) if err.is_busy())
    }
}

impl From<DomainError> for CallError {
    fn from(err: DomainError) -> Self {
        Self::Invalid(err.to_string())
    }
}

impl From<RateLimitError> for CallError {
    fn from(err: RateLimitError) -> Self {
        match err {
            RateLimitError::Limited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            RateLimitError::Store(err) => Self::Store(err),
        }
    }
}
