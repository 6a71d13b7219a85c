//! Starting a call when Twilio is slow or failing, and `Idempotency-Key`: the simulator's
//! `Calls.create` is held back or refused, and the start must still leave the call true (its
//! leg, or failed with why), answer 202 while Twilio is pending, and never ring anyone twice.

use std::time::Duration;

use airtable::fake::{FakeAirtable, FakeConfig};
use callbridge::config::RawSettings;
use callbridge::store::testing::TestDatabase;
use serde_json::{Value, json};
use twilio_sim::{CallsCreateFault, FaultError, Sim};

use crate::airtable_call::Instance;
use crate::calls_flow::{AGENT_PHONE, CUSTOMER, agent, view, wait_until};
use crate::helpers::{
    TestApp, expect_error, expect_success, sim_calls_to, sim_config, spawn_app_with,
};

const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(40);

async fn app(configure: impl FnOnce(&mut RawSettings)) -> TestApp {
    spawn_app_with(TestDatabase::default_backend().await, configure).await
}

fn slow_twilio(delay_ms: u64) -> CallsCreateFault {
    CallsCreateFault {
        delay_ms,
        ..CallsCreateFault::default()
    }
}

fn refusing_twilio(status: u16, code: u32) -> CallsCreateFault {
    CallsCreateFault {
        error: Some(FaultError { status, code }),
        ..CallsCreateFault::default()
    }
}

fn start_request(
    app: &TestApp,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::RequestBuilder {
    let mut request = app.client.post(app.url(path)).bearer_auth(token).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request
}

async fn start(app: &TestApp, token: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    start_request(app, "/call/start", token, key, body)
        .send()
        .await
        .unwrap()
}

fn has_agent_leg(call: &Value) -> bool {
    call["legs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|leg| leg["role"] == "agent" && leg["call_sid"].as_str().is_some())
}

/// The agent's calls as `GET /calls` lists them.
async fn calls(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/calls"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    expect_success(response).await["data"]["calls"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_same_call_and_rings_the_agent_once() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "same-key@example.com", AGENT_PHONE, false).await;
    let body = json!({"to": CUSTOMER});
    let first = expect_success(start(&app, &token, Some("order-1"), &body).await).await;
    let again = start(&app, &token, Some("order-1"), &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = expect_success(again).await;
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    assert_eq!(sim_calls_to(&app.sim, AGENT_PHONE).await.len(), 1);
    assert_eq!(calls(&app, &token).await.len(), 1);

    // Another key is another call.
    let other = expect_success(start(&app, &token, Some("order-2"), &body).await).await;
    assert_ne!(other["data"]["id"], first["data"]["id"]);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_and_rings_nobody() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "other-body@example.com", AGENT_PHONE, false).await;
    expect_success(start(&app, &token, Some("k"), &json!({"to": CUSTOMER})).await).await;
    let (status, body) =
        expect_error(start(&app, &token, Some("k"), &json!({"to": "+12025550199"})).await).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], 422);
    // Another endpoint with the same key asks for something else too.
    let response = start_request(
        &app,
        "/phone-to-phone/start",
        &token,
        Some("k"),
        &json!({"RecipientNumber": CUSTOMER}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(expect_error(response).await.0, 422);
    assert_eq!(sim_calls_to(&app.sim, AGENT_PHONE).await.len(), 1);
    assert_eq!(calls(&app, &token).await.len(), 1);
}

#[tokio::test]
async fn a_malformed_key_is_400_and_changes_nothing() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "bad-key@example.com", AGENT_PHONE, false).await;
    let long = "k".repeat(256);
    let (status, body) =
        expect_error(start(&app, &token, Some(&long), &json!({"to": CUSTOMER})).await).await;
    assert_eq!(status, 400, "{body}");
    assert!(calls(&app, &token).await.is_empty());
}

#[tokio::test]
async fn a_slow_twilio_gets_202_with_the_call_and_the_leg_follows() {
    let app = app(|raw| raw.call_start_wait = Some("200ms".into())).await;
    let (_, token) = agent(&app, "slow@example.com", AGENT_PHONE, false).await;
    app.sim.set_calls_create_fault(slow_twilio(1_500));
    let response = start(&app, &token, None, &json!({"to": CUSTOMER})).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(body["data"]["state"], "created", "{body}");
    assert_eq!(body["data"]["legs"], json!([]), "{body}");
    let id = body["data"]["id"].as_str().unwrap();
    let placed = wait_until(&app, &token, id, has_agent_leg).await;
    assert_ne!(placed["state"], "failed", "{placed:#}");
    assert_eq!(sim_calls_to(&app.sim, AGENT_PHONE).await.len(), 1);
}

