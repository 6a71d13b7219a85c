//! Prometheus metrics: one process-wide recorder, rendered by `GET /metrics`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "callbridge_http_requests_total";
pub const HTTP_DURATION: &str = "callbridge_http_request_duration_seconds";
/// Setup codes not texted, by `reason`: `destination` (region or kind of line), `budget`
/// (`SMS_PER_HOUR` spent).
pub const SMS_REFUSED: &str = "callbridge_sms_refused_total";
/// Call effects (dial the customer, tell the agent, end a leg) by `kind` and `outcome`:
/// `done`, `retried` (Twilio busy, down or silent), `given_up`.
pub const CALL_EFFECTS: &str = "callbridge_call_effects_total";
/// Time one attempt at a call effect took, Twilio's answer included, by `kind`.
pub const CALL_EFFECT_DURATION: &str = "callbridge_call_effect_duration_seconds";

/// Bucket bounds of every `_seconds` histogram: from a cached read (a millisecond) to a Twilio
/// request that ran into its timeout (ten seconds), so that both ends of a latency show.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often the recorded durations are folded into their histograms' buckets.
const UPKEEP: Duration = Duration::from_secs(5);

/// The recorder keeps every duration recorded until its upkeep folds them into the buckets: with
/// nobody scraping `/metrics`, a busy service would hold one sample per request forever. A thread
/// of its own, so that it outlives any one runtime.
fn keep_up(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP);
                handle.run_upkeep();
            }
        });
    if let Err(err) = started {
        tracing::warn!(%err, "could not start the metrics upkeep; durations pile up until scraped");
    }
}

/// The handle of the global recorder, installing it on first use. Several apps in one test
/// process share it, which is harmless: the `metrics` facade has only one global recorder anyway.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            keep_up(handle.clone());
            handle
        })
        .clone()
}

/// Counts requests and times them, labelled by route template (never the raw path, whose ids
/// would make one series per call).
pub async fn track(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}
