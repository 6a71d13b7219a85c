//! The fake's HTTP side: the gatekeeping every request passes (token, base, rate limit, injected
//! failures, the request log) and the record endpoints.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, Request, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::any,
};
use rand::Rng as _;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{LoggedRequest, Shared, store::Refusal};

/// Bodies larger than this are refused; Airtable's own limit is far below it.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v0/{base}/{table}", any(table_endpoint))
        .route("/v0/{base}/{table}/{record}", any(record_endpoint))
        .fallback(|| async { refuse(&Refusal::not_found()) })
        .layer(middleware::from_fn_with_state(shared.clone(), gatekeeper))
        .with_state(shared)
}

fn refuse(refusal: &Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(refusal.body.clone())).into_response()
}

/// Runs before every endpoint, in the order Airtable's checks appear to a client: who is
/// asking, for which base, whether the base is over its rate, and then (when asked for) a
/// random failure. Every request is logged with the status it got.
async fn gatekeeper(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .unwrap_or_default();
    let early = early_refusal(&shared, &parts.headers, &parts.uri, arrived);
    let response = match early {
        Some(refusal) => refuse(&refusal),
        None => {
            next.run(Request::from_parts(
                parts.clone(),
                Body::from(bytes.clone()),
            ))
            .await
        }
    };
    let entry = LoggedRequest {
        at: arrived - shared.started,
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
        body: logged_body(&bytes),
        status: response.status().as_u16(),
    };
    shared.lock().log.push(entry);
    response
}

fn early_refusal(shared: &Shared, headers: &HeaderMap, uri: &Uri, now: Instant) -> Option<Refusal> {
    let expected = format!("Bearer {}", shared.config.token);
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if !authorized {
        return Some(Refusal::typed(
            401,
            "AUTHENTICATION_REQUIRED",
            "Authentication required",
        ));
    }
    let mut segments = uri.path().trim_start_matches('/').split('/');
    let is_api = segments.next() == Some("v0");
    if is_api && segments.next() != Some(shared.config.base_id.as_str()) {
        return Some(Refusal::model_not_found());
    }
    let mut state = shared.lock();
    let limit = usize::try_from(shared.config.rate_limit).unwrap_or(usize::MAX);
    if state.window.arrive(now, limit, shared.config.lockout) {
        return Some(Refusal::rate_limited());
    }
    let fail_rate = state.fail_rate;
    if fail_rate > 0.0 && state.rng.random_bool(fail_rate.min(1.0)) {
        return Some(if state.rng.random_bool(0.5) {
            Refusal::rate_limited()
        } else {
            Refusal::typed(
                503,
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable",
            )
        });
    }
    None
}

fn logged_body(bytes: &Bytes) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
    )
}

async fn table_endpoint(
    State(shared): State<Arc<Shared>>,
    Path((_base, table)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = shared.lock();
    let Some(table) = state.tables.get_mut(&table) else {
        return refuse(&Refusal::model_not_found());
    };
    let result = match method {
        Method::GET => super::store::ListQuery::parse(uri.query())
            .and_then(|query| table.list(&query))
            .map(|page| json!(page)),
        Method::PATCH => json_body(&headers, &body)
            .and_then(|body| table.update(&body))
            .map(|records| json!({ "records": records })),
        _ => Err(Refusal::not_found()),
    };
    match result {
        Ok(_) if method == Method::PATCH && state.garble_write_answers => (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>OK</body></html>",
        )
            .into_response(),
        Ok(answer) => Json(answer).into_response(),
        Err(refusal) => refuse(&refusal),
    }
}

async fn record_endpoint(
    State(shared): State<Arc<Shared>>,
    Path((_base, table, record)): Path<(String, String, String)>,
    method: Method,
) -> Response {
    let state = shared.lock();
    let Some(table) = state.tables.get(&table) else {
        return refuse(&Refusal::model_not_found());
    };
    if method != Method::GET {
        return refuse(&Refusal::not_found());
    }
    match table.get(&record) {
        Ok(record) => Json(record).into_response(),
        Err(refusal) => refuse(&refusal),
    }
}

/// Airtable reads write bodies only as JSON.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, Refusal> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(Refusal::typed(
            415,
            "INVALID_REQUEST_UNKNOWN",
            "Content-Type must be application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Refusal::typed(
            400,
            "INVALID_REQUEST_BODY",
            format!("Could not parse the request body as JSON: {e}"),
        )
    })
}
