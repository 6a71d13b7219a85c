//! The seed's setup token: proof, for five minutes, that an email address was verified.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::jwt::{self, Refusal};
use crate::config::Settings;
use crate::domain::EmailAddress;
use crate::http::ApiError;

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
) -> Result<String, ApiError> {
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

/// The email a valid setup token vouches for; 401 with what to do otherwise.
pub fn verify_setup_token(settings: &Settings, token: &str) -> Result<EmailAddress, ApiError> {
    let claims: SetupClaims =
        jwt::check(settings, token, SETUP_ISSUER, SETUP_AUDIENCE).map_err(|refusal| {
            ApiError::Unauthorized(
                match refusal {
                    Refusal::Expired => {
                        "Setup token has expired: verify the email again at /setup/email/validate"
                    }
                    Refusal::WrongKind => {
                        "This is not a setup token: pass data.token from /setup/email/validate"
                    }
                    Refusal::Invalid => {
                        "Invalid setup token: pass data.token from /setup/email/validate"
                    }
                }
                .to_owned(),
            )
        })?;
    EmailAddress::parse(&claims.email)
        .map_err(|_| ApiError::Unauthorized("Invalid setup token: it names no email".into()))
}
