//! Starting a call for an agent by the very rules of `POST /phone-to-phone/start`, so a call
//! from Airtable passes every rule a call from the API passes (verified agent phone, allowed
//! destinations, the agent's start limit), and one record never has two calls in progress.

use crate::auth::issue_call_token;
use crate::calls::start::start_for_record;
use crate::calls::view::CallView;
use crate::domain::PhoneNumber;
use crate::http::ApiError;
use crate::state::AppState;
use crate::store::{Agent, RecordLink};

/// Starts a call from `agent` to `recipient` for the record of `link`. `token` is the agent's
/// call token when the agent asked in person; a campaign, which runs without one, gets a token
/// minted for the agent (so a revoked agent is refused the same way).
pub async fn start_call(
    state: &AppState,
    agent: &Agent,
    token: Option<&str>,
    recipient: &PhoneNumber,
    label: Option<String>,
    link: RecordLink<'_>,
) -> Result<CallView, ApiError> {
    let token = match token {
        Some(token) => token.to_owned(),
        None => issue_call_token(&state.settings, agent)?,
    };
    start_for_record(state, &token, recipient, label, link).await
}
