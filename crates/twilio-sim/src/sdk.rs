//! What a web page needs to use the simulator in place of Twilio's Voice SDK backend: the SDK
//! script (`/sim/voice-sdk.js`), CORS on the device routes, the check that a page acts only for
//! the device whose token it holds, and each device's stream of events (Server-Sent Events).

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tower_http::cors::{Any, CorsLayer};

use crate::devices::{self, DeviceError, DeviceEvent};
use crate::state::Shared;

const SCRIPT: &str = include_str!("voice-sdk.js");

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/voice-sdk.js", get(script))
        .route("/devices/{id}/events", get(events))
}

/// Pages of any origin load the SDK and call the device routes; `Authorization` is not covered by
/// a wildcard, so it is named.
pub(crate) fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600))
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Browsers send `Origin` with every cross-origin request, so a request that has one comes from a
/// page, which must show the device's token (`Authorization: Bearer`). Requests without it are the
/// control API's callers (tests, tools), which have no auth.
pub(crate) fn check_page(
    shared: &Shared,
    headers: &HeaderMap,
    id: &str,
) -> Result<(), DeviceError> {
    if !headers.contains_key(header::ORIGIN) {
        return Ok(());
    }
    devices::holds_token(shared, id, bearer(headers).unwrap_or_default())
}

#[derive(Deserialize)]
struct TokenQuery {
    /// `EventSource` cannot send headers, so the stream takes the token in its query.
    token: Option<String>,
}

/// The device's events, from now on, as the signaling connection would carry them. The first
/// is `connected` with the token's remaining lifetime (`ttl`, seconds), from which the SDK times
/// `tokenWillExpire`. When the token runs out, the simulator tells the device (31205) at once.
async fn events(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    let jwt = q.token.as_deref().or_else(|| bearer(&headers));
    if let Err(e) = devices::holds_token(&shared, &id, jwt.unwrap_or_default()) {
        return crate::control::device_problem(&e);
    }
    // Subscribed before the snapshot below, so nothing that happens in between is missed.
    let rx = shared.device_events.subscribe();
    let (Some((device, _)), Some(ttl)) =
        (devices::get(&shared, &id), devices::token_ttl(&shared, &id))
    else {
        return crate::control::device_problem(&DeviceError {
            code: 0,
            message: format!("no device {id}"),
            conflict: false,
        });
    };
    let hello = json!({"event": "connected", "identity": device.identity, "ttl": ttl});
    let feed = Feed {
        expiry: token_runs_out(&shared, &id),
        shutdown: shared.shutdown.clone(),
        shared,
        id,
        rx,
    };
    Sse::new(feed.stream(hello))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

struct Feed {
    shared: Arc<Shared>,
    id: String,
    rx: broadcast::Receiver<DeviceEvent>,
    expiry: Option<Instant>,
    shutdown: watch::Receiver<bool>,
}

/// When the device's token runs out, on the simulator's (possibly advanced) wall clock.
fn token_runs_out(shared: &Shared, id: &str) -> Option<Instant> {
    let ttl = devices::token_ttl(shared, id)?;
    Some(Instant::now() + Duration::from_secs(u64::try_from(ttl).unwrap_or(0)))
}

fn sse(data: &Value) -> Result<Event, Infallible> {
    Ok(Event::default().data(data.to_string()))
}

impl Feed {
    fn stream(self, hello: Value) -> impl Stream<Item = Result<Event, Infallible>> {
        let first = futures::stream::once(async move { sse(&hello) });
        let rest = futures::stream::unfold(Some(self), |feed| async move {
            let mut feed = feed?;
            let message = feed.next().await?;
            let gone = devices::get(&feed.shared, &feed.id).is_none();
            Some((sse(&message), (!gone).then_some(feed)))
        });
        futures::StreamExt::chain(first, rest)
    }

    /// The next message for the page; `None` when the simulator stops.
    async fn next(&mut self) -> Option<Value> {
        loop {
            let expiry = self.expiry;
            let timer = async move {
                match expiry {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let stopping = async {
                let _ = self.shutdown.wait_for(|s| *s).await;
            };
            let received = tokio::select! {
                received = self.rx.recv() => received,
                () = pin!(timer) => {
                    self.expiry = None;
                    devices::expire(&self.shared, &self.id);
                    continue;
                }
                () = stopping => return None,
            };
            match received {
                Ok(e) if e.device == self.id => {
                    if e.event == "token-updated" {
                        self.expiry = token_runs_out(&self.shared, &self.id);
                    }
                    return Some(self.message(&e));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// An incoming call carries what the SDK shows in `call.parameters` and `customParameters`.
    fn message(&self, e: &DeviceEvent) -> Value {
        let mut m = json!({"event": e.event, "call_sid": e.call_sid, "code": e.code});
        if e.event == "incoming"
            && let Some((_, calls)) = devices::get(&self.shared, &self.id)
            && let Some(c) = calls
                .iter()
                .find(|c| Some(&c.call_sid) == e.call_sid.as_ref())
        {
            m["from"] = json!(c.from);
            m["to"] = json!(c.to);
            m["params"] = json!(c.params);
            m["account_sid"] = json!(self.shared.config.account_sid);
        }
        m
    }
}
