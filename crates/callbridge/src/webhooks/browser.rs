//! The TwiML App's webhooks: its Voice URL, which a browser agent's call reaches, and its
//! Status Callback, which reports how that call ended.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::dial::{Twiml, answer_for, render};
use super::signed::SignedForm;
use super::status;
use crate::calls::browser::{self, BrowserAnswer, BrowserDial};
use crate::calls::{lookup, twiml};
use crate::domain::LegRole;
use crate::http::{ApiError, patiently};
use crate::state::AppState;

/// `POST /browser/voice`: the agent joins a new call's conference, or hears why not.
pub async fn voice(State(state): State<AppState>, form: SignedForm) -> Result<Twiml, ApiError> {
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

/// `POST /browser/status`: the App's Status Callback for a browser's call. Twilio's URL names
/// no call of ours, so the leg's SID finds it; a call we refused has none, and is ignored.
pub async fn status(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    let call_sid = form.require("CallSid")?.to_owned();
    patiently(&state, || async {
        match lookup::call_of_leg(state.store.as_ref(), &call_sid).await? {
            Some(call_id) => status::apply_to(&state, &form, call_id).await,
            None => Ok(Json(json!({}))),
        }
    })
    .await
}
