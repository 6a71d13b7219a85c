//! Status callbacks (call, conference, recording): read from the signed form and handed to
//! `calls::callback`, which stores and applies them.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::callback;
use super::signed::SignedForm;
use crate::calls::callback::{self as core, Callback};
use crate::calls::lookup;
use crate::domain::CallId;
use crate::http::{ApiError, patiently};
use crate::state::AppState;

/// Answers `{}` like the seed: Twilio reads nothing from a status callback's reply.
pub async fn status(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    patiently(&state, || apply(&state, &form)).await
}

async fn apply(state: &AppState, form: &SignedForm) -> Result<Json<Value>, ApiError> {
    apply_to(state, form, form.call_id()?).await
}

/// Applies the callback to the call `call_id`.
pub(super) async fn apply_to(
    state: &AppState,
    form: &SignedForm,
    call_id: CallId,
) -> Result<Json<Value>, ApiError> {
    let call = lookup::call(state.store.as_ref(), call_id).await?;
    let callback = callback::parse(form)?;
    // Only a call's progress needs its leg; the URL names it when we gave it to Twilio.
    let leg = match callback {
        Callback::Call(_) => form.leg()?,
        Callback::Conference(_) | Callback::Recording(_) => None,
    };
    core::apply(state, &call, leg, &callback, form.payload()).await?;
    Ok(Json(json!({})))
}
