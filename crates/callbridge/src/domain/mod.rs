//! Values that are valid by construction: parse once at the edge, then trust the type.

mod call;
mod client_address;
mod email;
mod endpoint;
mod ids;
pub(crate) mod mask;
mod phone;

pub use call::{CallMode, CallState, EventSource, LegRole};
pub use client_address::ClientAddress;
pub use email::EmailAddress;
pub use endpoint::{ClientIdentity, Endpoint};
pub use ids::{AgentId, CallId, EventId};
pub use phone::{Line, LineKind, PhoneNumber};

/// Why a value was refused; the message is meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    InvalidPhoneNumber(String),
    #[error("{0}")]
    InvalidEmail(String),
    #[error("unknown {kind} {value:?}")]
    UnknownVariant { kind: &'static str, value: String },
    #[error("{0}")]
    InvalidIdentity(String),
    #[error("invalid id {0:?}")]
    InvalidId(String),
}
