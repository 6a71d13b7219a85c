//! From a bearer token to an agent who may place calls right now.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::call_token::verify_call_token;
use crate::domain::AgentId;
use crate::http::ApiError;
use crate::state::AppState;
use crate::store::Agent;

/// The agent behind a call token, checked against the store: a token outlives neither a
/// revocation (the agent's token version moved on), nor a change of the agent's phone.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Agent, ApiError> {
    let claims = verify_call_token(&state.settings, token)?;
    let id: AgentId = claims
        .sub
        .parse()
        .map_err(|_| ApiError::Unauthorized("Invalid call token".into()))?;
    let agent = state
        .store
        .agent_by_id(id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Call token's agent does not exist".into()))?;
    check_still_valid(&agent, claims.ver, &claims.phone)?;
    Ok(agent)
}

fn check_still_valid(agent: &Agent, version: i64, phone: &str) -> Result<(), ApiError> {
    if agent.revoked_at.is_some() || agent.token_version != version {
        return Err(ApiError::Unauthorized(
            "Call token has been revoked: verify your phone again (/setup/phone/validate) for a \
             new one"
                .into(),
        ));
    }
    match (&agent.phone, agent.phone_verified_at) {
        (Some(current), Some(_)) if current.as_str() == phone => Ok(()),
        (Some(_), Some(_)) => Err(ApiError::Unauthorized(
            "Call token is for a phone this agent no longer uses: use the token from the latest \
             phone verification"
                .into(),
        )),
        _ => Err(ApiError::Unauthorized(
            "This agent's phone is not verified: verify it at /setup/phone/init".into(),
        )),
    }
}

/// The token of `Authorization: Bearer …`, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An authenticated agent, from `Authorization: Bearer <call token>`; 401 in the error
/// envelope when the header is missing or the token is refused.
#[derive(Debug, Clone)]
pub struct AuthAgent(pub Agent);

impl FromRequestParts<AppState> for AuthAgent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::Unauthorized(
                "Missing call token: send it as Authorization: Bearer <token>".into(),
            )
        })?;
        authenticate(state, token).await.map(AuthAgent)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use chrono::Utc;

    use super::*;
    use crate::domain::{EmailAddress, PhoneNumber};

    fn agent() -> Agent {
        let now = Utc::now();
        Agent {
            default_mode: crate::domain::CallMode::Phone,
            id: AgentId::new(),
            email: EmailAddress::parse("ada@example.com").unwrap(),
            email_verified_at: Some(now),
            phone: Some(PhoneNumber::parse("+14155550100").unwrap()),
            phone_verified_at: Some(now),
            token_version: 3,
            revoked_at: None,
            record_by_default: false,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_current_token_passes() {
        assert!(check_still_valid(&agent(), 3, "+14155550100").is_ok());
    }

    #[test]
    fn an_older_version_or_a_revoked_agent_is_refused() {
        let err = check_still_valid(&agent(), 2, "+14155550100").unwrap_err();
        assert!(err.to_string().contains("revoked"), "{err}");
        let mut revoked = agent();
        revoked.revoked_at = Some(Utc::now());
        assert!(check_still_valid(&revoked, 3, "+14155550100").is_err());
    }

    #[test]
    fn a_token_for_another_phone_or_no_verified_phone_is_refused() {
        let err = check_still_valid(&agent(), 3, "+12025550123").unwrap_err();
        assert!(err.to_string().contains("no longer uses"), "{err}");
        let mut unverified = agent();
        unverified.phone_verified_at = None;
        let err = check_still_valid(&unverified, 3, "+14155550100").unwrap_err();
        assert!(err.to_string().contains("not verified"), "{err}");
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc.def"),
        );
        assert_eq!(bearer_token(&h), Some("abc.def"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&h), None);
    }
}
