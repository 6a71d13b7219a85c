//! Onboarding refusals: each gets its documented status and message, and changes nothing.

use std::time::Duration;

use callbridge::domain::EmailAddress;
use callbridge::store::testing::TestDatabase;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{JWT_SECRET, TestApp, backends, expect_error, expect_success, spawn_app_with};

async fn agent_count(app: &TestApp) -> usize {
    app.store.list_agents().await.unwrap().len()
}

/// Asks for an email code; the code the simulator sent, and one that is surely wrong.
async fn email_code_and_a_wrong_one(app: &TestApp, email: &str) -> (String, &'static str) {
    expect_success(
        app.post_form("/setup/email/init", &format!("email={email}"))
            .await,
    )
    .await;
    let code = app.sim_otp(email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    (code, wrong)
}

async fn setup_token(app: &TestApp, email: &str) -> String {
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
    body["data"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_wrong_code_is_401_stores_no_agent_and_the_right_one_still_works() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        let (code, wrong) = email_code_and_a_wrong_one(&app, "ada@example.com").await;
        let (status, body) = expect_error(
            app.post_form(
                "/setup/email/validate",
                &format!("email=ada@example.com&code={wrong}"),
            )
            .await,
        )
        .await;
        assert_eq!(status, 401);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid code"),
            "{body}"
        );
        assert_eq!(agent_count(&app).await, 0);

        expect_success(
            app.post_form(
                "/setup/email/validate",
                &format!("email=ada@example.com&code={code}"),
            )
            .await,
        )
        .await;
        let agent = app.store.list_agents().await.unwrap().remove(0);
        let kinds: Vec<String> = app
            .store
            .audit_for_agent(agent.id, "ada@example.com", 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["otp_sent", "failed", "verified"]);
        app.stop().await;
    }
}

