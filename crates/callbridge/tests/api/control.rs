//! Call control end to end: hold, mute, transfer and a third party, over HTTP against the
//! simulator, with what Twilio does about it (hold music fetched, participant events) read from
//! the simulator's own event stream.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;
use twilio_sim::{Answer, SimEvent};

use crate::calls_flow::{
    AGENT_PHONE, CUSTOMER, agent, customer_who_answers, keen_agent, leg, start, unreachable, view,
    wait_settled, wait_until,
};
use crate::helpers::{TestApp, expect_error, sim_calls_to, sim_hang_up, spawn_app};

const TARGET: &str = "+12025550177";
const PATIENCE: Duration = Duration::from_secs(60);

/// A call whose agent and customer are both in the conference; its id and the agent's token.
async fn talking(app: &TestApp, record: bool) -> (String, String) {
    let (_, token) = agent(app, "ctl@example.com", AGENT_PHONE, false).await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let id = start(
        app,
        &token,
        json!({"RecipientNumber": CUSTOMER, "Record": record}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until(app, &token, &id, |v| {
        v["state"] == "connected" && joined(v, "agent") && joined(v, "recipient")
    })
    .await;
    (id, token)
}

fn events(v: &Value) -> &Vec<Value> {
    v["events"].as_array().unwrap()
}

fn joined(v: &Value, role: &str) -> bool {
    events(v)
        .iter()
        .any(|e| e["kind"] == "participant-join" && e["role"] == role)
}

fn has_event(v: &Value, source: &str, kind: &str) -> bool {
    events(v)
        .iter()
        .any(|e| e["source"] == source && e["kind"] == kind)
}

fn party<'a>(v: &'a Value, label: &str) -> &'a Value {
    v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == label)
        .unwrap_or_else(|| panic!("no party {label} in {v:#}"))
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// POSTs and expects the 202 every accepted control request answers with.
async fn accepted(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let response = post(app, token, path, body).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{path}: {body}");
    assert_eq!(body["status"], "success", "{body}");
    body["data"].clone()
}

/// Waits for the simulator's first event that `wanted` accepts.
async fn sim_event(
    events: &mut Receiver<SimEvent>,
    wanted: impl Fn(&SimEvent) -> bool,
) -> SimEvent {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the simulator's events ended: {e}"),
            }
        }
    })
    .await
    .expect("the simulator never did it")
}

/// The simulator fetched callbridge's hold music, and got it.
async fn hold_music_fetched(events: &mut Receiver<SimEvent>) {
    let fetched = sim_event(
        events,
        |e| matches!(e, SimEvent::Webhook { kind, .. } if kind == "hold"),
    )
    .await;
    let SimEvent::Webhook { url, status, .. } = fetched else {
        unreachable!()
    };
    assert!(url.contains("/phone-to-phone/hold-music"), "{url}");
    assert_eq!(status, Some(200), "{url}");
}

async fn participant_event(events: &mut Receiver<SimEvent>, name: &str, call_sid: &str) {
    sim_event(events, |e| {
        matches!(e, SimEvent::Conference { event, call_sid: Some(sid), .. }
            if event == name && sid == call_sid)
    })
    .await;
}

