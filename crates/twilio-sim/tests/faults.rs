//! REST faults of `Calls.create`: held back, or refused with a Twilio error, and healthy again.

mod common;

use std::time::Duration;

use common::Harness;
use serde_json::{Value, json};

const PAUSE: &str = r#"<Response><Pause length="1"/></Response>"#;

async fn set_fault(h: &Harness, fault: &Value) -> u16 {
    h.http
        .put(h.url("/sim/faults/calls-create"))
        .json(fault)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn sim_call_count(h: &Harness) -> usize {
    let (_, body) = h.get(&h.url("/sim/calls")).await;
    body["calls"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_refusing_calls_create_answers_twilios_error_and_places_nothing() {
    let h = Harness::start().await;
    let fault = json!({"error": {"status": 429, "code": 20429}});
    assert_eq!(set_fault(&h, &fault).await, 200);
    let form = [
        ("To", "+15550100001"),
        ("From", "+15005550006"),
        ("Twiml", PAUSE),
    ];
    let (status, body) = h.post(&h.api("/Calls.json"), &form).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], 20429, "{body}");
    assert_eq!(body["status"], 429, "{body}");
    assert_eq!(sim_call_count(&h).await, 0);

    let cleared = h
        .http
        .delete(h.url("/sim/faults/calls-create"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    h.call("+15550100001", &[("Twiml", PAUSE)]).await;
    assert_eq!(sim_call_count(&h).await, 1);
}

#[tokio::test]
async fn a_slow_calls_create_still_places_the_call_once_its_delay_is_over() {
    let h = Harness::start().await;
    assert_eq!(set_fault(&h, &json!({"delay_ms": 2000})).await, 200);
    let form = [
        ("To", "+15550100002"),
        ("From", "+15005550006"),
        ("Twiml", PAUSE),
    ];
    // A client that gives up long before the delay is over gets no answer.
    let impatient = h
        .http
        .post(h.api("/Calls.json"))
        .basic_auth(h.sim.account_sid(), Some(h.sim.auth_token()))
        .form(&form)
        .timeout(Duration::from_millis(50))
        .send()
        .await;
    assert!(impatient.is_err_and(|e| e.is_timeout()));
    let (status, body) = h.post(&h.api("/Calls.json"), &form).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["sid"].as_str().unwrap().starts_with("CA"), "{body}");
}

#[tokio::test]
async fn a_fault_with_a_success_status_is_refused() {
    let h = Harness::start().await;
    let fault = json!({"error": {"status": 200, "code": 1}});
    assert_eq!(set_fault(&h, &fault).await, 400);
}

#[tokio::test]
async fn a_fault_may_be_limited_to_one_number_and_a_number_of_calls() {
    let h = Harness::start().await;
    let fault = json!({
        "error": {"status": 503, "code": 20500},
        "to": "+15550100003",
        "times": 2,
    });
    assert_eq!(set_fault(&h, &fault).await, 200);
    // Another number is not affected, and does not count against `times`.
    h.call("+15550100004", &[("Twiml", PAUSE)]).await;
    let form = [
        ("To", "+15550100003"),
        ("From", "+15005550006"),
        ("Twiml", PAUSE),
    ];
    for _ in 0..2 {
        let (status, body) = h.post(&h.api("/Calls.json"), &form).await;
        assert_eq!(status, 503, "{body}");
    }
    let (status, body) = h.post(&h.api("/Calls.json"), &form).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(sim_call_count(&h).await, 2);
}
