//! `GET /calls/{id}/events`: the call's live frames as Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;

use crate::auth::{authenticate, bearer_token};
use crate::calls::live::{self, ERROR_KIND, EVENT_KIND, Frame, Recheck, STATE_KIND, StateView};
use crate::calls::view::EventView;
use crate::domain::{CallId, EventId};
use crate::http::openapi::CALLS_TAG;
use crate::http::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct StreamParams {
    /// The call token, for a browser's EventSource, which cannot send headers.
    token: Option<String>,
}

/// Follow a call live, as Server-Sent Events.
///
/// Frames: `event` (data: an `EventView`, id: the event's id) for each Twilio callback stored,
/// and `state` (data: a `StateView`) whenever the call's state changes; the stream ends after
/// the `state` frame whose `final` is true. `error` (data: an `ErrorBody`) is the last frame of
/// a stream whose token stopped holding. Reconnecting with `Last-Event-ID` resumes after that
/// event.
#[utoipa::path(
    get,
    path = "/calls/{id}/events",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    params(
        ("id" = CallId, Path, description = "The call's id."),
        ("Last-Event-ID" = Option<EventId>, Header, description = "Resume after this event."),
        StreamParams,
    ),
    responses(
        (status = 200, description = "The stream.", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
        (status = 429, description = "The agent already holds as many streams as an instance allows.", body = ErrorBody),
    )
)]
pub(super) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<StreamParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let token = bearer_token(&headers)
        .or(params.token.as_deref())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "Missing call token: send it as Authorization: Bearer <token> or ?token=".into(),
            )
        })?;
    let agent = authenticate(&state, token).await?;
    // A reconnecting EventSource sends the id of the last event it got.
    let resume_after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<EventId>().ok());
    let watch = TokenWatch {
        every: state.settings.live_token_recheck,
        token: token.to_owned(),
        state: state.clone(),
    };
    let frames = live::open(&state, &agent, &id, resume_after, watch).await?;
    let events = ReceiverStream::new(frames).map(|frame| Ok(event(frame)));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// A stream's token, checked again every `every`.
struct TokenWatch {
    every: Duration,
    token: String,
    state: AppState,
}

impl Recheck for TokenWatch {
    type Refusal = ApiError;

    fn every(&self) -> Duration {
        self.every
    }

    /// Why the token no longer holds, if it does not; a store that cannot answer now is no
    /// reason to end the stream.
    async fn refusal(&self) -> Option<ApiError> {
        match authenticate(&self.state, &self.token).await {
            Err(err) if err.is_refusal() => Some(err.into()),
            Err(err) => {
                tracing::warn!(%err, "live stream cannot re-check its token");
                None
            }
            Ok(_) => None,
        }
    }
}

fn event(frame: Frame<ApiError>) -> Event {
    match frame {
        Frame::Event(event) => event_frame(&event),
        Frame::State(state) => state_frame(&state),
        Frame::Refused(err) => error_frame(&err),
    }
}

fn event_frame(event: &EventView) -> Event {
    Event::default()
        .event(EVENT_KIND)
        .id(event.id.to_string())
        .data(serde_json::to_string(event).unwrap_or_default())
}

fn error_frame(err: &ApiError) -> Event {
    let body =
        serde_json::json!({"status": "error", "message": err.to_string(), "code": err.code()});
    Event::default().event(ERROR_KIND).data(body.to_string())
}

fn state_frame(state: &StateView) -> Event {
    Event::default()
        .event(STATE_KIND)
        .data(serde_json::to_string(state).unwrap_or_default())
}
