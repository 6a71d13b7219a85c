//! Starting a call for an agent through the very path of `POST /phone-to-phone/start`, so a
//! call from Airtable passes every rule a call from the API passes (verified agent phone,
//! allowed destinations, the agent's start limit).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse as _;

use crate::auth::issue_call_token;
use crate::calls::start::{PhoneToPhoneStart, phone_to_phone};
use crate::calls::view::CallView;
use crate::domain::PhoneNumber;
use crate::http::{ApiError, JsonOrForm};
use crate::state::AppState;
use crate::store::Agent;

/// Starts a call from `agent` to `recipient`. `token` is the agent's call token when the agent
/// asked in person; a campaign, which runs without one, gets a token minted for the agent.
pub async fn start_call(
    state: &AppState,
    agent: &Agent,
    token: Option<&str>,
    recipient: &PhoneNumber,
    label: Option<String>,
) -> Result<CallView, ApiError> {
    let token = match token {
        Some(token) => token.to_owned(),
        None => issue_call_token(&state.settings, agent)?,
    };
    let mut headers = HeaderMap::new();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| ApiError::Unauthorized("Invalid call token".into()))?;
    headers.insert(header::AUTHORIZATION, bearer);
    let body = PhoneToPhoneStart {
        recipient_number: Some(recipient.as_str().to_owned()),
        agent_number: None,
        conference_name: label,
        record: None,
        token: None,
    };
    let reply = phone_to_phone(State(state.clone()), headers, JsonOrForm(body))
        .await?
        .into_response();
    let bytes = axum::body::to_bytes(reply.into_body(), usize::MAX)
        .await
        .map_err(|e| ApiError::Internal(format!("reading the start reply: {e}")))?;
    let envelope: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Internal(format!("the start reply is not JSON: {e}")))?;
    serde_json::from_value(envelope["data"].clone())
        .map_err(|e| ApiError::Internal(format!("the start reply holds no call: {e}")))
}
