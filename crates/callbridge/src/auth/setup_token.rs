//! The seed's setup token: proof, for five minutes, that an email address was verified.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AuthError;
use super::jwt::{self, Refusal};
use crate::config::Settings;
use crate::domain::EmailAddress;

pub const SETUP_ISSUER: &str = "outbound-conference-setup";
pub const SETUP_AUDIENCE: &str = "setup/phone";
pub const SETUP_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// Exactly the seed's claims, in its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupClaims {
    pub email: String,
    #[serde(rename = "verifiedAt")]
    pub verified_at: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub aud: String,
}

/// A setup token for `email`, verified at `verified_at`.
pub fn issue_setup_token(
    settings: &Settings,
    email: &EmailAddress,
    verified_at: DateTime<Utc>,
) -> Result<String, AuthError> {
    let iat = jwt::now_secs();
    let claims = SetupClaims {
        email: email.as_str().to_owned(),
        verified_at: super::iso_millis(verified_at),
        exp: iat + i64::try_from(SETUP_TOKEN_TTL.as_secs()).unwrap_or(i64::MAX),
        iat,
        iss: SETUP_ISSUER.to_owned(),
        aud: SETUP_AUDIENCE.to_owned(),
    };
    jwt::sign(settings, &claims)
}

/// The email a valid setup token vouches for; what to do otherwise.
pub fn verify_setup_token(settings: &Settings, token: &str) -> Result<EmailAddress, AuthError> {
    let claims: SetupClaims = jwt::check(settings, token, SETUP_ISSUER, SETUP_AUDIENCE).map_err(
        |refusal| match refusal {
            Refusal::Expired => AuthError::SetupTokenExpired,
            Refusal::WrongKind => AuthError::NotASetupToken,
            Refusal::Invalid => AuthError::InvalidSetupToken,
        },
    )?;
    EmailAddress::parse(&claims.email).map_err(|_| AuthError::SetupTokenNamesNoEmail)
}
