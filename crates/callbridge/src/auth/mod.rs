//! Who may do what: the short setup token that carries a verified email to the phone step, and
//! the long-lived, revocable call token an agent places calls with. They answer with
//! [`AuthError`]; `http.rs` is the one part that reads requests.

mod agent;
mod call_token;
mod error;
mod http;
mod jwt;
mod setup_token;

pub use agent::authenticate;
pub use call_token::{CALL_AUDIENCE, CALL_ISSUER, CallClaims, issue_call_token, verify_call_token};
pub use error::AuthError;
pub use http::{AuthAgent, bearer_token};
pub use setup_token::{
    SETUP_AUDIENCE, SETUP_ISSUER, SETUP_TOKEN_TTL, SetupClaims, issue_setup_token,
    verify_setup_token,
};

/// `verifiedAt` as the seed wrote it (JavaScript's `toISOString`: milliseconds and `Z`).
pub fn iso_millis(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests;
