//! The call control routes: hold, mute, transfer (and its completion or cancellation), add and
//! remove a party. Each answers 202 with the call as it is when Twilio was asked; what Twilio
//! confirms follows in the call's events and parties, live on `/calls/{id}/events`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::start::lenient_bool;
use crate::auth::AuthAgent;
use crate::calls::CallError;
use crate::calls::control::{self, AddParty, Hold, Mute, Party, Transfer, TransferMode};
use crate::calls::view::CallView;
use crate::domain::CallId;
use crate::http::openapi::CALLS_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, Success, SuccessBody, success};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct HoldBody {
    /// `customer` or `agent` (or `third`).
    #[schema(required = true)]
    pub party: Option<Party>,
    /// `true` puts the party on hold (they hear the hold music), `false` takes them off it.
    #[serde(default, deserialize_with = "lenient_bool")]
    #[schema(required = true, value_type = bool)]
    pub hold: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MuteBody {
    /// `customer` or `agent` (or `third`).
    #[schema(required = true)]
    pub party: Option<Party>,
    #[serde(default, deserialize_with = "lenient_bool")]
    #[schema(required = true, value_type = bool)]
    pub muted: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferBody {
    /// A number in E.164, or the email of another agent (rung in their default mode).
    #[schema(required = true, value_type = String, example = "+14155550199")]
    pub to: Option<String>,
    /// `cold`: the target takes the call once they answer; `warm`: the agent talks with them
    /// first (the customer on hold), then completes or cancels. Defaults to `cold`.
    pub mode: Option<TransferMode>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddPartyBody {
    /// The third party's number in E.164.
    #[schema(required = true, value_type = String, example = "+14155550199")]
    pub to: Option<String>,
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, CallError> {
    value.ok_or_else(|| CallError::Invalid(format!("{field} is required")))
}

fn accepted(message: &str, view: CallView) -> Success<CallView> {
    success(message, view).with_status(StatusCode::ACCEPTED)
}

/// Put a party on hold, or take them off it.
///
/// The held party hears the hold music (`HOLD_MUSIC_URL`) and stays in the conference, so the
/// customer hanging up while held still ends the call.
#[utoipa::path(
    post,
    path = "/calls/{id}/hold",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    request_body = HoldBody,
    params(("id" = CallId, Path, description = "The call's id.")),
    responses(
        (status = 202, description = "Twilio is being asked; `parties` shows the hold once Twilio confirms it.", body = SuccessBody<CallView>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 409, description = "The call is not connected, has ended, the party is not on it, or a transfer is under way.", body = ErrorBody),
    )
)]
pub(super) async fn hold(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<HoldBody>,
) -> Result<Success<CallView>, ApiError> {
    let request = Hold {
        party: required(body.party, "party")?,
        hold: required(body.hold, "hold")?,
    };
    let view = control::hold(&state, &agent.0, &id, request).await?;
    Ok(accepted(
        if request.hold {
            "Holding"
        } else {
            "Taking off hold"
        },
        view,
    ))
}

/// Mute or unmute a party.
#[utoipa::path(
    post,
    path = "/calls/{id}/mute",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    request_body = MuteBody,
    params(("id" = CallId, Path, description = "The call's id.")),
    responses(
        (status = 202, description = "Twilio is being asked; `parties` shows it once Twilio confirms it.", body = SuccessBody<CallView>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 409, description = "The call is not connected, has ended, or the party is not on it.", body = ErrorBody),
    )
)]
pub(super) async fn mute(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<MuteBody>,
) -> Result<Success<CallView>, ApiError> {
    let request = Mute {
        party: required(body.party, "party")?,
        muted: required(body.muted, "muted")?,
    };
    let view = control::mute(&state, &agent.0, &id, request).await?;
    Ok(accepted(
        if request.muted { "Muting" } else { "Unmuting" },
        view,
    ))
}

