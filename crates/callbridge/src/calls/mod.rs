//! Calls: starting one and driving it through its flow, the JSON view of a call, the call log,
//! its live stream and hangup.

pub(crate) mod advance;
mod agent_leg;
pub(crate) mod browser;
pub(crate) mod effects;
pub(crate) mod flow;
mod hangup;
pub mod live;
mod live_relay;
pub use live_relay::run as run_live_relay;
pub(crate) mod outcome;
pub(crate) mod progress;
pub(crate) mod read;
pub(crate) mod reconcile;
pub mod start;
mod starting;
pub(crate) mod twiml;
pub mod view;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Every call route; merged into the application by `http::router`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/phone-to-phone/start", post(start::phone_to_phone))
        .route("/call/start", post(start::call_start))
        .route("/calls", get(read::list))
        .route("/calls/{id}", get(read::detail))
        .route("/calls/{id}/events", get(live::events))
        .route("/calls/{id}/hangup", post(hangup::hangup))
}
