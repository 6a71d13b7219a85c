use callbridge::store::testing::TestDatabase;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_on, spawn_app_with_store};

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_ready_on_every_backend() {
    for db in TestDatabase::all().await {
        let backend = db.backend();
        let app = spawn_app_on(db).await;
        let response = app.get("/readyz").await;
        assert_eq!(response.status(), 200, "{backend:?}");
        app.stop().await;
    }
}

#[tokio::test]
async fn readyz_is_503_in_the_error_envelope_when_the_database_is_gone() {
    let store = callbridge::store::testing::open("sqlite::memory:")
        .await
        .unwrap();
    store.close().await;
    let app = spawn_app_with_store(store).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["code"], 503);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("database unavailable")
    );
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = spawn_app().await;
    let generated = app.get("/healthz").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let echoed = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "from-the-load-balancer")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "from-the-load-balancer");
}

#[tokio::test]
async fn unknown_paths_get_a_404_envelope() {
    let app = spawn_app().await;
    let response = app.get("/nope").await;
    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    insta::assert_json_snapshot!(body, @r#"
    {
      "code": 404,
      "message": "no route for GET /nope",
      "status": "error"
    }
    "#);
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_count_requests_by_route() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with(callbridge::metrics::HTTP_REQUESTS) && l.contains("route=\"/healthz\"")
        })
        .unwrap_or_else(|| panic!("no healthz counter in:\n{text}"));
    assert!(line.contains("status=\"200\""), "{line}");
    // A histogram, not a summary: buckets aggregate across instances, quantiles do not.
    let bucket = format!("{}_bucket{{", callbridge::metrics::HTTP_DURATION);
    let buckets: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(&bucket) && l.contains("route=\"/healthz\""))
        .collect();
    assert!(
        buckets.iter().any(|l| l.contains("le=\"0.005\""))
            && buckets.iter().any(|l| l.contains("le=\"+Inf\"")),
        "no latency buckets for /healthz in:\n{text}"
    );
    assert!(!text.contains("quantile="), "{text}");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/healthz", app.address))
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}
