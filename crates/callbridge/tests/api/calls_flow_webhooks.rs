//! The webhooks under attack and under Twilio's real delivery habits: unsigned or forged
//! requests, replays, duplicates and reordering.

use callbridge::domain::PhoneNumber;
use callbridge::store::NewCall;
use serde_json::{Value, json};
use twilio_sim::{Answer, SimConfig};

use crate::calls_flow::{
    AGENT_PHONE, CUSTOMER, agent, connected_log, customer_who_answers, event_counts, keen_agent,
    start, talk_then_customer_hangs_up, unreachable, view, wait_settled,
};
use crate::helpers::{TestApp, expect_error, sim_calls, sim_config, spawn_app, spawn_app_full};

/// The webhooks the simulator sent, with what it signed.
async fn sim_webhooks(app: &TestApp) -> Vec<Value> {
    let url = app.sim.base_url().join("sim/webhooks").unwrap();
    let body: Value = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["webhooks"].as_array().unwrap().clone()
}

fn form_of(webhook: &Value) -> Vec<(String, String)> {
    webhook["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

async fn post_webhook(
    app: &TestApp,
    url: &str,
    form: &[(String, String)],
    signature: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.post(url).form(form);
    if let Some(signature) = signature {
        request = request.header("X-Twilio-Signature", signature);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn unsigned_or_forged_webhooks_get_403_and_change_nothing() {
    let app = spawn_app().await;
    let (target, token) = agent(&app, "target@example.com", AGENT_PHONE, false).await;
    // A call waiting for its agent: stored, not placed, so only the forgeries could move it.
    let call = app
        .store
        .create_call(NewCall {
            mode: callbridge::domain::CallMode::Phone,
            agent_id: target.id,
            recipient: PhoneNumber::parse(CUSTOMER).unwrap(),
            agent_endpoint: PhoneNumber::parse(AGENT_PHONE).unwrap().into(),
            label: None,
            record: false,
        })
        .await
        .unwrap();
    let id = call.id.to_string();

    let auth_token = app.sim.auth_token().to_owned();
    let status_url = app.url(&format!("/phone-to-phone/status?call={id}&leg=recipient"));
    let dial_url = app.url(&format!("/phone-to-phone/dial-recipient?call={id}"));
    let forged: Vec<(String, String)> = [
        ("CallSid", "CA00000000000000000000000000000099"),
        ("CallStatus", "completed"),
        ("CallDuration", "600"),
        ("SequenceNumber", "9"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let signed_ringing = twilio::signature::sign(
        &auth_token,
        &status_url,
        &[
            (
                "CallSid".to_owned(),
                "CA00000000000000000000000000000099".to_owned(),
            ),
            ("CallStatus".to_owned(), "ringing".to_owned()),
        ],
    );
    let wrong_key = twilio::signature::sign("not-the-auth-token", &status_url, &forged);
    let other_call = twilio::signature::sign(
        &auth_token,
        &app.url("/phone-to-phone/status?call=00000000-0000-7000-8000-000000000000&leg=recipient"),
        &forged,
    );
    for (url, signature) in [
        (&status_url, None),
        (&status_url, Some("")),
        (&status_url, Some("bm90IGEgc2lnbmF0dXJl")),
        (&status_url, Some(wrong_key.as_str())),
        // Signed for other parameters, or for another URL.
        (&status_url, Some(signed_ringing.as_str())),
        (&status_url, Some(other_call.as_str())),
        (&dial_url, None),
        (&dial_url, Some(wrong_key.as_str())),
    ] {
        let (status, body) = expect_error(post_webhook(&app, url, &forged, signature).await).await;
        assert_eq!(status, 403, "{url} {signature:?}: {body}");
    }
    let conference_twiml = app
        .client
        .post(app.url(&format!("/phone-to-phone/conference-twiml?call={id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(conference_twiml.status(), 403);

    let after = view(&app, &token, &id).await;
    assert_eq!(after["state"], "created");
    assert_eq!(after["events"], json!([]));
    assert_eq!(after["legs"], json!([]));
    assert_eq!(after["duration_secs"], Value::Null);
    // The forged Gather action dialled nobody.
    assert_eq!(sim_calls(&app.sim).await.len(), 0);
}

#[tokio::test]
async fn a_replayed_signed_webhook_is_a_no_op() {
    let app = spawn_app().await;
    let (_, token) = agent(&app, "replay@example.com", AGENT_PHONE, false).await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let id = start(&app, &token, json!({"RecipientNumber": CUSTOMER})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = talk_then_customer_hangs_up(&app, &token, &id).await;
    let calls_before = sim_calls(&app.sim).await.len();

    // Every request the simulator made, replayed exactly as it was signed.
    let webhooks = sim_webhooks(&app).await;
    assert!(webhooks.len() >= 15, "{webhooks:#?}");
    for webhook in &webhooks {
        let url = webhook["url"].as_str().unwrap();
        let signature = webhook["signature"].as_str().unwrap();
        let response = post_webhook(&app, url, &form_of(webhook), Some(signature)).await;
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        if webhook["kind"] == "action" {
            // The retried Gather action answers the agent the way the first one did.
            let xml = response.text().await.unwrap();
            assert!(xml.contains("<Response>"), "{xml}");
        }
    }

    let after = view(&app, &token, &id).await;
    assert_eq!(after["state"], done["state"]);
    assert_eq!(after["duration_secs"], done["duration_secs"]);
    assert_eq!(after["events"], done["events"]);
    assert_eq!(after["legs"].as_array().unwrap().len(), 2);
    // Nobody was dialled again.
    assert_eq!(sim_calls(&app.sim).await.len(), calls_before);
}

/// Twilio retries and reorders: every webhook may come twice, status callbacks late and in any
/// order. The outcome and the event log must be what an orderly delivery gives.
#[tokio::test]
async fn duplicated_and_jittered_webhooks_give_the_same_outcome_and_log() {
    let chaos = SimConfig {
        webhook_duplicate_rate: 0.5,
        webhook_jitter_ms: 40,
        ..sim_config()
    };
    let app = spawn_app_full(
        callbridge::store::testing::TestDatabase::default_backend().await,
        chaos,
        |_| {},
    )
    .await;
    let mut calls = Vec::new();
    for i in 0..6 {
        let phone = format!("+1415555013{i}");
        let customer = format!("+1202555013{i}");
        let (_, token) = agent(&app, &format!("chaos{i}@example.com"), &phone, false).await;
        app.sim.set_number(&phone, keen_agent());
        let busy = i % 3 == 2;
        app.sim.set_number(
            &customer,
            if busy {
                unreachable(Answer::Busy)
            } else {
                customer_who_answers()
            },
        );
        let id = start(&app, &token, json!({"RecipientNumber": customer})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        calls.push((token, id, customer, busy));
    }
    for (token, id, customer, busy) in &calls {
        let done = if *busy {
            wait_settled(&app, token, id).await
        } else {
            talk_then_customer_hangs_up(&app, token, id).await
        };
        if *busy {
            assert_eq!(done["state"], "failed", "{done:#}");
            assert_eq!(done["reason"], "recipient_busy");
        } else {
            assert_eq!(done["state"], "completed", "{done:#}");
            assert_eq!(
                event_counts(&done),
                connected_log("key-pressed"),
                "{done:#}"
            );
        }
        let keys: Vec<&Value> = done["events"].as_array().unwrap().iter().collect();
        let mut unique: Vec<String> = keys
            .iter()
            .map(|e| format!("{}:{}:{}", e["call_sid"], e["kind"], e["sequence_number"]))
            .collect();
        let total = unique.len();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            total,
            "a duplicate event was stored: {done:#}"
        );
        assert_eq!(
            crate::helpers::sim_calls_to(&app.sim, customer).await.len(),
            1,
            "{customer} dialled more than once"
        );
    }
    // The chaos did happen: some webhooks reached us twice.
    let webhooks = sim_webhooks(&app).await;
    let mut tokens: Vec<&str> = webhooks
        .iter()
        .map(|w| w["idempotency_token"].as_str().unwrap())
        .collect();
    let sent = tokens.len();
    tokens.sort_unstable();
    tokens.dedup();
    assert!(tokens.len() < sent, "no webhook was duplicated");
}
