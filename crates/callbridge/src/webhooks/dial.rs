//! The TwiML webhooks: the agent's Gather action, which has the customer dialled, and the
//! conference TwiML the customer's leg (or a seed-style redirect) fetches.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::signed::SignedForm;
use crate::calls::gather::{self, AgentNext, Gathered};
use crate::calls::{lookup, twiml};
use crate::domain::LegRole;
use crate::http::{ApiError, patiently};
use crate::state::AppState;
use crate::store::Call;

/// A TwiML document as Twilio wants it.
#[derive(Debug)]
pub struct Twiml(pub String);

impl IntoResponse for Twiml {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], self.0).into_response()
    }
}

pub(super) fn render(xml: Result<String, ::twiml::Error>) -> Result<Twiml, ApiError> {
    xml.map(Twiml)
        .map_err(|e| ApiError::Internal(format!("could not write TwiML: {e}")))
}

async fn load(state: &AppState, form: &SignedForm) -> Result<Call, ApiError> {
    Ok(lookup::call(state.store.as_ref(), form.call_id()?).await?)
}

/// The agent's Gather ended: the customer is dialled, and the agent waits in the conference.
pub async fn dial_recipient(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Twiml, ApiError> {
    patiently(&state, || agent_ready(&state, &form)).await
}

async fn agent_ready(state: &AppState, form: &SignedForm) -> Result<Twiml, ApiError> {
    let call = load(state, form).await?;
    let gathered = Gathered {
        call_sid: form.require("CallSid")?.to_owned(),
        digits: form.param("Digits").unwrap_or_default().to_owned(),
        payload: form.payload(),
    };
    match gather::agent_gathered(state, &call, &gathered).await? {
        AgentNext::HangUp => render(twiml::say_and_hang_up(twiml::GOODBYE)),
        AgentNext::Conference(call) => answer_for(state, &call, LegRole::Agent),
    }
}

/// `<Dial><Conference>` for the leg the URL names (the customer's, unless it says otherwise).
pub async fn conference_twiml(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Twiml, ApiError> {
    patiently(&state, || async {
        let call = load(&state, &form).await?;
        let leg = form.leg()?.unwrap_or(LegRole::Recipient);
        answer_for(&state, &call, leg)
    })
    .await
}

pub(super) fn answer_for(state: &AppState, call: &Call, leg: LegRole) -> Result<Twiml, ApiError> {
    render(twiml::answer(&state.settings, call, leg))
}
