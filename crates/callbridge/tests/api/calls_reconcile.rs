//! Calls always end: callbacks lost while the service was down are made up for by asking
//! Twilio, and a hangup of a call Twilio already ended settles it.

use std::sync::Arc;

use callbridge::config::Settings;
use callbridge::domain::{CallId, CallState, PhoneNumber};
use callbridge::store::LegUpdate;
use callbridge::store::testing::TestDatabase;
use callbridge::store::testing::TestStore;
use serde_json::json;
use twilio_sim::Sim;

use crate::calls_dial_resilience::wait_for;
use crate::calls_flow::{AGENT_PHONE, CUSTOMER, customer_who_answers, keen_agent};
use crate::helpers::{
    expect_started, sim_calls_to, sim_config, sim_hang_up, sim_settings, spawn_app_with,
    verified_agent,
};
use crate::killable::serve;

const CALLS: usize = 3;

fn customer(n: usize) -> String {
    format!("+1202555{:04}", 300 + n)
}

#[tokio::test]
async fn calls_whose_callbacks_were_refused_while_the_service_was_down_end_after_a_restart() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    sim.set_number(AGENT_PHONE, keen_agent());
    for n in 0..CALLS {
        sim.set_number(&customer(n), customer_who_answers());
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bound = listener.local_addr().unwrap();
    let address = format!("http://{bound}");
    let mut raw = sim_settings(db.url(), &sim, &address);
    raw.reconcile_after = Some("1s".into());
    let settings = Settings::from_raw(raw).unwrap();
    let store: Arc<dyn TestStore> = callbridge::store::testing::open(db.url()).await.unwrap();
    let (_, token) = verified_agent(
        store.as_ref(),
        &settings,
        "restart@example.com",
        AGENT_PHONE,
    )
    .await;

    let first = serve(&settings, db.url(), listener);
    let client = reqwest::Client::new();
    let mut ids: Vec<CallId> = Vec::new();
    for n in 0..CALLS {
        let response = client
            .post(format!("{address}/call/start"))
            .bearer_auth(&token)
            .json(&json!({"to": customer(n)}))
            .send()
            .await
            .unwrap();
        let body = expect_started(response).await;
        ids.push(body["data"]["id"].as_str().unwrap().parse().unwrap());
    }
    for id in &ids {
        // Both parties in the conference: no TwiML is left to fetch, which would fail (and end
        // the call) once the service is down.
        wait_for("every call connects", async || {
            let call = store.call_by_id(*id).await.unwrap().unwrap();
            let events = store.events_for_call(*id).await.unwrap();
            let joined = events
                .iter()
                .filter(|e| e.kind == "participant-join")
                .count();
            (call.state == CallState::Connected && joined == 2).then_some(())
        })
        .await;
    }
    // Killed outright: no shutdown runs, and every callback from now on is refused.
    first.kill();
    for n in 0..CALLS {
        let legs = sim_calls_to(&sim, &customer(n)).await;
        sim_hang_up(&sim, legs[0]["sid"].as_str().unwrap()).await;
    }
    for n in 0..CALLS {
        wait_for("the simulator ends the calls", async || {
            let legs = sim_calls_to(&sim, &customer(n)).await;
            (legs[0]["status"] == "completed").then_some(())
        })
        .await;
    }
    for id in &ids {
        let call = store.call_by_id(*id).await.unwrap().unwrap();
        assert_eq!(call.state, CallState::Connected, "nobody told us yet");
    }

    let listener = std::net::TcpListener::bind(bound).unwrap();
    let second = serve(&settings, db.url(), listener);
    for id in &ids {
        let done = wait_for("every call ends after the restart", async || {
            let call = store.call_by_id(*id).await.unwrap().unwrap();
            call.state.is_final().then_some(call)
        })
        .await;
        assert_eq!(done.state, CallState::Completed, "{done:?}");
        let events = store.events_for_call(*id).await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.kind == "completed" && e.payload["reconciled"] == true),
            "{events:#?}"
        );
    }
    second.kill();
}

#[tokio::test]
async fn hanging_up_a_call_twilio_already_ended_settles_it() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |_| {}).await;
    let (agent, token) =
        crate::calls_flow::agent(&app, "gone@example.com", AGENT_PHONE, false).await;
    let call = callbridge::store::testing::fixture_call(app.store.as_ref(), &agent).await;
    // The call connected, as far as we know, on legs Twilio has no trace of any more.
    for (role, sid, number) in [
        (
            callbridge::domain::LegRole::Agent,
            "CA00000000000000000000000000000a01",
            AGENT_PHONE,
        ),
        (
            callbridge::domain::LegRole::Recipient,
            "CA00000000000000000000000000000a02",
            CUSTOMER,
        ),
    ] {
        app.store
            .upsert_leg(LegUpdate {
                call_id: call.id,
                role,
                call_sid: sid.into(),
                status: "in-progress".into(),
                number: PhoneNumber::parse(number).unwrap().into(),
                duration_secs: None,
            })
            .await
            .unwrap();
    }
    for state in [
        CallState::AgentRinging,
        CallState::RecipientRinging,
        CallState::Connected,
    ] {
        app.store
            .set_call_state(call.id, state, None)
            .await
            .unwrap();
    }
    let response = app
        .client
        .post(app.url(&format!("/calls/{}/hangup", call.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["state"], "completed", "{body:#}");
    // Once settled, another hangup is the usual conflict.
    let again = app
        .client
        .post(app.url(&format!("/calls/{}/hangup", call.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn a_call_whose_last_callback_was_stored_but_never_applied_ends_all_the_same() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
        raw.reconcile_after = Some("1s".into());
    })
    .await;
    let (agent, _) = crate::calls_flow::agent(&app, "busy@example.com", AGENT_PHONE, false).await;
    let call = callbridge::store::testing::fixture_call(app.store.as_ref(), &agent).await;
    // The busy callback stored its leg and then lost the database before the call moved.
    app.store
        .upsert_leg(LegUpdate {
            call_id: call.id,
            role: callbridge::domain::LegRole::Agent,
            call_sid: "CA00000000000000000000000000000b01".into(),
            status: "busy".into(),
            number: PhoneNumber::parse(AGENT_PHONE).unwrap().into(),
            duration_secs: Some(0),
        })
        .await
        .unwrap();
    let store = &app.store;
    let ended = wait_for("the reconciler ends the call", async || {
        let call = store.call_by_id(call.id).await.unwrap().unwrap();
        call.state.is_final().then_some(call)
    })
    .await;
    assert_eq!(ended.state, CallState::Failed, "{ended:?}");
    assert_eq!(ended.reason.as_deref(), Some("agent_busy"), "{ended:?}");
}
