//! The Twilio-facing routes. Every request must be signed by Twilio (see [`signed`]); the call
//! flow behind them lives in `crate::calls`.

mod browser;
mod callback;
mod dial;
pub mod signed;
mod status;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use tokio::sync::Semaphore;
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::calls::twiml::{
    CONFERENCE_STATUS_PATH, CONFERENCE_TWIML_PATH, DIAL_RECIPIENT_PATH, RECORDING_STATUS_PATH,
    STATUS_PATH,
};
use crate::state::AppState;

/// `at_once`: how many webhooks are handled at the same time, at most; the rest wait their turn
/// in arrival order. On a pool of connections, past its size a burst of callbacks (Twilio sends
/// each call's on its own) would time out in the pool's queue and try again at its back, and
/// fewer would get through.
pub fn router(at_once: usize) -> Router<AppState> {
    let turns = Arc::new(Semaphore::new(at_once.max(1)));
    Router::new()
        .route(DIAL_RECIPIENT_PATH, post(dial::dial_recipient))
        .route(CONFERENCE_TWIML_PATH, post(dial::conference_twiml))
        .route(STATUS_PATH, post(status::status))
        .route(CONFERENCE_STATUS_PATH, post(status::status))
        .route(RECORDING_STATUS_PATH, post(status::status))
        .route(crate::browser::VOICE_PATH, post(browser::voice))
        .route(crate::browser::STATUS_PATH, post(browser::status))
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(turns))
}
