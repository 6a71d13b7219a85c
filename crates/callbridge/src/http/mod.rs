//! The HTTP surface: one `router()` per module, merged here under shared middleware.

mod client_ip;
mod envelope;
mod error;
mod json_or_form;
pub(crate) mod openapi;
pub mod ops;
mod rejections;
mod serve;

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

pub use crate::patience::{last_try, patiently, patiently_until};
pub use envelope::{Success, SuccessBody, success};
pub use error::{ApiError, ErrorBody};
pub use json_or_form::JsonOrForm;
pub use serve::{ConnectionLimits, serve};

use crate::state::AppState;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
pub const TWILIO_SIGNATURE_HEADER: HeaderName = HeaderName::from_static("x-twilio-signature");

/// Webhooks and API bodies are a few KiB.
const BODY_LIMIT_BYTES: usize = 256 * 1024;
const BODY_TOO_LARGE: &str = "the body is larger than 256 KiB";

/// The whole application. Modules add their own `router()` here.
pub fn router(state: AppState) -> Router {
    // With a metrics listener of its own, the public one keeps the metrics to itself.
    let serve_metrics = state.settings.metrics_bind.is_none();
    let webhooks_at_once = webhooks_at_once(state.store.as_ref());
    let (app, _) = openapi::publish(routes(serve_metrics, webhooks_at_once));
    let app = app
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::web::cookie_sessions,
        ))
        .layer(middleware::from_fn(crate::metrics::track));
    let timeout = state.settings.timeouts.request;
    with_common_layers(app.with_state(state), timeout)
}

fn routes(serve_metrics: bool, webhooks_at_once: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(ops::router(serve_metrics))
        .merge(crate::setup::router())
        .merge(crate::calls::router())
        .merge(crate::browser::router())
        .merge(crate::webhooks::router(webhooks_at_once))
        .merge(crate::airtable::router())
        .merge(crate::web::router())
}

/// The document `GET /openapi.json` answers, for the `openapi` command; it does not depend on
/// the settings.
pub fn openapi_document() -> String {
    let (_, published) = openapi::publish(routes(true, 1));
    published.json().to_owned()
}

/// PostgreSQL: as many webhooks at once as the pool has connections (see `webhooks::router`).
/// SQLite queues its writers on its own lock, and a second queue in front of it made a burst of
/// 200 calls' webhooks time out instead (measured with the 200-call test): no limit there.
fn webhooks_at_once(store: &dyn crate::store::Store) -> usize {
    match store.backend() {
        crate::store::Backend::Postgres => usize::try_from(store.connections()).unwrap_or(1),
        crate::store::Backend::Sqlite => tokio::sync::Semaphore::MAX_PERMITS,
    }
}

/// The separate metrics listener's app.
pub fn metrics_router(state: AppState) -> Router {
    let timeout = state.settings.timeouts.request;
    with_common_layers(
        ops::metrics_router()
            .split_for_parts()
            .0
            .fallback(not_found)
            .with_state(state),
        timeout,
    )
}

fn with_common_layers(app: Router, request_timeout: Duration) -> Router {
    // Outermost first: secrets are marked before anything can log them, and the request id
    // exists before the trace span that records it.
    app.layer(
        ServiceBuilder::new()
            // On every answer, errors and fallbacks included. Answers carry tokens and agents'
            // details, so no cache (a proxy's or the browser's) may keep one.
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(SetSensitiveRequestHeadersLayer::new([
                header::AUTHORIZATION,
                header::COOKIE,
                TWILIO_SIGNATURE_HEADER,
            ]))
            .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    // The path only: query strings may carry tokens.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    )
                }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
            // Outside of everything that answers on its own (the router's 405, the body limit,
            // the timeout, a panic), so that those answers get the envelope too.
            .layer(middleware::from_fn(rejections::in_the_envelope))
            .layer(CatchPanicLayer::new())
            .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::GATEWAY_TIMEOUT,
                request_timeout,
            )),
    )
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}
