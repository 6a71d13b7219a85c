//! `GET /calls/{id}/recording`: a call's recording, streamed from Twilio with the account's
//! credentials, so that a page can play it without ever holding them.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::AuthAgent;
use crate::calls::view;
use crate::domain::CallId;
use crate::http::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Download {
    /// Any value: answer as a file to save rather than to play.
    download: Option<String>,
}

/// A call's recording (MP3), streamed from Twilio.
#[utoipa::path(get, path = "/calls/{id}/recording", tag = crate::http::openapi::CALLS_TAG,
    security(("callToken" = [])),
    params(("id" = CallId, Path, description = "The call's id."), Download),
    responses(
        (status = 200, description = "The audio.", content_type = "audio/mpeg", body = String),
        (status = 404, description = "No such call of this agent's, or it has no recording (yet).", body = ErrorBody),
        (status = 502, description = "Twilio did not hand the recording over.", body = ErrorBody),
    ))]
pub(super) async fn recording(
    State(state): State<AppState>,
    AuthAgent(agent): AuthAgent,
    Path(id): Path<String>,
    Query(download): Query<Download>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound("call not found".into());
    let id: CallId = id.parse().map_err(|_| not_found())?;
    match state.store.call_by_id(id).await? {
        Some(call) if call.agent_id == agent.id => {}
        _ => return Err(not_found()),
    }
    let view = view::load(state.store.as_ref(), id).await?;
    let recording = view
        .recording
        .filter(|r| r.status == "completed")
        .ok_or_else(|| ApiError::NotFound("this call has no recording yet".into()))?;
    let audio = state
        .twilio
        .recording_audio(&recording.sid)
        .await
        .map_err(|e| ApiError::Upstream {
            message: format!("Twilio did not hand the recording over: {e}"),
            twilio_code: e.code(),
        })?;
    let length = audio.headers().get(CONTENT_LENGTH).cloned();
    let disposition = if download.download.is_some() {
        format!("attachment; filename=\"call-{id}.mp3\"")
    } else {
        "inline".to_owned()
    };
    let mut response = (
        [
            (CONTENT_TYPE, "audio/mpeg".to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(audio.bytes_stream()),
    )
        .into_response();
    if let Some(length) = length {
        response.headers_mut().insert(CONTENT_LENGTH, length);
    }
    Ok(response)
}
