//! Agent onboarding, the seed's setup endpoints: verify an email, then a phone, and get a call
//! token; or both at once with the seed's later one-step form.
//!
//! Every step checks its input and its rate limits before it talks to Twilio or writes
//! anything, so bad input and floods change nothing. The steps answer with [`SetupError`]; the
//! handlers (the functions with `#[utoipa::path]`) only read the request and word the reply.

pub(crate) mod email;
mod error;
mod input;
mod me;
mod one_step;
mod otp;
pub(crate) mod phone;
mod replies;
mod sync;
mod verify;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use error::SetupError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(email::init))
        .routes(routes!(email::validate))
        .routes(routes!(phone::init))
        .routes(routes!(phone::validate))
        .routes(routes!(one_step::init))
        .routes(routes!(one_step::validate))
        .routes(routes!(me::me, me::update))
}