#[tokio::test]
async fn checking_without_a_pending_verification_is_404() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |_| {}).await;
    let (status, body) = expect_error(
        app.post_form(
            "/setup/email/validate",
            "email=nobody@example.com&code=123456",
        )
        .await,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("request a new code")
    );

    // An expired code is no longer pending either.
    expect_success(
        app.post_form("/setup/email/init", "email=late@example.com")
            .await,
    )
    .await;
    let code = app.sim_otp("late@example.com").await;
    app.sim.advance_clock(Duration::from_secs(11 * 60));
    let (status, _) = expect_error(
        app.post_form(
            "/setup/email/validate",
            &format!("email=late@example.com&code={code}"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(agent_count(&app).await, 0);
}

#[tokio::test]
async fn malformed_and_missing_input_is_400_and_a_foreign_domain_422() {
    for db in backends().await {
        let app = spawn_app_with(db, |raw| {
            raw.allowed_email_domains = Some("twilio.com".into());
        })
        .await;
        let cases: [(&str, &str, u16, &str); 7] = [
            ("/setup/email/init", "", 400, "Email is required"),
            (
                "/setup/email/init",
                "email=not-an-email",
                400,
                "Invalid email format",
            ),
            (
                "/setup/email/init",
                "email=user@example.com",
                422,
                "Email must be from @twilio.com domain",
            ),
            (
                "/setup/email/validate",
                "email=user@twilio.com",
                400,
                "OTP code is required",
            ),
            (
                "/setup/init",
                "email=user@twilio.com&phone=12345",
                400,
                "phone number",
            ),
            (
                "/setup/init",
                "email=user@twilio.com&phone=%2B15551234567",
                400,
                "not a valid number",
            ),
            (
                "/setup/validate",
                "email=user@twilio.com&email_code=1&phone=%2B14155550100",
                400,
                "Phone OTP code is required",
            ),
        ];
        for (path, body, want_status, want_message) in cases {
            let (status, reply) = expect_error(app.post_form(path, body).await).await;
            assert_eq!(status, want_status, "{path} {body}: {reply}");
            assert!(
                reply["message"].as_str().unwrap().contains(want_message),
                "{path} {body}: {reply}"
            );
            assert_eq!(reply["code"], want_status);
        }
        let response = app
            .client
            .post(app.url("/setup/email/init"))
            .header("content-type", "text/plain")
            .body("email=user@twilio.com")
            .send()
            .await
            .unwrap();
        assert_eq!(expect_error(response).await.0, 415);
        let response = app
            .client
            .post(app.url("/setup/email/init"))
            .header("content-type", "application/json")
            .body("{\"email\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(expect_error(response).await.0, 400);

        assert_eq!(agent_count(&app).await, 0);
        // Nothing reached Twilio.
        let mut url = app.sim.base_url().join("sim/verifications").unwrap();
        url.query_pairs_mut().append_pair("to", "user@example.com");
        assert_eq!(app.client.get(url).send().await.unwrap().status(), 404);
        app.stop().await;
    }
}

#[tokio::test]
async fn an_expired_or_forged_setup_token_is_401() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        setup_token(&app, "ada@example.com").await;
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "email": "ada@example.com", "verifiedAt": "2025-06-24T10:30:00.000Z",
            "exp": now - 60, "iat": now - 360,
            "iss": "outbound-conference-setup", "aud": "setup/phone",
        });
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .unwrap();
        let (status, body) = expect_error(
            app.post_json(
                "/setup/phone/init",
                &json!({"token": expired, "phone": "+14155550100"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 401);
        assert!(
            body["message"].as_str().unwrap().contains("expired"),
            "{body}"
        );

        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"email": "ada@example.com", "verifiedAt": "x", "exp": now + 60,
                    "iat": now, "iss": "outbound-conference-setup", "aud": "setup/phone"}),
            &EncodingKey::from_secret(b"somebody-elses-secret-of-32-bytes!!"),
        )
        .unwrap();
        let (status, _) = expect_error(
            app.post_json(
                "/setup/phone/validate",
                &json!({"token": forged, "phone": "+14155550100", "code": "123456"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 401);
        let agent = app.store.list_agents().await.unwrap().remove(0);
        assert!(agent.phone.is_none(), "nothing was bound");
        app.stop().await;
    }
}

/// The keys of an envelope, all the way down: what an answer looks like, not what it says.
fn shape(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(key, _)| *key != "message")
            .map(|(key, v)| (key.clone(), shape(v)))
            .collect(),
        _ => serde_json::Value::Null,
    }
}

