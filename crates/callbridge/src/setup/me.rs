//! `GET /setup/me`: whether a call token works, and for whom (a client's check after setup).
//! `PATCH /setup/me`: the agent's own preferences.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::SetupError;
use super::replies::Me;
use crate::auth::AuthAgent;
use crate::domain::CallMode;
use crate::http::openapi::SETUP_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, Success, SuccessBody, success};
use crate::state::AppState;
use crate::store::Agent;

/// Whether a call token works, and for whom.
#[utoipa::path(
    get,
    path = "/setup/me",
    tag = SETUP_TAG,
    security(("callToken" = [])),
    responses((status = 200, description = "The agent the token names.", body = SuccessBody<Me>)),
)]
pub(super) async fn me(AuthAgent(agent): AuthAgent) -> Success<Me> {
    success("Call token is valid", Me::from(&agent))
}

/// What an agent may change about themselves. Unknown fields are refused, so that a typo is
/// not taken for a change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Preferences {
    /// `phone` or `browser`: where the agent talks from unless a call says otherwise.
    #[schema(required = true, value_type = CallMode)]
    default_mode: Option<String>,
}

/// Change the agent's own preferences.
#[utoipa::path(
    patch,
    path = "/setup/me",
    tag = SETUP_TAG,
    security(("callToken" = [])),
    request_body = Preferences,
    responses(
        (status = 200, description = "Saved; the agent as it is now.", body = SuccessBody<Me>),
        (status = 400, description = "Nothing to change, an unknown field, or a mode that is not `phone` or `browser`.", body = ErrorBody),
    ),
)]
pub(super) async fn update(
    State(state): State<AppState>,
    AuthAgent(agent): AuthAgent,
    JsonOrForm(body): JsonOrForm<Preferences>,
) -> Result<Success<Me>, ApiError> {
    let agent = save(&state, &agent, body).await?;
    Ok(success("Preferences saved", Me::from(&agent)))
}

/// Saves the agent's preferences; the agent as it is afterwards.
async fn save(state: &AppState, agent: &Agent, wanted: Preferences) -> Result<Agent, SetupError> {
    let Some(mode) = wanted.default_mode else {
        return Err(SetupError::Invalid(
            "nothing to change: send defaultMode (phone or browser)".into(),
        ));
    };
    let mode: CallMode = mode.trim().parse().map_err(|_| {
        SetupError::Invalid(format!(
            "defaultMode must be phone or browser, not {mode:?}"
        ))
    })?;
    Ok(state.store.set_default_mode(agent.id, mode).await?)
}