#[tokio::test]
async fn a_retry_while_the_first_is_in_flight_gets_the_same_call_and_rings_once() {
    let app = app(|raw| raw.call_start_wait = Some("400ms".into())).await;
    let (_, token) = agent(&app, "in-flight@example.com", AGENT_PHONE, false).await;
    app.sim.set_calls_create_fault(slow_twilio(2_000));
    let body = json!({"to": CUSTOMER});
    let (first, second) = tokio::join!(
        start(&app, &token, Some("dup"), &body),
        start(&app, &token, Some("dup"), &body),
    );
    assert!(first.status().is_success(), "{}", first.status());
    assert!(second.status().is_success(), "{}", second.status());
    let first: Value = first.json().await.unwrap();
    let second: Value = second.json().await.unwrap();
    let id = first["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(second["data"]["id"], id, "{first} {second}");

    wait_until(&app, &token, &id, has_agent_leg).await;
    let later = start(&app, &token, Some("dup"), &body).await;
    assert!(later.status().is_success(), "{}", later.status());
    let later: Value = later.json().await.unwrap();
    assert_eq!(later["data"]["id"], id);
    assert_eq!(sim_calls_to(&app.sim, AGENT_PHONE).await.len(), 1);
    assert_eq!(calls(&app, &token).await.len(), 1);
}

#[tokio::test]
async fn a_request_dropped_mid_way_still_leaves_the_call_with_its_leg() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "dropped@example.com", AGENT_PHONE, false).await;
    app.sim.set_calls_create_fault(slow_twilio(1_500));
    // The client gives up long before Twilio answers, closing its connection.
    let gave_up = start_request(&app, "/call/start", &token, None, &json!({"to": CUSTOMER}))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let call = loop {
        let listed = calls(&app, &token).await;
        if let Some(call) = listed.first().filter(|c| has_agent_leg(c)) {
            break call.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dropped start never got its leg: {listed:#?}"
        );
        tokio::time::sleep(POLL).await;
    };
    assert_ne!(call["state"], "failed", "{call:#}");
    assert_eq!(sim_calls_to(&app.sim, AGENT_PHONE).await.len(), 1);
}

#[tokio::test]
async fn twilio_429_is_503_with_retry_after_and_the_call_fails_with_the_reason() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "busy@example.com", AGENT_PHONE, false).await;
    app.sim.set_calls_create_fault(refusing_twilio(429, 20429));
    let body = json!({"to": CUSTOMER});
    let response = start(&app, &token, Some("busy-1"), &body).await;
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, error) = expect_error(response).await;
    assert_eq!(status, 503, "{error}");
    assert_eq!(error["code"], 20429, "{error}");
    let listed = calls(&app, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "failed");
    assert_eq!(listed[0]["reason"], "twilio_rate_limited");
    assert!(sim_calls_to(&app.sim, AGENT_PHONE).await.is_empty());

    // Nobody was rung, so the retry Retry-After invites really tries again.
    app.sim.set_calls_create_fault(CallsCreateFault::default());
    let retried = expect_success(start(&app, &token, Some("busy-1"), &body).await).await;
    assert_ne!(retried["data"]["id"], listed[0]["id"]);
    assert_eq!(sim_calls_to(&app.sim, AGENT_PHONE).await.len(), 1);
}

#[tokio::test]
async fn a_twilio_5xx_is_503_and_the_call_fails_as_unavailable() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "down@example.com", AGENT_PHONE, false).await;
    app.sim.set_calls_create_fault(refusing_twilio(503, 20500));
    let response = start(&app, &token, None, &json!({"to": CUSTOMER})).await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(expect_error(response).await.0, 503);
    let listed = calls(&app, &token).await;
    assert_eq!(listed[0]["reason"], "twilio_unavailable");
}

#[tokio::test]
async fn a_twilio_that_times_out_fails_the_call_and_the_key_never_asks_again() {
    let app = app(|raw| {
        raw.twilio_timeout = Some("300ms".into());
        raw.call_start_wait = Some("5s".into());
    })
    .await;
    let (_, token) = agent(&app, "timeout@example.com", AGENT_PHONE, false).await;
    app.sim.set_calls_create_fault(slow_twilio(3_000));
    let body = json!({"to": CUSTOMER});
    let response = start(&app, &token, Some("t-1"), &body).await;
    assert!(response.headers().contains_key("retry-after"));
    let (status, error) = expect_error(response).await;
    assert_eq!(status, 503, "{error}");
    let listed = calls(&app, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "failed");
    assert_eq!(listed[0]["reason"], "twilio_timeout");

    // Twilio may have placed that call: the same key replays the answer, asking nothing.
    app.sim.set_calls_create_fault(CallsCreateFault::default());
    let replay = start(&app, &token, Some("t-1"), &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_error(replay).await.0, 503);
    assert_eq!(calls(&app, &token).await.len(), 1);
}

#[tokio::test]
async fn a_call_from_a_record_with_the_same_key_rings_once() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |_| {}).await;
    let (_, token) = app.agent("record-key@example.com", AGENT_PHONE).await;
    let record = fake.insert_record(json!({"Name": "Ada", "Phone": CUSTOMER}));
    let post = |key: &'static str, record: String| {
        let url = app.url("/airtable/call");
        let token = token.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(&json!({"recordId": record}))
                .send()
                .await
                .unwrap()
        }
    };
    let first = expect_success(post("rec-key", record.clone()).await).await;
    // Without the key this would be a 409 (the record's call is in progress).
    let again = expect_success(post("rec-key", record.clone()).await).await;
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    assert_eq!(sim_calls_to(&sim, AGENT_PHONE).await.len(), 1);

    let other = fake.insert_record(json!({"Name": "Bob", "Phone": "+12025550124"}));
    let (status, _) = expect_error(post("rec-key", other).await).await;
    assert_eq!(status, 422);
    app.kill().await;
}

#[tokio::test]
async fn starts_answer_on_both_endpoints_with_view_of_the_call() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "both@example.com", AGENT_PHONE, false).await;
    let seed = start_request(
        &app,
        "/phone-to-phone/start",
        &token,
        Some("p2p"),
        &json!({"RecipientNumber": CUSTOMER}),
    )
    .send()
    .await
    .unwrap();
    let seed = expect_success(seed).await;
    assert_eq!(seed["message"], "Call initiated to agent");
    let id = seed["data"]["id"].as_str().unwrap();
    assert!(has_agent_leg(&view(&app, &token, id).await));
}