#[tokio::test]
async fn whose_phone_a_number_is_only_its_holder_learns() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        app.onboard_agent("first@example.com", "+14155550100").await;
        let token = setup_token(&app, "second@example.com").await;
        // A registered phone and a fresh one get the same answer: a code on its way.
        let mut answers = Vec::new();
        for phone in ["+14155550100", "+14155550177"] {
            let response = app
                .post_json(
                    "/setup/phone/init",
                    &json!({"token": token, "phone": phone}),
                )
                .await;
            answers.push((
                response.status().as_u16(),
                shape(&response.json().await.unwrap()),
            ));
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0].0, 200);
        // A wrong code reads the same for both.
        for phone in ["+14155550100", "+14155550177"] {
            let (status, _) = expect_error(
                app.post_json(
                    "/setup/phone/validate",
                    &json!({"token": token, "phone": phone, "code": "000000"}),
                )
                .await,
            )
            .await;
            assert_eq!(status, 401, "{phone}");
        }
        // Only the phone's holder, with its code, hears that it is taken.
        let code = app.sim_otp("+14155550100").await;
        let (status, body) = expect_error(
            app.post_json(
                "/setup/phone/validate",
                &json!({"token": token, "phone": "+14155550100", "code": code}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 409);
        assert_eq!(
            body["message"],
            "Phone number is already associated with another email address"
        );
        let second = app
            .store
            .agent_by_email(&EmailAddress::parse("second@example.com").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(second.phone.is_none(), "nothing was bound");
        app.stop().await;
    }
}

#[tokio::test]
async fn the_one_step_form_counts_its_limits_before_it_looks_a_phone_up() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        app.onboard_agent("first@example.com", "+14155550100").await;
        let mut statuses = Vec::new();
        for n in 0..3 {
            let email = format!("probe{n}@example.com");
            let response = app
                .post_form_pairs(
                    "/setup/init",
                    &[("email", &email), ("phone", "+14155550100")],
                )
                .await;
            statuses.push(response.status().as_u16());
        }
        // Onboarding sent the phone its first code: two more, then the limit, taken or not.
        assert_eq!(statuses, [200, 200, 429]);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_flood_of_sends_is_429_with_retry_after_and_reaches_no_one() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        let mut refused = None;
        for i in 0..12 {
            let response = app
                .post_json(
                    "/setup/email/init",
                    &json!({"email": format!("n{i}@example.com")}),
                )
                .await;
            if response.status() == 429 {
                refused = Some((i, response));
                break;
            }
            expect_success(response).await;
        }
        let (i, response) = refused.expect("the flood was refused");
        assert_eq!(i, 10, "ten sends per client address are allowed");
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=600).contains(&retry_after));
        let (_, body) = expect_error(response).await;
        assert_eq!(body["code"], 429);
        let mut url = app.sim.base_url().join("sim/verifications").unwrap();
        url.query_pairs_mut().append_pair("to", "n10@example.com");
        assert_eq!(
            app.client.get(url).send().await.unwrap().status(),
            404,
            "the refused code was never sent"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_flood_of_checks_is_429_and_even_the_right_code_then_changes_nothing() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        let (code, wrong) = email_code_and_a_wrong_one(&app, "ada@example.com").await;
        for _ in 0..5 {
            let (status, _) = expect_error(
                app.post_json(
                    "/setup/email/validate",
                    &json!({"email": "ada@example.com", "code": wrong}),
                )
                .await,
            )
            .await;
            assert_eq!(status, 401);
        }
        let response = app
            .post_json(
                "/setup/email/validate",
                &json!({"email": "ada@example.com", "code": code}),
            )
            .await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(agent_count(&app).await, 0);
        app.stop().await;
    }
}

#[tokio::test]
async fn sends_per_address_are_limited_across_instances_sharing_a_database() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let url = db.url().to_owned();
    let first = spawn_app_with(db, |_| {}).await;
    // A second instance on the same database, as behind a load balancer.
    let second =
        crate::helpers::spawn_app_with_store(callbridge::store::testing::open(&url).await.unwrap())
            .await;
    let mut statuses = Vec::new();
    for app in [&first, &second, &first, &second] {
        let response = app
            .post_json("/setup/email/init", &json!({"email": "ada@example.com"}))
            .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test]
async fn twilio_unreachable_is_502() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
        // Nothing listens on the discard port.
        raw.twilio_base_url = Some("http://127.0.0.1:9/".into());
    })
    .await;
    let (status, body) = expect_error(
        app.post_form("/setup/email/init", "email=ada@example.com")
            .await,
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Twilio could not be reached")
    );
}

#[tokio::test]
async fn the_audit_log_names_the_peer_unless_the_proxy_is_trusted() {
    for trust in [false, true] {
        let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
            raw.trust_proxy = Some(if trust { "1" } else { "0" }.into());
        })
        .await;
        let response = app
            .client
            .post(app.url("/setup/email/init"))
            .header("x-forwarded-for", "203.0.113.9")
            .form(&[("email", "ada@example.com")])
            .send()
            .await
            .unwrap();
        expect_success(response).await;
        let code = app.sim_otp("ada@example.com").await;
        expect_success(
            app.post_form_pairs(
                "/setup/email/validate",
                &[("email", "ada@example.com"), ("code", &code)],
            )
            .await,
        )
        .await;
        let email = EmailAddress::parse("ada@example.com").unwrap();
        let agent = app.store.agent_by_email(&email).await.unwrap().unwrap();
        let events = app
            .store
            .audit_for_agent(agent.id, email.as_str(), 10)
            .await
            .unwrap();
        let want = if trust { "203.0.113.9" } else { "127.0.0.1" };
        assert_eq!(events[0].client_ip.as_deref(), Some(want));
        assert_eq!(events[0].actor, "setup");
    }
}
