//! `callbridge users list|show|revoke`, the built binary against the app's own database, and
//! what revocation does to call tokens.

use std::process::Output;

use serde_json::json;

use crate::helpers::{TestApp, backends, expect_error, expect_success, spawn_app_with};

const BIN: &str = env!("CARGO_BIN_EXE_callbridge");

async fn users(app: &TestApp, args: &[&str]) -> (Output, String, String) {
    let output = tokio::process::Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", app.database_url.as_deref().unwrap())
        .env("USER", "ops")
        .arg("users")
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/setup/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn reverify_phone(app: &TestApp, email: &str, phone: &str) -> String {
    expect_success(
        app.post_json("/setup/email/init", &json!({"email": email}))
            .await,
    )
    .await;
    let code = app.sim_otp(email).await;
    let body = expect_success(
        app.post_json(
            "/setup/email/validate",
            &json!({"email": email, "code": code}),
        )
        .await,
    )
    .await;
    let setup = body["data"]["token"].as_str().unwrap().to_owned();
    expect_success(
        app.post_json(
            "/setup/phone/init",
            &json!({"token": setup, "phone": phone}),
        )
        .await,
    )
    .await;
    let code = app.sim_otp(phone).await;
    let body = expect_success(
        app.post_json(
            "/setup/phone/validate",
            &json!({"token": setup, "phone": phone, "code": code}),
        )
        .await,
    )
    .await;
    body["data"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn list_show_and_revoke_and_a_revoked_token_is_refused_until_the_phone_is_verified_again() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        let token = app.onboard_agent("ada@example.com", "+14155550100").await;
        assert_eq!(me(&app, &token).await.status(), 200);

        let (out, stdout, stderr) = users(&app, &["list"]).await;
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("ada@example.com"), "{stdout}");
        assert!(stdout.contains("+14155550100"), "{stdout}");
        assert!(stdout.contains("active"), "{stdout}");

        let (out, stdout, stderr) = users(&app, &["revoke", "ada@example.com"]).await;
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("revoked ada@example.com"), "{stdout}");

        let (status, body) = expect_error(me(&app, &token).await).await;
        assert_eq!(status, 401);
        assert!(
            body["message"].as_str().unwrap().contains("revoked"),
            "{body}"
        );
        let (status, _) =
            expect_error(app.client.get(app.url("/setup/me")).send().await.unwrap()).await;
        assert_eq!(status, 401, "no token at all");

        let (out, stdout, _) = users(&app, &["show", "ada@example.com"]).await;
        assert!(out.status.success());
        assert!(stdout.contains("revoked"), "{stdout}");
        for kind in ["otp_sent", "verified", "token_issued", "revoked"] {
            assert!(stdout.contains(kind), "{kind} missing from {stdout}");
        }
        assert!(stdout.contains("cli:ops"), "{stdout}");
        assert!(stdout.contains("127.0.0.1"), "{stdout}");

        let fresh = reverify_phone(&app, "ada@example.com", "+14155550100").await;
        assert_eq!(me(&app, &fresh).await.status(), 200);
        assert_eq!(
            me(&app, &token).await.status(),
            401,
            "the old token stays dead"
        );
        let (_, stdout, _) = users(&app, &["list"]).await;
        assert!(stdout.contains("active"), "{stdout}");
        app.stop().await;
    }
}

#[tokio::test]
async fn an_unknown_email_is_a_clear_failure() {
    let app = spawn_app_with(
        callbridge::store::testing::TestDatabase::default_backend().await,
        |_| {},
    )
    .await;
    let (out, _, stderr) = users(&app, &["revoke", "ghost@example.com"]).await;
    assert!(!out.status.success());
    assert!(
        stderr.contains("no agent has the email ghost@example.com"),
        "{stderr}"
    );
    let (out, stdout, _) = users(&app, &["list"]).await;
    assert!(out.status.success());
    assert!(stdout.contains("no agents yet"), "{stdout}");
}

#[tokio::test]
async fn an_invited_email_signs_up_outside_the_allowed_domains() {
    let app = spawn_app_with(
        callbridge::store::testing::TestDatabase::default_backend().await,
        |raw| raw.allowed_email_domains = Some("example.com".into()),
    )
    .await;
    let (status, body) = expect_error(
        app.post_json("/setup/email/init", &json!({"email": "bob@other.org"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("Email must be from @example.com domain"))
    );

    let (out, stdout, stderr) = users(&app, &["invite", "Bob@Other.org"]).await;
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("invited bob@other.org"), "{stdout}");
    let (out, stdout, _) = users(&app, &["invite", "bob@other.org"]).await;
    assert!(
        out.status.success() && stdout.contains("already invited"),
        "{stdout}"
    );

    let token = app.onboard_agent("bob@other.org", "+14155550101").await;
    assert_eq!(me(&app, &token).await.status(), 200);
    let (status, _) = expect_error(
        app.post_json("/setup/email/init", &json!({"email": "carol@other.org"}))
            .await,
    )
    .await;
    assert_eq!(status, 422, "an invitation is for one email");
    app.stop().await;
}
