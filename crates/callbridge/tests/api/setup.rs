//! Onboarding over HTTP against the simulator, on every backend: the seed README's requests as
//! they are written there, their JSON twins, the phone step and the one-step form.

use callbridge::domain::EmailAddress;
use serde_json::{Value, json};

use crate::helpers::{
    SYNC_SERVICE_SID, TestApp, backends, expect_success, spawn_app_with, with_sync,
};

const SEED_EMAIL: &str = "user@twilio.com";
const AGENT_PHONE: &str = "+14155550100";

/// The seed's own configuration: only @twilio.com may sign up.
fn seed_domains(raw: &mut callbridge::config::RawSettings) {
    raw.allowed_email_domains = Some("twilio.com".into());
}

fn shape(value: &Value) -> Value {
    // Keys and value types only, so snapshots hold across runs.
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), shape(v))).collect(),
        Value::Array(items) => items.iter().map(shape).collect(),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!(null),
    }
}

#[tokio::test]
async fn the_seed_readme_curl_examples_run_unchanged() {
    for db in backends().await {
        let app = spawn_app_with(db, seed_domains).await;

        // curl --header 'Content-Type: application/x-www-form-urlencoded' --data 'email=user@twilio.com'
        let init = expect_success(
            app.post_form("/setup/email/init", "email=user@twilio.com")
                .await,
        )
        .await;
        assert_eq!(init["message"], "OTP sent successfully to email");
        assert_eq!(init["data"]["to"], SEED_EMAIL);
        assert_eq!(init["data"]["channel"], "email");
        assert_eq!(init["data"]["status"], "pending");
        assert_eq!(init["data"]["valid"], false);
        assert!(init["data"]["sid"].as_str().unwrap().starts_with("VE"));
        insta::assert_json_snapshot!("seed_email_init", init, {".data.sid" => "[sid]"});

        let code = app.sim_otp(SEED_EMAIL).await;
        // curl --data 'email=user@twilio.com&code=123456'
        let body = format!("email=user@twilio.com&code={code}");
        let validated = expect_success(app.post_form("/setup/email/validate", &body).await).await;
        assert_eq!(
            validated["message"],
            "Email verified successfully. Pass `data.token` to the next step to set up phone number."
        );
        assert_eq!(validated["data"]["email"], SEED_EMAIL);
        assert_eq!(validated["data"]["verification"]["status"], "approved");
        assert_eq!(validated["data"]["verification"]["valid"], true);
        assert_eq!(
            validated["data"]["verification"]["sid"], init["data"]["sid"],
            "the check answers for the verification that was sent"
        );
        insta::assert_json_snapshot!("seed_email_validate", validated, {
            ".data.token" => "[token]",
            ".data.verifiedAt" => "[verifiedAt]",
            ".data.verification.sid" => "[sid]",
        });

        let email = EmailAddress::parse(SEED_EMAIL).unwrap();
        let agent = app
            .store
            .agent_by_email(&email)
            .await
            .unwrap()
            .expect("stored");
        assert!(agent.email_verified_at.is_some());
        assert!(agent.phone.is_none());
        app.stop().await;
    }
}

#[tokio::test]
async fn json_bodies_work_like_forms() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        let init = expect_success(
            app.post_json("/setup/email/init", &json!({"email": "Ada@Example.com"}))
                .await,
        )
        .await;
        assert_eq!(
            init["data"]["to"], "ada@example.com",
            "addresses are lower-cased"
        );
        let code = app.sim_otp("ada@example.com").await;
        let validated = expect_success(
            app.post_json(
                "/setup/email/validate",
                &json!({"email": "ada@example.com", "code": code}),
            )
            .await,
        )
        .await;
        let token = validated["data"]["token"].as_str().unwrap();
        assert_eq!(token.split('.').count(), 3, "a JWT");
        app.stop().await;
    }
}

