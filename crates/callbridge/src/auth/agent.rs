//! From a call token to an agent who may place calls right now.

use super::AuthError;
use super::call_token::verify_call_token;
use crate::domain::AgentId;
use crate::state::AppState;
use crate::store::Agent;

/// The agent behind a call token, checked against the store: a token outlives neither a
/// revocation (the agent's token version moved on), nor a change of the agent's phone.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Agent, AuthError> {
    let claims = verify_call_token(&state.settings, token)?;
    let id: AgentId = claims
        .sub
        .parse()
        .map_err(|_| AuthError::InvalidCallToken)?;
    let agent = state
        .store
        .agent_by_id(id)
        .await?
        .ok_or(AuthError::NoSuchAgent)?;
    check_still_valid(&agent, claims.ver, &claims.phone)?;
    Ok(agent)
}

fn check_still_valid(agent: &Agent, version: i64, phone: &str) -> Result<(), AuthError> {
    if agent.revoked_at.is_some() || agent.token_version != version {
        return Err(AuthError::Revoked);
    }
    match (&agent.phone, agent.phone_verified_at) {
        (Some(current), Some(_)) if current.as_str() == phone => Ok(()),
        (Some(_), Some(_)) => Err(AuthError::PhoneChanged),
        _ => Err(AuthError::PhoneNotVerified),
    }
}

#[cfg(test)]
mod tests {
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
        assert!(matches!(
            check_still_valid(&revoked, 3, "+14155550100"),
            Err(AuthError::Revoked)
        ));
    }

    #[test]
    fn a_token_for_another_phone_or_no_verified_phone_is_refused() {
        let err = check_still_valid(&agent(), 3, "+12025550123").unwrap_err();
        assert!(err.to_string().contains("no longer uses"), "{err}");
        let mut unverified = agent();
        unverified.phone_verified_at = None;
        let err = check_still_valid(&unverified, 3, "+14155550100").unwrap_err();
        assert!(err.to_string().contains("not verified"), "{err}");
        assert!(err.is_refusal());
    }
}
