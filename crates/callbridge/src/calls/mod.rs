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

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Every call route; merged into the application by `http::router`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start::phone_to_phone))
        .routes(routes!(start::call_start))
        .routes(routes!(read::list))
        .routes(routes!(read::detail))
        .routes(routes!(live::events))
        .routes(routes!(hangup::hangup))
}
