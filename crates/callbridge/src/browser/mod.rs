//! Browser agents: the Voice SDK token a browser connects with, and the SDK itself. The calls a
//! browser places arrive as Twilio webhooks (`webhooks::browser`).

mod sdk;
mod token;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use token::{TokenError, missing_settings};

pub const TOKEN_PATH: &str = "/browser/token";
pub const VOICE_PATH: &str = "/browser/voice";
pub const STATUS_PATH: &str = "/browser/status";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token::token))
        .routes(routes!(sdk::script))
        .routes(routes!(sdk::license))
}