async fn verify_email(app: &TestApp, email: &str) -> Value {
    expect_success(
        app.post_json("/setup/email/init", &json!({"email": email}))
            .await,
    )
    .await;
    let code = app.sim_otp(email).await;
    expect_success(
        app.post_json(
            "/setup/email/validate",
            &json!({"email": email, "code": code}),
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn the_phone_step_turns_a_setup_token_into_a_call_token() {
    for db in backends().await {
        let app = spawn_app_with(db, |_| {}).await;
        let validated = verify_email(&app, "grace@example.com").await;
        let setup_token = validated["data"]["token"].as_str().unwrap();

        let sent = expect_success(
            app.post_form_pairs(
                "/setup/phone/init",
                &[("token", setup_token), ("phone", "+1 (415) 555-0100")],
            )
            .await,
        )
        .await;
        assert_eq!(sent["message"], "OTP sent successfully to phone");
        assert_eq!(sent["data"]["to"], AGENT_PHONE);
        assert_eq!(sent["data"]["channel"], "sms");
        insta::assert_json_snapshot!("phone_init", shape(&sent));

        let code = app.sim_otp(AGENT_PHONE).await;
        let done = expect_success(
            app.post_json(
                "/setup/phone/validate",
                &json!({"token": setup_token, "phone": AGENT_PHONE, "code": code}),
            )
            .await,
        )
        .await;
        insta::assert_json_snapshot!("phone_validate", shape(&done));
        assert_eq!(done["data"]["phone"], AGENT_PHONE);
        let call_token = done["data"]["token"].as_str().unwrap();

        let me = expect_success(
            app.client
                .get(app.url("/setup/me"))
                .bearer_auth(call_token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(me["data"]["email"], "grace@example.com");
        assert_eq!(me["data"]["phone"], AGENT_PHONE);

        let email = EmailAddress::parse("grace@example.com").unwrap();
        let agent = app.store.agent_by_email(&email).await.unwrap().unwrap();
        assert_eq!(agent.phone.unwrap().as_str(), AGENT_PHONE);
        let kinds: Vec<String> = app
            .store
            .audit_for_agent(agent.id, "grace@example.com", 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "otp_sent",
                "verified",
                "otp_sent",
                "verified",
                "token_issued"
            ]
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn onboard_agent_helper_gives_a_working_call_token() {
    let app = spawn_app_with(
        callbridge::store::testing::TestDatabase::default_backend().await,
        |_| {},
    )
    .await;
    let token = app.onboard_agent("lin@example.com", "+12025550123").await;
    let me = app
        .client
        .get(app.url("/setup/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn the_one_step_form_verifies_both_and_answers_with_a_call_token() {
    for db in backends().await {
        let app = spawn_app_with(db, seed_domains).await;
        let sent = expect_success(
            app.post_form_pairs(
                "/setup/init",
                &[("email", SEED_EMAIL), ("phone", AGENT_PHONE)],
            )
            .await,
        )
        .await;
        assert_eq!(
            sent["message"],
            "OTP sent successfully to both email and phone"
        );
        assert_eq!(sent["data"]["email"]["channel"], "email");
        assert_eq!(sent["data"]["phone"]["channel"], "sms");
        insta::assert_json_snapshot!("one_step_init", shape(&sent));

        let email_code = app.sim_otp(SEED_EMAIL).await;
        let phone_code = app.sim_otp(AGENT_PHONE).await;
        let done = expect_success(
            app.post_form_pairs(
                "/setup/validate",
                &[
                    ("email", SEED_EMAIL),
                    ("email_code", &email_code),
                    ("phone", AGENT_PHONE),
                    ("phone_code", &phone_code),
                ],
            )
            .await,
        )
        .await;
        assert_eq!(done["message"], "Email and phone verified successfully.");
        assert_eq!(done["data"]["verification"]["email"]["status"], "approved");
        assert_eq!(done["data"]["verification"]["phone"]["status"], "approved");
        insta::assert_json_snapshot!("one_step_validate", shape(&done));
        let me = app
            .client
            .get(app.url("/setup/me"))
            .bearer_auth(done["data"]["token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
        app.stop().await;
    }
}

#[tokio::test]
async fn sync_mirrors_the_verified_email_and_a_second_validation_updates_it() {
    for db in backends().await {
        let app = spawn_app_with(db, with_sync).await;
        let first = verify_email(&app, SEED_EMAIL).await;
        let second = verify_email(&app, SEED_EMAIL).await;
        assert_eq!(
            second["message"],
            "Email verified successfully (updated existing record)"
        );

        let mut config = twilio::ClientConfig::new(
            app.sim.account_sid(),
            twilio::Credentials::AuthToken(app.sim.auth_token().to_owned().into()),
        );
        config.base_url = Some(app.sim.base_url());
        let twilio = twilio::Client::new(config).unwrap();
        // The seed's name: "verified_email_" + base64("user@twilio.com").
        let document = twilio
            .fetch_document(SYNC_SERVICE_SID, "verified_email_dXNlckB0d2lsaW8uY29t")
            .await
            .unwrap();
        let data = document.data.unwrap();
        assert_eq!(data["email"], SEED_EMAIL);
        assert_eq!(data["verifiedAt"], second["data"]["verifiedAt"]);
        assert_ne!(first["data"]["verifiedAt"], Value::Null);
        app.stop().await;
    }
}
