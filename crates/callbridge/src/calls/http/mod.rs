//! The call routes: each handler reads its request into the typed input of a use case in
//! `calls`, and answers with its result; the rules are the use cases'.

mod control;
mod hangup;
mod live;
mod read;
pub mod start;

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
        .routes(routes!(control::hold))
        .routes(routes!(control::mute))
        .routes(routes!(control::transfer))
        .routes(routes!(control::complete_transfer))
        .routes(routes!(control::cancel_transfer))
        .routes(routes!(control::add_party))
        .routes(routes!(control::remove_party))
}
