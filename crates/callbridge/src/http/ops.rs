//! Operations: liveness, readiness and metrics.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::DATABASE_UNAVAILABLE;
use super::openapi::OPERATIONS_TAG;
use super::{ApiError, ErrorBody};
use crate::state::AppState;

/// Readiness must answer before a load balancer's own probe times out.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness and readiness, and `/metrics` when `serve_metrics` (no listener of its own).
pub fn router(serve_metrics: bool) -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz));
    if serve_metrics {
        router.routes(routes!(metrics))
    } else {
        router
    }
}

/// Only for the metrics listener (`METRICS_BIND`), which serves nothing else.
pub fn metrics_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// `{"status": "ok"}`: the probes' answer, outside the envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

const OK: Health = Health { status: "ok" };

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = OPERATIONS_TAG, responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(OK)
}

/// Readiness: the database takes writes.
///
/// Ready means able to take writes: a database that answers reads but is full or read-only
/// would fail every sign-up and webhook.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = OPERATIONS_TAG,
    responses(
        (status = 200, body = Health),
        (status = 503, description = "The database cannot be written now.", body = ErrorBody),
    )
)]
async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.store.check_writable()).await {
        Ok(Ok(())) => Ok(Json(OK)),
        Ok(Err(err)) => {
            tracing::warn!(%err, "not ready: the database cannot be written");
            Err(ApiError::Unavailable(DATABASE_UNAVAILABLE.into()))
        }
        Err(_) => Err(ApiError::Unavailable(
            "database unavailable: no answer in time".into(),
        )),
    }
}

/// Prometheus metrics (text format), unless they have a listener of their own (`METRICS_BIND`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = OPERATIONS_TAG,
    responses((status = 200, description = "Prometheus text exposition format 0.0.4.", content_type = "text/plain", body = String))
)]
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
