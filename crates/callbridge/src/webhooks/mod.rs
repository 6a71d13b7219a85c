//! The Twilio-facing routes. Every request must be signed by Twilio (see [`signed`]); the call
//! flow behind them lives in `crate::calls`.

mod callback;
mod dial;
pub mod signed;
mod status;

use axum::Router;
use axum::routing::post;

use crate::calls::twiml::{
    CONFERENCE_STATUS_PATH, CONFERENCE_TWIML_PATH, DIAL_RECIPIENT_PATH, RECORDING_STATUS_PATH,
    STATUS_PATH,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(DIAL_RECIPIENT_PATH, post(dial::dial_recipient))
        .route(CONFERENCE_TWIML_PATH, post(dial::conference_twiml))
        .route(STATUS_PATH, post(status::status))
        .route(CONFERENCE_STATUS_PATH, post(status::status))
        .route(RECORDING_STATUS_PATH, post(status::status))
}
