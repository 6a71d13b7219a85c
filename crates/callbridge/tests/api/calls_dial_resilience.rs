//! Dialling the customer when Twilio refuses, fails for a while, answers too late, or the
//! instance dialling dies mid-way: the dial is an effect queued with the agent's Gather action,
//! so the call always ends true — connected with the customer rung once, or failed with why and
//! the agent told.

use std::time::Duration;

use callbridge::config::{RawSettings, Settings};
use callbridge::domain::CallState;
use callbridge::store::OutboxStatus;
use callbridge::store::testing::TestDatabase;
use serde_json::{Value, json};
use twilio_sim::{CallsCreateFault, FaultError, Sim};

use crate::calls_flow::{
    AGENT_PHONE, CUSTOMER, agent, customer_who_answers, keen_agent, leg, start,
    talk_then_customer_hangs_up, wait_settled, wait_until,
};
use crate::helpers::{
    TestApp, sim_calls_to, sim_config, sim_hang_up, sim_settings, spawn_app_with, verified_agent,
};
use crate::killable::serve;

const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(40);

fn fault_for_customer(error: Option<FaultError>, delay_ms: u64, times: u32) -> CallsCreateFault {
    CallsCreateFault {
        delay_ms,
        error,
        to: Some(CUSTOMER.to_owned()),
        times: Some(times),
    }
}

async fn app(configure: impl FnOnce(&mut RawSettings)) -> TestApp {
    let app = spawn_app_with(TestDatabase::default_backend().await, configure).await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    app.sim.set_number(CUSTOMER, customer_who_answers());
    app
}

/// What the simulator's callee heard on the leg: its `say` lines.
async fn said(sim: &Sim, call_sid: &str) -> Vec<String> {
    let call = crate::helpers::sim_get(sim, &format!("/sim/calls/{call_sid}")).await;
    call["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["event"].as_str())
        .filter(|event| event.starts_with("say "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_customer_twilio_refuses_to_dial_fails_the_call_and_the_agent_hears_why() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "refused-dial@example.com", AGENT_PHONE, false).await;
    let refused = FaultError {
        status: 400,
        code: 21215,
    };
    app.sim
        .set_calls_create_fault(fault_for_customer(Some(refused), 0, 10));
    let started = start(&app, &token, json!({"RecipientNumber": CUSTOMER})).await;
    let id = started["id"].as_str().unwrap();
    let done = wait_settled(&app, &token, id).await;
    assert_eq!(done["state"], "failed", "{done:#}");
    assert_eq!(done["reason"], "twilio_error", "{done:#}");
    assert!(sim_calls_to(&app.sim, CUSTOMER).await.is_empty());
    // The agent's leg ends after hearing why; its final status comes in a callback.
    let agent_leg = wait_until(&app, &token, id, |v| {
        leg(v, "agent")["status"] == "completed"
    })
    .await;
    let sid = leg(&agent_leg, "agent")["call_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let heard = said(&app.sim, &sid).await;
    assert!(
        heard
            .iter()
            .any(|s| s.contains("the customer could not be dialled")),
        "{heard:?}"
    );
}

#[tokio::test]
async fn a_customer_dial_that_twilio_fails_twice_is_retried_and_the_call_connects() {
    let app = app(|_| {}).await;
    let (_, token) = agent(&app, "flaky-dial@example.com", AGENT_PHONE, false).await;
    let unavailable = FaultError {
        status: 503,
        code: 20500,
    };
    app.sim
        .set_calls_create_fault(fault_for_customer(Some(unavailable), 0, 2));
    let started = start(&app, &token, json!({"RecipientNumber": CUSTOMER})).await;
    let id = started["id"].as_str().unwrap();
    let done = talk_then_customer_hangs_up(&app, &token, id).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(sim_calls_to(&app.sim, CUSTOMER).await.len(), 1);
}

#[tokio::test]
async fn a_customer_dial_twilio_answers_too_late_for_rings_the_customer_once() {
    // Twilio takes longer than TWILIO_TIMEOUT to accept the customer's leg, and places it
    // anyway: the retry finds it at Twilio instead of dialling again.
    let app = app(|raw| raw.twilio_timeout = Some("500ms".into())).await;
    let (_, token) = agent(&app, "late-dial@example.com", AGENT_PHONE, false).await;
    app.sim
        .set_calls_create_fault(fault_for_customer(None, 1_200, 1));
    let started = start(&app, &token, json!({"RecipientNumber": CUSTOMER})).await;
    let id = started["id"].as_str().unwrap();
    let done = talk_then_customer_hangs_up(&app, &token, id).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(sim_calls_to(&app.sim, CUSTOMER).await.len(), 1);
}

pub async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn an_instance_killed_while_dialling_leaves_the_dial_to_the_next_one() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    sim.set_number(AGENT_PHONE, keen_agent());
    sim.set_number(CUSTOMER, customer_who_answers());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bound = listener.local_addr().unwrap();
    let address = format!("http://{bound}");
    let mut raw = sim_settings(db.url(), &sim, &address);
    raw.twilio_timeout = Some("1s".into());
    let settings = Settings::from_raw(raw).unwrap();
    let store = callbridge::store::testing::open(db.url()).await.unwrap();
    let (_, token) =
        verified_agent(store.as_ref(), &settings, "killed@example.com", AGENT_PHONE).await;

    // The customer's Calls.create hangs long enough for the instance to die under it.
    sim.set_calls_create_fault(fault_for_customer(None, 5_000, 1));
    let first = serve(&settings, db.url(), listener);
    let response = reqwest::Client::new()
        .post(format!("{address}/call/start"))
        .bearer_auth(&token)
        .json(&json!({"to": CUSTOMER}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let id: callbridge::domain::CallId = body["data"]["id"].as_str().unwrap().parse().unwrap();
    let key = format!("call:{id}");
    wait_for("the dial is claimed", async || {
        let rows = store.outbox_for_key(&key).await.unwrap();
        rows.iter()
            .any(|r| r.kind == "call.dial_recipient" && r.status == OutboxStatus::InFlight)
            .then_some(())
    })
    .await;
    first.kill();

    // The next instance takes the same address (Twilio's webhooks keep coming there).
    let listener = std::net::TcpListener::bind(bound).unwrap();
    let second = serve(&settings, db.url(), listener);
    let connected = wait_for("the call connects", async || {
        let call = store.call_by_id(id).await.unwrap().unwrap();
        (call.state == CallState::Connected).then_some(call)
    })
    .await;
    assert_eq!(connected.state, CallState::Connected);
    let customer = sim_calls_to(&sim, CUSTOMER).await;
    assert_eq!(customer.len(), 1, "{customer:#?}");
    sim_hang_up(&sim, customer[0]["sid"].as_str().unwrap()).await;
    wait_for("the call ends", async || {
        let call = store.call_by_id(id).await.unwrap().unwrap();
        call.state.is_final().then_some(())
    })
    .await;
    let done = store.call_by_id(id).await.unwrap().unwrap();
    assert_eq!(done.state, CallState::Completed);
    second.kill();
}
