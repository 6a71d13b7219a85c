//! HS256 signing and checking shared by both kinds of token.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::AuthError;
use crate::config::Settings;

/// Clocks of several instances differ a little; a few seconds, not the library's minute.
const LEEWAY_SECS: u64 = 5;

/// Why a token was refused; each kind of token words it its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Expired,
    /// Signed by us, but for another purpose (a setup token used as a call token, or back).
    WrongKind,
    Invalid,
}

pub(super) fn sign<C: Serialize>(settings: &Settings, claims: &C) -> Result<String, AuthError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(settings.jwt_secret_bytes()),
    )
    .map_err(|e| AuthError::Signing(e.to_string()))
}

pub(super) fn check<C: DeserializeOwned>(
    settings: &Settings,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Result<C, Refusal> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    // Checked as plain JSON first, so that a token of the other kind is told apart by its
    // audience rather than failing on a missing claim.
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        token.trim(),
        &DecodingKey::from_secret(settings.jwt_secret_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => Refusal::WrongKind,
        _ => Refusal::Invalid,
    })?
    .claims;
    serde_json::from_value(claims).map_err(|_| Refusal::Invalid)
}

pub(super) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