fn sid(v: &Value, role: &str) -> String {
    leg(v, role)["call_sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn holding_the_customer_plays_callbridges_hold_music_and_shows_in_parties() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    let now = view(&app, &token, &id).await;
    let customer = sid(&now, "recipient");
    assert_eq!(party(&now, "customer")["hold"], false);
    assert_eq!(party(&now, "customer")["role"], "recipient");
    assert_eq!(party(&now, "agent")["number"], AGENT_PHONE);

    let mut sim = app.sim.subscribe();
    let path = format!("/calls/{id}/hold");
    accepted(
        &app,
        &token,
        &path,
        json!({"party": "customer", "hold": true}),
    )
    .await;
    participant_event(&mut sim, "participant-hold", &customer).await;
    hold_music_fetched(&mut sim).await;
    let held = wait_until(&app, &token, &id, |v| party(v, "customer")["hold"] == true).await;
    assert!(has_event(&held, "control", "hold"), "{held:#}");
    assert_eq!(party(&held, "agent")["hold"], false);

    // Form bodies work as JSON ones do.
    let response = app
        .client
        .post(app.url(&path))
        .bearer_auth(&token)
        .form(&[("party", "customer"), ("hold", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    participant_event(&mut sim, "participant-unhold", &customer).await;
    let back = wait_until(&app, &token, &id, |v| party(v, "customer")["hold"] == false).await;
    assert!(has_event(&back, "control", "unhold"), "{back:#}");
    assert_eq!(back["state"], "connected");
}

#[tokio::test]
async fn muting_the_agent_shows_in_parties_and_unmuting_undoes_it() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    let agent_sid = sid(&view(&app, &token, &id).await, "agent");
    let mut sim = app.sim.subscribe();
    let path = format!("/calls/{id}/mute");
    accepted(
        &app,
        &token,
        &path,
        json!({"party": "agent", "muted": true}),
    )
    .await;
    participant_event(&mut sim, "participant-mute", &agent_sid).await;
    let muted = wait_until(&app, &token, &id, |v| party(v, "agent")["muted"] == true).await;
    assert_eq!(party(&muted, "customer")["muted"], false);
    accepted(
        &app,
        &token,
        &path,
        json!({"party": "agent", "muted": false}),
    )
    .await;
    participant_event(&mut sim, "participant-unmute", &agent_sid).await;
    wait_until(&app, &token, &id, |v| party(v, "agent")["muted"] == false).await;
}

#[tokio::test]
async fn a_held_customer_hanging_up_still_ends_the_call() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    let customer = sid(&view(&app, &token, &id).await, "recipient");
    let mut sim = app.sim.subscribe();
    accepted(
        &app,
        &token,
        &format!("/calls/{id}/hold"),
        json!({"party": "customer", "hold": true}),
    )
    .await;
    participant_event(&mut sim, "participant-hold", &customer).await;
    sim_hang_up(&app.sim, &customer).await;
    let done = wait_settled(&app, &token, &id).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert!(has_event(&done, "conference", "conference-end"), "{done:#}");
    assert_eq!(leg(&done, "agent")["status"], "completed");
}

#[tokio::test]
async fn a_cold_transfer_to_another_agent_hands_them_the_call_and_the_recording_goes_on() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, true).await;
    // The other agent takes calls on their phone (their default mode).
    agent(&app, "colleague@example.com", TARGET, false).await;
    app.sim.set_number(TARGET, customer_who_answers());
    let customer = sid(&view(&app, &token, &id).await, "recipient");

    let mut sim = app.sim.subscribe();
    let started = accepted(
        &app,
        &token,
        &format!("/calls/{id}/transfer"),
        json!({"to": "colleague@example.com", "mode": "cold"}),
    )
    .await;
    assert!(
        has_event(&started, "control", "transfer-started"),
        "{started:#}"
    );
    // The customer and the agent wait on hold while the target rings.
    participant_event(&mut sim, "participant-hold", &customer).await;
    hold_music_fetched(&mut sim).await;
    let handed = wait_until(&app, &token, &id, |v| {
        has_event(v, "control", "transfer-completed")
            && leg(v, "agent")["status"] == "completed"
            && party(v, "customer")["hold"] == false
    })
    .await;
    assert_eq!(handed["state"], "connected", "{handed:#}");
    let third = party(&handed, "third");
    assert_eq!(third["number"], TARGET);
    assert_eq!(third["status"], "in-progress");
    let target_calls = sim_calls_to(&app.sim, TARGET).await;
    assert_eq!(target_calls.len(), 1);
    assert_eq!(target_calls[0]["conference"], format!("cb-{id}"));
    // The agent left without ending the conference: the customer is still in it.
    assert!(
        !has_event(&handed, "conference", "conference-end"),
        "{handed:#}"
    );

    // The target is the one whose leaving ends the call now.
    sim_hang_up(&app.sim, third["call_sid"].as_str().unwrap()).await;
    let done = wait_settled(&app, &token, &id).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(leg(&done, "recipient")["status"], "completed");
    // One recording, of the whole conference, across the hold and the transfer.
    let recordings = wait_until(&app, &token, &id, |v| {
        v["recording"]["status"] == "completed"
    })
    .await;
    assert!(
        recordings["recording"]["sid"]
            .as_str()
            .unwrap()
            .starts_with("RE")
    );
    let stored = app
        .store
        .recordings_for_call(id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
}

#[tokio::test]
async fn a_warm_transfer_lets_the_agent_talk_first_then_completes() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    app.sim.set_number(TARGET, customer_who_answers());
    let customer = sid(&view(&app, &token, &id).await, "recipient");
    let mut sim = app.sim.subscribe();
    let path = format!("/calls/{id}/transfer");
    accepted(&app, &token, &path, json!({"to": TARGET, "mode": "warm"})).await;
    participant_event(&mut sim, "participant-hold", &customer).await;
    hold_music_fetched(&mut sim).await;
    let consulting = wait_until(&app, &token, &id, |v| joined(v, "third")).await;
    // Not yet handed over: the agent is still there, unheld, the customer held.
    assert_eq!(party(&consulting, "agent")["hold"], false);
    assert_eq!(party(&consulting, "customer")["hold"], true);
    // One transfer at a time.
    let (status, _) = expect_error(post(&app, &token, &path, json!({"to": TARGET})).await).await;
    assert_eq!(status, 409);

    accepted(
        &app,
        &token,
        &format!("/calls/{id}/transfer/complete"),
        json!({}),
    )
    .await;
    participant_event(&mut sim, "participant-unhold", &customer).await;
    let handed = wait_until(&app, &token, &id, |v| {
        leg(v, "agent")["status"] == "completed" && party(v, "customer")["hold"] == false
    })
    .await;
    assert_eq!(handed["state"], "connected", "{handed:#}");
    // The customer hanging up ends it for the target too.
    sim_hang_up(&app.sim, &customer).await;
    let done = wait_settled(&app, &token, &id).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(party(&done, "third")["status"], "completed");
}

