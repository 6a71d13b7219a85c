//! `GET /airtable/campaigns/{id}/events`: a campaign's progress as Server-Sent Events. A
//! campaign's progress is spread over its items, sessions and calls, which no one event
//! announces, so the stream reads it again every poll interval and sends it when it changed.
//! Each frame's id is a digest of what it says: a client reconnecting with `Last-Event-ID` is
//! sent nothing until the progress differs from what it last got.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::full_view;
use crate::airtable::api::configured;
use crate::auth::{authenticate, bearer_token};
use crate::http::openapi::AIRTABLE_TAG;
use crate::http::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::CampaignStatus;

/// The frame kind of a campaign's progress.
pub const PROGRESS_KIND: &str = "progress";
const ERROR_KIND: &str = "error";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// The call token, for a browser's EventSource, which cannot send headers.
    token: Option<String>,
}

/// The first 16 hex digits of the progress's SHA-256: enough to tell two states apart.
fn digest(json: &str) -> String {
    Sha256::digest(json.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Follow {
    state: AppState,
    token: String,
    id: String,
    last: Option<String>,
    every: Duration,
    done: bool,
}

impl Follow {
    /// The next frame: the progress once it differs from the last sent, or why the stream
    /// ends. `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        loop {
            let agent = match authenticate(&self.state, &self.token).await {
                Ok(agent) => agent,
                Err(err) if err.is_refusal() => return Some(self.error(&err.into())),
                Err(err) => {
                    tracing::warn!(%err, "campaign stream cannot re-check its token");
                    tokio::time::sleep(self.every).await;
                    continue;
                }
            };
            let found = super::visible_campaign(self.state.store.as_ref(), &agent, &self.id).await;
            let (campaign, creator) = match found {
                Ok(found) => found,
                Err(err) => return Some(self.error(&err.into())),
            };
            match full_view(&self.state, &campaign, &creator).await {
                Ok(view) => {
                    let json = serde_json::to_string(&view).unwrap_or_default();
                    let id = digest(&json);
                    let ended = matches!(
                        view.status,
                        CampaignStatus::Completed | CampaignStatus::Canceled
                    );
                    if self.last.as_deref() != Some(id.as_str()) {
                        self.last = Some(id.clone());
                        self.done = ended;
                        return Some(Event::default().event(PROGRESS_KIND).id(id).data(json));
                    }
                    if ended {
                        return None;
                    }
                }
                Err(err) => tracing::warn!(%err, "campaign stream cannot read the campaign"),
            }
            tokio::time::sleep(self.every).await;
        }
    }

    fn error(&mut self, err: &ApiError) -> Event {
        self.done = true;
        let body =
            serde_json::json!({"status": "error", "message": err.to_string(), "code": err.code()});
        Event::default().event(ERROR_KIND).data(body.to_string())
    }
}

/// Follow a campaign's progress, as Server-Sent Events.
///
/// Frames: `progress` (data: the campaign as `GET /airtable/campaigns/{id}` shows it; id: a
/// digest of it) whenever it changed; the stream ends after the frame of a completed or
/// canceled campaign. `error` (data: an `ErrorBody`) is the last frame of a stream whose token
/// stopped holding. Reconnecting with `Last-Event-ID` sends nothing until the progress differs
/// from that frame's.
#[utoipa::path(
    get,
    path = "/airtable/campaigns/{id}/events",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(
        ("id" = String, Path, description = "The campaign's id."),
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last frame received."),
        StreamParams,
    ),
    responses(
        (status = 200, description = "The stream.", content_type = "text/event-stream", body = String),
        (status = 401, description = "No call token.", body = ErrorBody),
        (status = 404, description = "No such campaign of this agent's, or the Airtable integration is off.", body = ErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<StreamParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let airtable = configured(&state)?;
    let token = bearer_token(&headers)
        .or(params.token.as_deref())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "Missing call token: send it as Authorization: Bearer <token> or ?token=".into(),
            )
        })?
        .to_owned();
    let agent = authenticate(&state, &token).await?;
    super::visible_campaign(state.store.as_ref(), &agent, &id).await?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let follow = Follow {
        every: airtable.tuning.poll_interval,
        state: state.clone(),
        token,
        id,
        last,
        done: false,
    };
    let frames = futures::stream::unfold(follow, |mut follow| async move {
        let frame = follow.next().await?;
        Some((Ok(frame), follow))
    });
    Ok(Sse::new(frames).keep_alive(KeepAlive::default()))
}
