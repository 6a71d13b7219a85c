//! REST faults, to try a client against a Twilio that is slow or refuses: `Calls.create` may be
//! held back, or answered with an error instead of placing the call.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::rest::ApiError;
use crate::state::Shared;

/// How `POST …/Calls.json` misbehaves. JSON shape of `PUT /sim/faults/calls-create`; the
/// default (no delay, no error) is a healthy Twilio.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallsCreateFault {
    /// The answer is held back this long, in real milliseconds (not scaled by the time scale:
    /// a client's timeouts run in real time). Without `error`, the call is placed once the
    /// delay is over, as when Twilio is slow to accept it.
    pub delay_ms: u64,
    /// Answer with this error (after the delay) instead of placing the call.
    pub error: Option<FaultError>,
    /// Only calls to this number misbehave; others are placed as usual.
    pub to: Option<String>,
    /// Only this many of the calls that match misbehave; Twilio is healthy again after them.
    pub times: Option<u32>,
}

/// A Twilio error answer: HTTP status and Twilio error code, e.g. 429 and 20429.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultError {
    /// HTTP status, 400 to 599.
    pub status: u16,
    /// Twilio's error code.
    pub code: u32,
}

/// Applies the fault, if any, before a call to `to` is placed; `Err` is the answer to give
/// instead.
pub(crate) async fn before_calls_create(shared: &Shared, to: Option<&str>) -> Result<(), ApiError> {
    let Some(fault) = shared.take_calls_create_fault(to) else {
        return Ok(());
    };
    if fault.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault.delay_ms)).await;
    }
    match fault.error {
        None => Ok(()),
        Some(error) => {
            let status =
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = status.canonical_reason().unwrap_or("Simulated failure");
            Err(ApiError::new(status, error.code, message))
        }
    }
}

/// `PUT /sim/faults/calls-create`.
pub(crate) async fn put(
    State(shared): State<Arc<Shared>>,
    Json(fault): Json<CallsCreateFault>,
) -> Response {
    if let Some(error) = &fault.error
        && !(400..=599).contains(&error.status)
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "error.status must be within 400..=599"})),
        )
            .into_response();
    }
    tracing::info!(target: "twilio_sim::control", "Calls.create now behaves as {fault:?}");
    shared.set_calls_create_fault(fault.clone());
    Json(fault).into_response()
}

/// `DELETE /sim/faults/calls-create`: healthy again.
pub(crate) async fn clear(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.set_calls_create_fault(CallsCreateFault::default());
    StatusCode::NO_CONTENT
}
