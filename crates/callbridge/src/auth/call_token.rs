//! The agent's call token: long-lived, bound to one agent, one verified phone, and the agent's
//! token version, so that bumping the version revokes every token issued before.

use serde::{Deserialize, Serialize};

use super::AuthError;
use super::jwt::{self, Refusal};
use crate::config::Settings;
use crate::store::Agent;

pub const CALL_ISSUER: &str = "callbridge";
pub const CALL_AUDIENCE: &str = "callbridge/call";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallClaims {
    /// The agent's id.
    pub sub: String,
    pub email: String,
    pub phone: String,
    /// The agent's `token_version` when the token was issued.
    pub ver: i64,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// A call token for `agent`, valid for `CALL_TOKEN_TTL`. The agent must have a verified phone.
pub fn issue_call_token(settings: &Settings, agent: &Agent) -> Result<String, AuthError> {
    let (Some(phone), Some(_)) = (&agent.phone, agent.phone_verified_at) else {
        return Err(AuthError::NoVerifiedPhone(agent.id));
    };
    let iat = jwt::now_secs();
    let ttl = i64::try_from(settings.call_token_ttl.as_secs()).unwrap_or(i64::MAX);
    let claims = CallClaims {
        sub: agent.id.to_string(),
        email: agent.email.as_str().to_owned(),
        phone: phone.as_str().to_owned(),
        ver: agent.token_version,
        iat,
        exp: iat.saturating_add(ttl),
        iss: CALL_ISSUER.to_owned(),
        aud: CALL_AUDIENCE.to_owned(),
    };
    jwt::sign(settings, &claims)
}

/// The claims of a well-signed, unexpired call token. Whether its agent may still use it is
/// [`super::authenticate`]'s question.
pub fn verify_call_token(settings: &Settings, token: &str) -> Result<CallClaims, AuthError> {
    jwt::check(settings, token, CALL_ISSUER, CALL_AUDIENCE).map_err(|refusal| match refusal {
        Refusal::Expired => AuthError::CallTokenExpired,
        Refusal::WrongKind => AuthError::NotACallToken,
        Refusal::Invalid => AuthError::InvalidCallToken,
    })
}
