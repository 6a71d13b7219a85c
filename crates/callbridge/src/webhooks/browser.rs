//! The TwiML App's webhooks: its Voice URL, which a browser agent's call reaches, and its
//! Status Callback, which reports how that call ended.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::dial::{Twiml, answer_for, render};
use super::signed::SignedForm;
use super::status;
use crate::airtable::dialer::session as dialer;
use crate::calls::browser::{self, BrowserAnswer, BrowserDial};
use crate::calls::{lookup, twiml};
use crate::domain::LegRole;
use crate::http::{ApiError, patiently};
use crate::state::AppState;

/// `POST /browser/voice`: the agent joins a new call's conference, or hears why not.
pub async fn voice(State(state): State<AppState>, form: SignedForm) -> Result<Twiml, ApiError> {
    if let Some(session) = form.param("Session") {
        return patiently(&state, || join_session(&state, &form, session)).await;
    }
    let dial = BrowserDial {
        from: form.param("From").unwrap_or_default().to_owned(),
        call_sid: form.require("CallSid")?.to_owned(),
        to: form.param("To").map(str::to_owned),
        record: form.param("Record").map(str::to_owned),
        label: form.param("Label").map(str::to_owned),
        payload: form.payload(),
    };
    match patiently(&state, || browser::place(&state, &dial)).await? {
        BrowserAnswer::Join(call) => answer_for(&state, &call, LegRole::Agent),
        BrowserAnswer::Refuse(why) => {
            tracing::info!(call_sid = %dial.call_sid, %why, "browser call refused");
            render(twiml::say_and_hang_up(&why))
        }
    }
}

/// A browser joining a campaign session (`device.connect({params: {Session: id}})`).
async fn join_session(
    state: &AppState,
    form: &SignedForm,
    session: &str,
) -> Result<Twiml, ApiError> {
    let call_sid = form.require("CallSid")?;
    let agent = match browser::caller(state, form.param("From").unwrap_or_default()).await? {
        Ok(agent) => agent,
        Err(why) => return render(twiml::say_and_hang_up(why)),
    };
    match dialer::browser_joined(state, &agent, session, call_sid).await? {
        Ok(room) => Ok(Twiml(room)),
        Err(why) => {
            tracing::info!(%call_sid, %why, "browser session call refused");
            render(twiml::say_and_hang_up(why))
        }
    }
}

/// `POST /browser/status`: the App's Status Callback for a browser's call. Twilio's URL names
/// no call of ours, so the leg's SID finds it; a call we refused has none, and is ignored.
pub async fn status(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    let call_sid = form.require("CallSid")?.to_owned();
    patiently(&state, || async {
        if let Some(call_id) = lookup::call_of_leg(state.store.as_ref(), &call_sid).await? {
            return status::apply_to(&state, &form, call_id).await;
        }
        // A browser in a campaign session: its leg tells the session whether the agent is there.
        if let Some(session) = state.store.session_of_agent_leg(&call_sid).await? {
            let status = form.require("CallStatus")?;
            dialer::agent_leg(&state, &session.id, &call_sid, status).await?;
        }
        Ok(Json(json!({})))
    })
    .await
}
