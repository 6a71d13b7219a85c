//! Safe by default: what the account may be made to dial or text, and how often.

use serde_json::json;

use crate::helpers::{expect_error, expect_success, sim_calls, spawn_app, spawn_app_with};
use callbridge::store::testing::TestDatabase;

async fn start(app: &crate::helpers::TestApp, token: &str, to: &str) -> reqwest::Response {
    app.client
        .post(app.url("/phone-to-phone/start"))
        .bearer_auth(token)
        .json(&json!({"RecipientNumber": to}))
        .send()
        .await
        .unwrap()
}

async fn verifications_to(app: &crate::helpers::TestApp, to: &str) -> u16 {
    let mut url = app.sim.base_url().join("sim/verifications").unwrap();
    url.query_pairs_mut().append_pair("to", to);
    app.client.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn caribbean_and_premium_rate_numbers_are_never_dialled_by_default() {
    let app = spawn_app().await;
    let token = app.onboard_agent("agent@example.com", "+14155550100").await;
    let cases = [
        (
            "+18762345678",
            "JM is not in ALLOWED_DESTINATIONS (allowed: CA, US)",
        ),
        ("+18092345678", "DO is not in ALLOWED_DESTINATIONS"),
        ("+19002345678", "premium-rate numbers are never dialled"),
        ("+442079460958", "GB is not in ALLOWED_DESTINATIONS"),
    ];
    for (number, why) in cases {
        let (status, body) = expect_error(start(&app, &token, number).await).await;
        assert_eq!(status, 422, "{number}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(why),
            "{number}: {body}"
        );
    }
    assert!(sim_calls(&app.sim).await.is_empty(), "no one was rung");
    // An ordinary US number still is.
    expect_success(start(&app, &token, "+12025550123").await).await;
    app.stop().await;
}

#[tokio::test]
async fn a_listed_region_is_dialled_but_never_its_premium_numbers() {
    let db = TestDatabase::default_backend().await;
    let app = spawn_app_with(db, |raw| raw.allowed_destinations = Some("US,JM".into())).await;
    let token = app.onboard_agent("agent@example.com", "+14155550100").await;
    expect_success(start(&app, &token, "+18762345678").await).await;
    let (status, body) = expect_error(start(&app, &token, "+19002345678").await).await;
    assert_eq!(
        (
            status,
            body["message"]
                .as_str()
                .unwrap()
                .ends_with("premium-rate numbers are never dialled")
        ),
        (422, true),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn setup_codes_are_texted_only_to_allowed_regions() {
    let db = TestDatabase::default_backend().await;
    let app = spawn_app_with(db, |raw| raw.allowed_sms_regions = Some("US".into())).await;
    for (phone, why) in [
        (
            "+16135550123",
            "CA is not in ALLOWED_SMS_REGIONS (allowed: US)",
        ),
        ("+18762345678", "JM is not in ALLOWED_SMS_REGIONS"),
        ("+19002345678", "premium-rate numbers are never texted"),
    ] {
        let (status, body) = expect_error(
            app.post_form_pairs(
                "/setup/init",
                &[("email", "a@example.com"), ("phone", phone)],
            )
            .await,
        )
        .await;
        assert_eq!(status, 422, "{phone}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(why),
            "{phone}: {body}"
        );
        assert_eq!(
            verifications_to(&app, phone).await,
            404,
            "{phone} got no code"
        );
    }
    assert_eq!(
        verifications_to(&app, "a@example.com").await,
        404,
        "nor the email"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_hourly_sms_budget_is_kept_in_the_database_and_answers_429() {
    let db = TestDatabase::default_backend().await;
    let app = spawn_app_with(db, |raw| raw.sms_per_hour = Some("2".into())).await;
    let phones = ["+14155550101", "+14155550102", "+14155550111"];
    let mut statuses = Vec::new();
    for (n, phone) in phones.iter().enumerate() {
        let email = format!("a{n}@example.com");
        let response = app
            .post_form_pairs(
                "/setup/init",
                &[("email", email.as_str()), ("phone", phone)],
            )
            .await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            let (_, body) = expect_error(response).await;
            assert_eq!(body["code"], 429);
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(
        verifications_to(&app, phones[2]).await,
        404,
        "the third code was not sent"
    );
    assert_eq!(verifications_to(&app, "a2@example.com").await, 404);
    // The phone step draws on the same budget.
    let token = {
        expect_success(
            app.post_json("/setup/email/init", &json!({"email": "b@example.com"}))
                .await,
        )
        .await;
        let code = app.sim_otp("b@example.com").await;
        let body = expect_success(
            app.post_json(
                "/setup/email/validate",
                &json!({"email": "b@example.com", "code": code}),
            )
            .await,
        )
        .await;
        body["data"]["token"].as_str().unwrap().to_owned()
    };
    let response = app
        .post_json(
            "/setup/phone/init",
            &json!({"token": token, "phone": "+14155550199"}),
        )
        .await;
    assert_eq!(response.status(), 429);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("callbridge_sms_refused_total{reason=\"budget\"}"),
        "{metrics}"
    );
    app.stop().await;
}
