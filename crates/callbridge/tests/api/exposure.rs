//! What the service shows and keeps: `/metrics` only where it is meant to be, answers no cache
//! keeps or browser sniffs, and a database file only its owner can read.

use callbridge::store::testing::TestDatabase;
use serde_json::json;

use crate::helpers::{expect_error, expect_success, spawn_app, spawn_app_on, spawn_app_with};

#[tokio::test]
async fn the_public_listener_keeps_metrics_to_the_metrics_listener() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
        raw.metrics_bind = Some("127.0.0.1:0".into());
    })
    .await;
    let (status, body) = expect_error(app.get("/metrics").await).await;
    assert_eq!(status, 404, "{body}");

    // Without a listener of their own, the metrics stay on the public one.
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics").await.status(), 200);
}

#[tokio::test]
async fn every_answer_is_nosniff_and_no_store() {
    let app = spawn_app().await;
    let email = "ada@example.com";
    expect_success(
        app.post_json("/setup/email/init", &json!({"email": email}))
            .await,
    )
    .await;
    let code = app.sim_otp(email).await;
    // This answer carries a setup token.
    let with_token = app
        .post_json(
            "/setup/email/validate",
            &json!({"email": email, "code": code}),
        )
        .await;
    let healthz = app.get("/healthz").await;
    let not_found = app.get("/no/such/route").await;
    let refused = app.get("/setup/me").await;
    for response in [with_token, healthz, not_found, refused] {
        let url = response.url().path().to_owned();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(headers["cache-control"], "no-store", "{url}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_database_and_its_wal_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let db = TestDatabase::sqlite();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let app = spawn_app_on(db).await;
    // A write, so that the -wal and -shm files exist while the pool is open.
    let email = "ada@example.com";
    expect_success(
        app.post_json("/setup/email/init", &json!({"email": email}))
            .await,
    )
    .await;
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} is {:o}", mode & 0o777);
    }
}
