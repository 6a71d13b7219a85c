//! What can go wrong while onboarding, in words a caller can be shown: each variant's text is
//! the message its HTTP answer carries (`http/error.rs` decides the status).

use crate::auth::AuthError;
use crate::destinations::Refusal;
use crate::domain::{DomainError, PhoneNumber};
use crate::ratelimit::RateLimitError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A field missing or malformed ("Email is required", "Invalid email format: …").
    #[error("{0}")]
    Invalid(String),
    /// The email's domain is not among `allowed`, and nobody invited the email.
    #[error("{}", domain_refusal(.allowed))]
    DomainNotAllowed { allowed: Vec<String> },
    /// The destination policy (`SMS_REGIONS`) keeps codes from being texted to the phone.
    #[error("{phone} cannot receive a setup code: {why}")]
    SmsRefused { phone: PhoneNumber, why: Refusal },
    /// A client's or an address's limit, the hourly SMS budget, or Twilio Verify's own.
    #[error("too many requests, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Twilio Verify is not configured, so no code can be sent or checked.
    #[error("`VERIFY_SERVICE_SID` must be set in environment variable")]
    NotConfigured,
    #[error("Invalid code: the code for {to} is wrong or has expired")]
    WrongCode { to: String },
    #[error("No pending verification for {to}: request a new code (codes expire after 10 minutes)")]
    NoPendingCode { to: String },
    /// Twilio Verify found the address malformed.
    #[error("Twilio Verify refused {to}: {message}")]
    VerifyRefused { to: String, message: String },
    /// Twilio Verify will not send to the address (a blocked country or carrier).
    #[error("Twilio Verify will not deliver to {to}: {message}")]
    Undeliverable { to: String, message: String },
    /// The setup token is sound but its email has no agent (deleted since, or never stored).
    #[error("Setup token names an email that is not verified: verify it again")]
    EmailNotVerified,
    #[error("Phone number is already associated with another email address")]
    PhoneTaken,
    /// Twilio (Verify, or Sync while mirroring) failed or could not be reached.
    #[error("{message}")]
    Twilio {
        message: String,
        twilio_code: Option<u32>,
    },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn domain_refusal(allowed: &[String]) -> String {
    match allowed {
        [one] => format!("Email must be from @{one} domain"),
        many => format!(
            "Email must be from one of these domains: {}",
            many.iter()
                .map(|d| format!("@{d}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl From<DomainError> for SetupError {
    fn from(err: DomainError) -> Self {
        Self::Invalid(err.to_string())
    }
}

impl From<RateLimitError> for SetupError {
    fn from(err: RateLimitError) -> Self {
        match err {
            RateLimitError::Limited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            RateLimitError::Store(err) => Self::Store(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_refusal_reads_like_the_seed() {
        let one = SetupError::DomainNotAllowed {
            allowed: vec!["twilio.com".into()],
        };
        assert_eq!(one.to_string(), "Email must be from @twilio.com domain");
        let many = SetupError::DomainNotAllowed {
            allowed: vec!["a.com".into(), "b.org".into()],
        };
        assert_eq!(
            many.to_string(),
            "Email must be from one of these domains: @a.com, @b.org"
        );
    }
}
