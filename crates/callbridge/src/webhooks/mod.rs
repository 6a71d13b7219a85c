//! The Twilio-facing routes. Every request must be signed by Twilio (see [`signed`]); the call
//! flow behind them lives in `crate::calls`.

mod browser;
mod callback;
mod described;
mod dial;
pub mod signed;
mod status;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tower::limit::GlobalConcurrencyLimitLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// `at_once`: how many webhooks are handled at the same time, at most; the rest wait their turn
/// in arrival order. On a pool of connections, past its size a burst of callbacks (Twilio sends
/// each call's on its own) would time out in the pool's queue and try again at its back, and
/// fewer would get through.
pub fn router(at_once: usize) -> OpenApiRouter<AppState> {
    let turns = Arc::new(Semaphore::new(at_once.max(1)));
    OpenApiRouter::new()
        .routes(routes!(described::dial_recipient))
        .routes(routes!(described::conference_twiml))
        .routes(routes!(described::call_status))
        .routes(routes!(described::conference_status))
        .routes(routes!(described::recording_status))
        .routes(routes!(described::browser_voice))
        .routes(routes!(described::browser_status))
        .routes(routes!(described::hold_music))
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(turns))
}
