//! `POST /calls/{id}/hangup`.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::auth::AuthAgent;
use crate::calls::hangup::hang_up;
use crate::calls::view::CallView;
use crate::domain::CallId;
use crate::http::openapi::CALLS_TAG;
use crate::http::{ApiError, ErrorBody, Success, SuccessBody, success};
use crate::state::AppState;

/// Hang up: end the conference, or each live leg before there is one.
///
/// The call's final state follows from Twilio's callbacks; when Twilio says the legs are
/// already gone, the call is finalised from what Twilio reports.
#[utoipa::path(
    post,
    path = "/calls/{id}/hangup",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    params(("id" = CallId, Path, description = "The call's id.")),
    responses(
        (status = 202, description = "Twilio was asked to end the call; the call as it is now.", body = SuccessBody<CallView>),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 409, description = "The call already ended.", body = ErrorBody),
        (status = 502, description = "Twilio failed.", body = ErrorBody),
    )
)]
pub(super) async fn hangup(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path(id): Path<String>,
) -> Result<Success<CallView>, ApiError> {
    let view = hang_up(&state, &agent.0, &id).await?;
    Ok(success("Hanging up", view).with_status(StatusCode::ACCEPTED))
}
