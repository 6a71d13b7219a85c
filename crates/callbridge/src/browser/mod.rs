//! Browser agents: the Voice SDK token a browser connects with, and the SDK itself. The calls a
//! browser places arrive as Twilio webhooks (`webhooks::browser`).

mod sdk;
mod token;

use axum::Router;
use axum::routing::get;

use crate::config::VENDORED_VOICE_SDK_PATH;
use crate::state::AppState;

pub use token::missing_settings;

pub const TOKEN_PATH: &str = "/browser/token";
pub const VOICE_PATH: &str = "/browser/voice";
pub const STATUS_PATH: &str = "/browser/status";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(TOKEN_PATH, get(token::token))
        .route(VENDORED_VOICE_SDK_PATH, get(sdk::script))
        .route(sdk::LICENSE_PATH, get(sdk::license))
}