#[tokio::test]
async fn a_canceled_warm_transfer_hangs_up_the_target_and_gives_the_customer_back() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    app.sim.set_number(TARGET, customer_who_answers());
    let customer = sid(&view(&app, &token, &id).await, "recipient");
    let mut sim = app.sim.subscribe();
    accepted(
        &app,
        &token,
        &format!("/calls/{id}/transfer"),
        json!({"to": TARGET, "mode": "warm"}),
    )
    .await;
    wait_until(&app, &token, &id, |v| joined(v, "third")).await;
    accepted(
        &app,
        &token,
        &format!("/calls/{id}/transfer/cancel"),
        json!({}),
    )
    .await;
    participant_event(&mut sim, "participant-unhold", &customer).await;
    let back = wait_until(&app, &token, &id, |v| {
        has_event(v, "control", "party-left") && party(v, "customer")["hold"] == false
    })
    .await;
    assert_eq!(back["state"], "connected", "{back:#}");
    assert!(has_event(&back, "control", "transfer-canceled"));
    assert_eq!(party(&back, "agent")["status"], "in-progress");
    // Nothing under way any more: completing is refused.
    let (status, _) = expect_error(
        post(
            &app,
            &token,
            &format!("/calls/{id}/transfer/complete"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
}

async fn failed_transfer(answer: Answer, reason: &str) {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    app.sim.set_number(TARGET, unreachable(answer));
    let agent_sid = sid(&view(&app, &token, &id).await, "agent");
    let mut sim = app.sim.subscribe();
    accepted(
        &app,
        &token,
        &format!("/calls/{id}/transfer"),
        json!({"to": TARGET, "mode": "cold"}),
    )
    .await;
    participant_event(&mut sim, "participant-hold", &agent_sid).await;
    // The agent is brought back, off hold, and the event says why.
    participant_event(&mut sim, "participant-unhold", &agent_sid).await;
    let back = wait_until(&app, &token, &id, |v| {
        has_event(v, "control", "transfer-failed")
            && party(v, "agent")["hold"] == false
            && party(v, "customer")["hold"] == false
    })
    .await;
    assert_eq!(back["state"], "connected", "{back:#}");
    let stored = app
        .store
        .events_for_call(id.parse().unwrap())
        .await
        .unwrap();
    let failed = stored.iter().find(|e| e.kind == "transfer-failed").unwrap();
    assert_eq!(failed.payload["reason"], reason);
    // The call goes on as before: the agent can try again.
    app.sim.set_number(TARGET, customer_who_answers());
    wait_until(&app, &token, &id, |v| has_event(v, "control", "party-left")).await;
    accepted(
        &app,
        &token,
        &format!("/calls/{id}/participants"),
        json!({"to": TARGET}),
    )
    .await;
    wait_until(&app, &token, &id, |v| joined(v, "third")).await;
}

#[tokio::test]
async fn a_busy_transfer_target_brings_the_agent_back() {
    failed_transfer(Answer::Busy, "transfer_busy").await;
}

#[tokio::test]
async fn a_transfer_target_who_does_not_answer_brings_the_agent_back() {
    failed_transfer(Answer::NoAnswer, "transfer_no_answer").await;
}

#[tokio::test]
async fn a_third_party_is_added_and_removed() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    app.sim.set_number(TARGET, customer_who_answers());
    accepted(
        &app,
        &token,
        &format!("/calls/{id}/participants"),
        json!({"to": TARGET}),
    )
    .await;
    let three = wait_until(&app, &token, &id, |v| joined(v, "third")).await;
    assert_eq!(party(&three, "third")["number"], TARGET);
    // Only one third party at a time.
    let (status, _) = expect_error(
        post(
            &app,
            &token,
            &format!("/calls/{id}/participants"),
            json!({"to": TARGET}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    let third_sid = party(&three, "third")["call_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut sim = app.sim.subscribe();
    let removed = app
        .client
        .delete(app.url(&format!("/calls/{id}/participants/third")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 202);
    participant_event(&mut sim, "participant-leave", &third_sid).await;
    let two = wait_until(&app, &token, &id, |v| {
        party(v, "third")["status"] == "completed" && has_event(v, "control", "party-left")
    })
    .await;
    assert_eq!(two["state"], "connected", "{two:#}");
    assert_eq!(party(&two, "customer")["status"], "in-progress");
}

#[tokio::test]
async fn of_two_transfers_sent_at_once_one_is_dialled_and_the_other_refused() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    let other = "+12025550178";
    app.sim.set_number(TARGET, customer_who_answers());
    app.sim.set_number(other, customer_who_answers());
    let path = format!("/calls/{id}/transfer");
    let (first, second) = tokio::join!(
        post(&app, &token, &path, json!({"to": TARGET, "mode": "warm"})),
        post(&app, &token, &path, json!({"to": other, "mode": "warm"})),
    );
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409]);
    let three = wait_until(&app, &token, &id, |v| joined(v, "third")).await;
    let dialled = party(&three, "third")["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let (winner, loser) = if dialled == TARGET {
        (TARGET, other)
    } else {
        (other, TARGET)
    };
    assert_eq!(sim_calls_to(&app.sim, winner).await.len(), 1);
    assert!(sim_calls_to(&app.sim, loser).await.is_empty());
    let stored = app
        .store
        .events_for_call(id.parse().unwrap())
        .await
        .unwrap();
    let started = stored
        .iter()
        .filter(|e| e.kind == "transfer-started")
        .count();
    assert_eq!(started, 1);
}

#[tokio::test]
async fn a_refused_number_is_never_dialled() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    let abroad = "+442079460958";
    for (path, body) in [
        (
            format!("/calls/{id}/transfer"),
            json!({"to": abroad, "mode": "warm"}),
        ),
        (format!("/calls/{id}/participants"), json!({"to": abroad})),
    ] {
        let (status, body) = expect_error(post(&app, &token, &path, body).await).await;
        assert_eq!(status, 422, "{path}: {body}");
    }
    let (status, _) = expect_error(
        post(
            &app,
            &token,
            &format!("/calls/{id}/transfer"),
            json!({"to": "nobody@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = expect_error(
        post(
            &app,
            &token,
            &format!("/calls/{id}/hold"),
            json!({"party": "customer"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(sim_calls_to(&app.sim, abroad).await.is_empty());
    let now = view(&app, &token, &id).await;
    assert!(!has_event(&now, "control", "transfer-started"), "{now:#}");
}

#[tokio::test]
async fn control_of_a_finished_call_is_a_conflict_and_of_anothers_call_not_found() {
    let app = spawn_app().await;
    let (id, token) = talking(&app, false).await;
    let (_, stranger) = agent(&app, "stranger@example.com", "+14155550109", false).await;
    let hold = format!("/calls/{id}/hold");
    let body = json!({"party": "customer", "hold": true});
    let (status, _) = expect_error(post(&app, &stranger, &hold, body.clone()).await).await;
    assert_eq!(status, 404);

    let customer = sid(&view(&app, &token, &id).await, "recipient");
    sim_hang_up(&app.sim, &customer).await;
    wait_settled(&app, &token, &id).await;
    for (path, body) in [
        (hold.clone(), body.clone()),
        (
            format!("/calls/{id}/mute"),
            json!({"party": "agent", "muted": true}),
        ),
        (format!("/calls/{id}/transfer"), json!({"to": TARGET})),
        (format!("/calls/{id}/transfer/complete"), json!({})),
        (format!("/calls/{id}/transfer/cancel"), json!({})),
        (format!("/calls/{id}/participants"), json!({"to": TARGET})),
    ] {
        let (status, body) = expect_error(post(&app, &token, &path, body).await).await;
        assert_eq!(status, 409, "{path}: {body}");
    }
    let removed = app
        .client
        .delete(app.url(&format!("/calls/{id}/participants/third")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 409);
    assert!(sim_calls_to(&app.sim, TARGET).await.is_empty());
}

#[tokio::test]
async fn a_transfer_to_an_agent_who_takes_calls_in_the_browser_rings_their_browser() {
    let app = crate::helpers::spawn_browser_app_with(
        callbridge::store::testing::TestDatabase::default_backend().await,
        |_| {},
    )
    .await;
    let (id, token) = talking(&app, false).await;
    let (colleague, colleague_token) =
        agent(&app, "browser@example.com", "+14155550108", false).await;
    app.store
        .set_default_mode(colleague.id, callbridge::domain::CallMode::Browser)
        .await
        .unwrap();
    // Their page is open: a registered device, with a token from `/browser/token`.
    let minted = app
        .client
        .get(app.url("/browser/token"))
        .bearer_auth(&colleague_token)
        .send()
        .await
        .unwrap();
    let minted: Value = minted.json().await.unwrap();
    let jwt = minted["data"]["token"].as_str().unwrap();
    let device = app
        .client
        .post(app.sim.base_url().join("sim/devices").unwrap())
        .json(&json!({"token": jwt, "register": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(device.status(), 201);
    let device: Value = device.json().await.unwrap();
    let device = device["id"].as_str().unwrap().to_owned();

    let mut rings = app.sim.subscribe_devices();
    accepted(
        &app,
        &token,
        &format!("/calls/{id}/transfer"),
        json!({"to": "browser@example.com", "mode": "cold"}),
    )
    .await;
    let incoming = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(e) = rings.recv().await
                && e.event == "incoming"
            {
                return e.call_sid.unwrap();
            }
        }
    })
    .await
    .expect("the colleague's browser never rang");
    let answered = app
        .client
        .post(
            app.sim
                .base_url()
                .join(&format!("sim/devices/{device}/calls/{incoming}/accept"))
                .unwrap(),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 202, "{}", answered.text().await.unwrap());
    let handed = wait_until(&app, &token, &id, |v| {
        has_event(v, "control", "transfer-completed") && leg(v, "agent")["status"] == "completed"
    })
    .await;
    let third = party(&handed, "third");
    assert_eq!(
        third["number"],
        format!("client:agent_{}", colleague.id.as_uuid().simple())
    );
    assert_eq!(handed["state"], "connected", "{handed:#}");
}