/// Transfer the call to a number or to another agent.
///
/// The target is dialled into the conference. Cold: the customer and the agent wait on hold, and
/// the agent leaves once the target answers. Warm: the customer waits on hold while the agent
/// talks with the target; then `/transfer/complete` or `/transfer/cancel`. A target who is busy
/// or does not answer brings the agent back, with a `transfer-failed` event saying why.
#[utoipa::path(
    post,
    path = "/calls/{id}/transfer",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    request_body = TransferBody,
    params(("id" = CallId, Path, description = "The call's id.")),
    responses(
        (status = 202, description = "The target is being dialled.", body = SuccessBody<CallView>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 409, description = "The call is not connected, has ended, or has a transfer or a third party already.", body = ErrorBody),
        (status = 422, description = "The destination policy refuses the number, or the email is no agent who takes calls.", body = ErrorBody),
        (status = 429, description = "Too many calls by this agent; see Retry-After.", body = ErrorBody),
    )
)]
pub(super) async fn transfer(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<TransferBody>,
) -> Result<Success<CallView>, ApiError> {
    let request = Transfer {
        to: required(body.to, "to")?,
        mode: body.mode.unwrap_or(TransferMode::Cold),
    };
    let view = control::transfer(&state, &agent.0, &id, request).await?;
    Ok(accepted("Transferring", view))
}

/// Complete a warm transfer: the agent leaves, the customer is taken off hold.
#[utoipa::path(
    post,
    path = "/calls/{id}/transfer/complete",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    params(("id" = CallId, Path, description = "The call's id.")),
    responses(
        (status = 202, description = "The call is being handed over.", body = SuccessBody<CallView>),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 409, description = "No warm transfer is under way, or its target has not answered.", body = ErrorBody),
    )
)]
pub(super) async fn complete_transfer(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path(id): Path<String>,
) -> Result<Success<CallView>, ApiError> {
    let view = control::complete_transfer(&state, &agent.0, &id).await?;
    Ok(accepted("Handing the call over", view))
}

/// Cancel a transfer: the target leaves, the customer (and the agent) are taken off hold.
#[utoipa::path(
    post,
    path = "/calls/{id}/transfer/cancel",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    params(("id" = CallId, Path, description = "The call's id.")),
    responses(
        (status = 202, description = "The target is being hung up.", body = SuccessBody<CallView>),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 409, description = "No transfer is under way.", body = ErrorBody),
    )
)]
pub(super) async fn cancel_transfer(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path(id): Path<String>,
) -> Result<Success<CallView>, ApiError> {
    let view = control::cancel_transfer(&state, &agent.0, &id).await?;
    Ok(accepted("Canceling the transfer", view))
}

/// Add a third party to the call.
#[utoipa::path(
    post,
    path = "/calls/{id}/participants",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    request_body = AddPartyBody,
    params(("id" = CallId, Path, description = "The call's id.")),
    responses(
        (status = 202, description = "The third party is being dialled; they join as `third`.", body = SuccessBody<CallView>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 409, description = "The call is not connected, has ended, or has a transfer or a third party already.", body = ErrorBody),
        (status = 422, description = "The destination policy refuses the number.", body = ErrorBody),
        (status = 429, description = "Too many calls by this agent; see Retry-After.", body = ErrorBody),
    )
)]
pub(super) async fn add_party(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<AddPartyBody>,
) -> Result<Success<CallView>, ApiError> {
    let request = AddParty {
        to: required(body.to, "to")?,
    };
    let view = control::add_party(&state, &agent.0, &id, request).await?;
    Ok(accepted("Adding a party", view))
}

/// Remove the third party from the call.
#[utoipa::path(
    delete,
    path = "/calls/{id}/participants/{label}",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    params(
        ("id" = CallId, Path, description = "The call's id."),
        ("label" = String, Path, description = "The party: `third` (the agent and the customer leave by hanging up)."),
    ),
    responses(
        (status = 202, description = "The party is being hung up.", body = SuccessBody<CallView>),
        (status = 400, description = "No party has that label.", body = ErrorBody),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 409, description = "The call is not connected, has ended, has no third party, or a transfer is under way.", body = ErrorBody),
    )
)]
pub(super) async fn remove_party(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path((id, label)): Path<(String, String)>,
) -> Result<Success<CallView>, ApiError> {
    let view = control::remove_party(&state, &agent.0, &id, &label).await?;
    Ok(accepted("Removing the party", view))
}
