//! Agent onboarding, the seed's setup endpoints: verify an email, then a phone, and get a call
//! token; or both at once with the seed's later one-step form.
//!
//! Every step checks its input and its rate limits before it talks to Twilio or writes
//! anything, so bad input and floods change nothing.

mod email;
mod input;
mod me;
mod one_step;
mod otp;
mod phone;
mod sync;
mod verify;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/setup/email/init", post(email::init))
        .route("/setup/email/validate", post(email::validate))
        .route("/setup/phone/init", post(phone::init))
        .route("/setup/phone/validate", post(phone::validate))
        .route("/setup/init", post(one_step::init))
        .route("/setup/validate", post(one_step::validate))
        .route("/setup/me", get(me::me).patch(me::update))
}
