//! Operations: liveness, readiness and metrics.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use super::ApiError;
use super::error::DATABASE_UNAVAILABLE;
use crate::state::AppState;

/// Readiness must answer before a load balancer's own probe times out.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness and readiness, and `/metrics` when `serve_metrics` (no listener of its own).
pub fn router(serve_metrics: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if serve_metrics {
        router.route("/metrics", get(metrics))
    } else {
        router
    }
}

/// Only for the metrics listener (`METRICS_BIND`), which serves nothing else.
pub fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready means able to take writes: a database that answers reads but is full or read-only
/// would fail every sign-up and webhook.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.store.check_writable()).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ok"}))),
        Ok(Err(err)) => {
            tracing::warn!(%err, "not ready: the database cannot be written");
            Err(ApiError::Unavailable(DATABASE_UNAVAILABLE.into()))
        }
        Err(_) => Err(ApiError::Unavailable(
            "database unavailable: no answer in time".into(),
        )),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
