//! `GET /setup/me`: whether a call token works, and for whom (a client's check after setup).
//! `PATCH /setup/me`: the agent's own preferences.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{AuthAgent, iso_millis};
use crate::domain::{CallMode, ClientIdentity};
use crate::http::{ApiError, JsonOrForm, Success, success};
use crate::state::AppState;
use crate::store::Agent;

pub(super) async fn me(AuthAgent(agent): AuthAgent) -> Success<Value> {
    success("Call token is valid", describe(&agent))
}

/// What an agent may change about themselves. Unknown fields are refused, so that a typo is
/// not taken for a change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Preferences {
    default_mode: Option<String>,
}

pub(super) async fn update(
    State(state): State<AppState>,
    AuthAgent(agent): AuthAgent,
    JsonOrForm(body): JsonOrForm<Preferences>,
) -> Result<Success<Value>, ApiError> {
    let Some(mode) = body.default_mode else {
        return Err(ApiError::BadRequest(
            "nothing to change: send defaultMode (phone or browser)".into(),
        ));
    };
    let mode: CallMode = mode.trim().parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "defaultMode must be phone or browser, not {mode:?}"
        ))
    })?;
    let agent = state.store.set_default_mode(agent.id, mode).await?;
    Ok(success("Preferences saved", describe(&agent)))
}

fn describe(agent: &Agent) -> Value {
    json!({
        "id": agent.id,
        "email": agent.email.as_str(),
        "phone": agent.phone.as_ref().map(|p| p.as_str()),
        "phoneVerifiedAt": agent.phone_verified_at.map(iso_millis),
        "defaultMode": agent.default_mode,
        "browserIdentity": ClientIdentity::for_agent(agent.id).as_str(),
    })
}
