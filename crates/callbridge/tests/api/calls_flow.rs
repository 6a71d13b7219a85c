//! The call flow end to end: start a call over HTTP, let the simulator's number behaviours drive
//! it through the real webhooks, and read the outcome back from `GET /calls/{id}`.

use std::collections::BTreeMap;
use std::time::Duration;

use callbridge::domain::{EmailAddress, PhoneNumber};
use callbridge::store::{Agent, NewAgent};
use chrono::Utc;
use serde_json::{Value, json};
use twilio_sim::{Answer, NumberBehaviour};

use crate::helpers::{
    TestApp, backends, expect_error, expect_started, expect_success, sim_calls_to, sim_hang_up,
    spawn_app, spawn_app_on, spawn_app_with,
};

pub const AGENT_PHONE: &str = "+14155550101";
pub const CUSTOMER: &str = "+12025550123";

/// How long a test waits for a call to settle before failing; generous, since the machine may
/// be busy, and never an assertion about speed.
const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(40);

/// A verified agent stored directly (onboarding has its own tests and rate limits), and its
/// call token.
pub async fn agent(
    app: &TestApp,
    email: &str,
    phone: &str,
    record_by_default: bool,
) -> (Agent, String) {
    let now = Utc::now();
    let agent = app
        .store
        .insert_agent(NewAgent {
            email: EmailAddress::parse(email).unwrap(),
            email_verified_at: Some(now),
            phone: Some(PhoneNumber::parse(phone).unwrap()),
            phone_verified_at: Some(now),
            record_by_default,
        })
        .await
        .unwrap();
    let token = callbridge::auth::issue_call_token(&app.settings, &agent).unwrap();
    (agent, token)
}

/// An agent who answers and presses a key.
pub fn keen_agent() -> NumberBehaviour {
    NumberBehaviour {
        digits: Some("1".into()),
        ..NumberBehaviour::default()
    }
}

/// A customer who answers and stays on the line until someone hangs up: how long people talk is
/// the test's to decide (see [`hang_up_when_talking`]), never a race with the machine's load.
pub fn customer_who_answers() -> NumberBehaviour {
    NumberBehaviour::default()
}

/// A customer who answers, talks for three simulated seconds, and hangs up. The talk starts at
/// the answer, so on a very busy machine the agent may not be in the conference yet; tests that
/// compare whole event logs use [`customer_who_answers`] and hang up themselves.
pub fn chatty_customer() -> NumberBehaviour {
    NumberBehaviour {
        talk_ms: Some(3000),
        ..NumberBehaviour::default()
    }
}

pub fn unreachable(answer: Answer) -> NumberBehaviour {
    NumberBehaviour {
        answer,
        ..NumberBehaviour::default()
    }
}

/// `POST /phone-to-phone/start` with the token as a bearer; the reply's `data`.
pub async fn start(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app
        .client
        .post(app.url("/phone-to-phone/start"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    // 202 when Twilio took longer than CALL_START_WAIT to take the agent's leg (a busy machine):
    // the call goes on the same way.
    let body = expect_started(response).await;
    assert!(
        body["message"] == "Call initiated to agent"
            || body["message"]
                .as_str()
                .unwrap()
                .starts_with("Call created;"),
        "{body}"
    );
    body["data"].clone()
}

pub async fn view(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/calls/{id}")))
        .bearer_auth(token)
        // A stuck server fails the test instead of hanging it.
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    expect_success(response).await["data"].clone()
}

fn is_final_status(status: &str) -> bool {
    matches!(
        status,
        "completed" | "busy" | "no-answer" | "failed" | "canceled"
    )
}

/// Whether nothing more can arrive: the call is final, every leg reached a final status, and
/// every callback numbered before a leg's last one (or the conference's end) is in, since
/// Twilio may deliver them in any order.
pub fn settled(view: &Value) -> bool {
    let final_call = matches!(view["state"].as_str(), Some("completed" | "failed"));
    let events = view["events"].as_array().cloned().unwrap_or_default();
    let legs = view["legs"].as_array().cloned().unwrap_or_default();
    let all_before = |source: &str, call_sid: Option<&Value>, last: &Value| {
        let Some(last) = last["sequence_number"].as_i64() else {
            return false;
        };
        (0..=last).all(|n| {
            events.iter().any(|e| {
                e["source"] == source
                    && call_sid.is_none_or(|sid| e["call_sid"] == *sid)
                    && e["sequence_number"] == n
            })
        })
    };
    let legs_done = legs.iter().all(|leg| {
        let status = leg["status"].as_str().unwrap_or_default();
        is_final_status(status)
            && events
                .iter()
                .find(|e| e["call_sid"] == leg["call_sid"] && e["kind"] == status)
                .is_some_and(|last| all_before("call", Some(&leg["call_sid"]), last))
    });
    let started = events.iter().any(|e| e["kind"] == "conference-start");
    let conference_done = !started
        || events
            .iter()
            .find(|e| e["kind"] == "conference-end")
            .is_some_and(|end| all_before("conference", None, end));
    final_call && legs_done && conference_done
}

/// Polls `GET /calls/{id}` until `ready`, failing (with the last view) after [`PATIENCE`].
pub async fn wait_until(
    app: &TestApp,
    token: &str,
    id: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let current = view(app, token, id).await;
        if ready(&current) {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "call {id} did not settle: {current:#}"
        );
        tokio::time::sleep(POLL).await;
    }
}

pub async fn wait_settled(app: &TestApp, token: &str, id: &str) -> Value {
    wait_until(app, token, id, settled).await
}

/// Waits until both parties are in the conference, then hangs up `role`'s phone the way a
/// person would (through the simulator, so Twilio's callbacks follow).
pub async fn hang_up_when_talking(app: &TestApp, token: &str, id: &str, role: &str) {
    let talking = wait_until(app, token, id, |v| {
        let joined = v["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "participant-join")
            .count();
        v["state"] == "connected" && joined == 2
    })
    .await;
    sim_hang_up(&app.sim, leg(&talking, role)["call_sid"].as_str().unwrap()).await;
}

/// A call from start to a hang-up by the customer, settled.
pub async fn talk_then_customer_hangs_up(app: &TestApp, token: &str, id: &str) -> Value {
    hang_up_when_talking(app, token, id, "recipient").await;
    wait_settled(app, token, id).await
}

/// `(who, kind)` of every event, counted: `who` is the leg's role, or `conference`.
pub fn event_counts(view: &Value) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for event in view["events"].as_array().unwrap() {
        let who = event["role"].as_str().unwrap_or("conference");
        let key = format!("{who}:{}", event["kind"].as_str().unwrap());
        *counts.entry(key).or_default() += 1;
    }
    counts
}

pub fn expected(pairs: &[&str]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for pair in pairs {
        *counts.entry((*pair).to_owned()).or_default() += 1;
    }
    counts
}

/// The event log of a call that connected and ended normally.
pub fn connected_log(gather: &str) -> BTreeMap<String, usize> {
    let gather = format!("agent:{gather}");
    expected(&[
        "agent:initiated",
        "agent:ringing",
        "agent:in-progress",
        &gather,
        "agent:completed",
        "recipient:initiated",
        "recipient:ringing",
        "recipient:in-progress",
        "recipient:completed",
        "conference:conference-start",
        "agent:participant-join",
        "recipient:participant-join",
        "agent:participant-leave",
        "recipient:participant-leave",
        "conference:conference-end",
    ])
}

/// Everything the simulator noted about one call, as one string to search.
pub fn timeline(call: &Value) -> String {
    call["timeline"].to_string()
}

/// A call that has started and not ended; the state it shows depends on who wins the race
/// between the reply and Twilio's first callbacks.
pub fn assert_in_progress(view: &Value) {
    let state = view["state"].as_str().unwrap_or_default();
    assert!(
        matches!(
            state,
            "created" | "agent_ringing" | "agent_answered" | "recipient_ringing" | "connected"
        ),
        "{view:#}"
    );
}

pub fn leg<'a>(view: &'a Value, role: &str) -> &'a Value {
    view["legs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["role"] == role)
        .unwrap_or_else(|| panic!("no {role} leg in {view:#}"))
}

#[tokio::test]
async fn an_onboarded_agent_presses_a_key_and_talks_to_the_customer_on_both_backends() {
    for db in backends().await {
        let app = spawn_app_on(db).await;
        let token = app.onboard_agent("ada@example.com", AGENT_PHONE).await;
        app.sim.set_number(AGENT_PHONE, keen_agent());
        app.sim.set_number(CUSTOMER, customer_who_answers());

        let started = start(
            &app,
            &token,
            json!({"RecipientNumber": CUSTOMER, "ConferenceName": "Renewal & <upsell>"}),
        )
        .await;
        let id = started["id"].as_str().unwrap();
        // The reply is the call as stored when it was written: the simulator's first callbacks
        // may already have moved it on, but never to an end.
        assert_in_progress(&started);
        assert_eq!(started["label"], "Renewal & <upsell>");
        assert_eq!(started["conference"]["name"], format!("cb-{id}"));
        assert_eq!(started["agent"]["phone"], AGENT_PHONE);

        let done = talk_then_customer_hangs_up(&app, &token, id).await;
        assert_eq!(done["state"], "completed", "{done:#}");
        assert_eq!(done["reason"], Value::Null);
        let conference_sid = done["conference"]["sid"].as_str().unwrap();
        assert!(conference_sid.starts_with("CF"), "{done:#}");
        // The conversation lasted as long as the customer's leg.
        assert!(done["duration_secs"].is_i64(), "{done:#}");
        assert_eq!(
            done["duration_secs"],
            leg(&done, "recipient")["duration_secs"]
        );
        assert!(done["ended_at"].is_string());
        assert_eq!(leg(&done, "agent")["status"], "completed");
        assert_eq!(leg(&done, "recipient")["status"], "completed");
        assert_eq!(event_counts(&done), connected_log("key-pressed"));

        let customer_calls = sim_calls_to(&app.sim, CUSTOMER).await;
        assert_eq!(customer_calls.len(), 1);
        // The customer joined the call's own conference, not one named after the label.
        assert_eq!(customer_calls[0]["conference"], format!("cb-{id}"));
        assert_eq!(sim_calls_to(&app.sim, AGENT_PHONE).await.len(), 1);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_silent_agent_is_connected_anyway_as_the_seed_does() {
    let app = spawn_app().await;
    let (_, token) = agent(&app, "quiet@example.com", AGENT_PHONE, false).await;
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let id = start(&app, &token, json!({"RecipientNumber": CUSTOMER})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = talk_then_customer_hangs_up(&app, &token, &id).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(event_counts(&done), connected_log("silence"));
}

#[tokio::test]
async fn a_silent_agent_is_let_go_when_agent_silence_is_hangup() {
    let app = spawn_app_with(
        callbridge::store::testing::TestDatabase::default_backend().await,
        |raw| {
            raw.agent_silence = Some("hangup".into());
        },
    )
    .await;
    let (_, token) = agent(&app, "quiet@example.com", AGENT_PHONE, false).await;
    let id = start(&app, &token, json!({"RecipientNumber": CUSTOMER})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = wait_settled(&app, &token, &id).await;
    assert_eq!(done["state"], "failed");
    assert_eq!(done["reason"], "agent_hung_up");
    assert!(sim_calls_to(&app.sim, CUSTOMER).await.is_empty());
    let agent_call = &sim_calls_to(&app.sim, AGENT_PHONE).await[0];
    assert!(timeline(agent_call).contains("Goodbye"), "{agent_call:#}");
}

#[tokio::test]
async fn when_the_agent_does_not_take_the_call_the_customer_is_never_dialled() {
    let app = spawn_app().await;
    let cases = [
        (unreachable(Answer::Busy), "agent_busy", "busy"),
        (
            unreachable(Answer::NoAnswer),
            "agent_no_answer",
            "no-answer",
        ),
        (unreachable(Answer::Failed), "agent_failed", "failed"),
        // Answers, then hangs up before the prompt ends.
        (
            NumberBehaviour {
                talk_ms: Some(1000),
                ..NumberBehaviour::default()
            },
            "agent_hung_up",
            "completed",
        ),
    ];
    for (i, (behaviour, reason, status)) in cases.into_iter().enumerate() {
        let phone = format!("+1415555011{i}");
        let customer = format!("+1202555011{i}");
        let (_, token) = agent(&app, &format!("agent{i}@example.com"), &phone, false).await;
        app.sim.set_number(&phone, behaviour);
        let id = start(&app, &token, json!({"RecipientNumber": customer})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let done = wait_settled(&app, &token, &id).await;
        assert_eq!(done["state"], "failed", "{done:#}");
        assert_eq!(done["reason"], reason);
        assert_eq!(leg(&done, "agent")["status"], status);
        assert_eq!(done["legs"].as_array().unwrap().len(), 1);
        assert!(
            sim_calls_to(&app.sim, &customer).await.is_empty(),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn when_the_customer_does_not_take_the_call_the_agent_hears_why_and_is_released() {
    let app = spawn_app().await;
    let cases = [
        (Answer::Busy, "recipient_busy", "busy", "line is busy"),
        (
            Answer::NoAnswer,
            "recipient_no_answer",
            "no-answer",
            "did not answer",
        ),
        (
            Answer::Failed,
            "recipient_failed",
            "failed",
            "could not be placed",
        ),
    ];
    for (i, (answer, reason, status, spoken)) in cases.into_iter().enumerate() {
        let phone = format!("+1415555012{i}");
        let customer = format!("+1202555012{i}");
        let (_, token) = agent(&app, &format!("agent{i}@example.com"), &phone, false).await;
        app.sim.set_number(&phone, keen_agent());
        app.sim.set_number(&customer, unreachable(answer));
        let id = start(&app, &token, json!({"RecipientNumber": customer})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let done = wait_settled(&app, &token, &id).await;
        assert_eq!(done["state"], "failed", "{done:#}");
        assert_eq!(done["reason"], reason);
        assert_eq!(leg(&done, "recipient")["status"], status);
        // Released, not left on hold music: the agent's leg ended too.
        assert_eq!(leg(&done, "agent")["status"], "completed");
        let agent_call = &sim_calls_to(&app.sim, &phone).await[0];
        assert!(timeline(agent_call).contains(spoken), "{agent_call:#}");
        assert_eq!(sim_calls_to(&app.sim, &customer).await.len(), 1);
    }
}

#[tokio::test]
async fn the_agent_hanging_up_mid_conversation_ends_the_call_for_both() {
    let app = spawn_app().await;
    let (_, token) = agent(&app, "brief@example.com", AGENT_PHONE, false).await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    // Would stay on the line forever if the conference did not end.
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let id = start(&app, &token, json!({"RecipientNumber": CUSTOMER})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    hang_up_when_talking(&app, &token, &id, "agent").await;
    let done = wait_settled(&app, &token, &id).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(leg(&done, "recipient")["status"], "completed");
    assert_eq!(
        done["duration_secs"],
        leg(&done, "recipient")["duration_secs"]
    );
    assert!(done["duration_secs"].is_i64(), "{done:#}");
    assert_eq!(event_counts(&done), connected_log("key-pressed"));
}

#[tokio::test]
async fn a_recorded_call_stores_its_recording_on_both_backends() {
    for db in backends().await {
        let app = spawn_app_on(db).await;
        let (_, asks) = agent(&app, "asks@example.com", AGENT_PHONE, false).await;
        let (_, by_default) = agent(&app, "always@example.com", "+14155550102", true).await;
        for phone in [AGENT_PHONE, "+14155550102"] {
            app.sim.set_number(phone, keen_agent());
        }
        app.sim.set_number(CUSTOMER, customer_who_answers());
        app.sim.set_number("+12025550124", customer_who_answers());

        let first = start(
            &app,
            &asks,
            json!({"RecipientNumber": CUSTOMER, "Record": true}),
        )
        .await;
        let second = app
            .client
            .post(app.url("/call/start"))
            .form(&[("token", by_default.as_str()), ("to", "+12025550124")])
            .send()
            .await
            .unwrap();
        let second = expect_success(second).await["data"].clone();

        for (token, started) in [(&asks, &first), (&by_default, &second)] {
            let id = started["id"].as_str().unwrap();
            let done = talk_then_customer_hangs_up(&app, token, id).await;
            assert_eq!(done["state"], "completed", "{done:#}");
            // The recording's callback is the last to come.
            let recording = wait_for_recording(&app, id).await;
            assert_eq!(recording.status, "completed");
            assert!(recording.sid.starts_with("RE"));
            // What we stored is what Twilio holds.
            let twilio = callbridge::state::twilio_client(&app.settings).unwrap();
            let held = twilio.fetch_recording(&recording.sid).await.unwrap();
            assert_eq!(
                held.duration.as_deref(),
                Some(recording.duration_secs.unwrap().to_string().as_str())
            );
            assert_eq!(held.conference_sid, recording.conference_sid);
            assert!(recording.url.as_deref().unwrap().contains(&recording.sid));
            assert!(
                recording
                    .conference_sid
                    .as_deref()
                    .unwrap()
                    .starts_with("CF")
            );
        }
        app.stop().await;
    }
}

async fn wait_for_recording(app: &TestApp, id: &str) -> callbridge::store::Recording {
    let id = id.parse().unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let recordings = app.store.recordings_for_call(id).await.unwrap();
        if let Some(done) = recordings.iter().find(|r| r.status == "completed") {
            assert_eq!(recordings.len(), 1, "{recordings:?}");
            return done.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no recording: {recordings:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn start_refuses_what_it_must_and_says_why() {
    let app = spawn_app().await;
    let (_, token) = agent(&app, "rules@example.com", AGENT_PHONE, false).await;
    let post = |body: Value| {
        app.client
            .post(app.url("/phone-to-phone/start"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let cases = [
        (
            json!({"RecipientNumber": CUSTOMER, "AgentNumber": "+14155550199"}),
            403,
        ),
        (json!({"RecipientNumber": "12345"}), 400),
        (json!({"RecipientNumber": "+442079460958"}), 422),
        (json!({}), 400),
        (
            json!({"RecipientNumber": CUSTOMER, "ConferenceName": "x".repeat(201)}),
            400,
        ),
    ];
    for (body, status) in cases {
        let (got, error) = expect_error(post(body.clone()).await.unwrap()).await;
        assert_eq!(got, status, "{body} -> {error}");
    }
    let anonymous = app
        .client
        .post(app.url("/phone-to-phone/start"))
        .json(&json!({"RecipientNumber": CUSTOMER}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(anonymous).await.0, 401);
    // Nothing was dialled and nothing stored for any refused request.
    assert!(sim_calls_to(&app.sim, AGENT_PHONE).await.is_empty());
    let calls = expect_success(
        app.client
            .get(app.url("/calls"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(calls["data"]["calls"].as_array().unwrap().len(), 0);

    // The agent's own number, spelled differently, is fine.
    let data = start(
        &app,
        &token,
        json!({"RecipientNumber": "+1 (202) 555-0123", "AgentNumber": "+1 415 555 0101"}),
    )
    .await;
    assert_eq!(data["recipient"], CUSTOMER);
}

#[tokio::test]
async fn an_agent_starting_too_many_calls_is_told_to_wait() {
    let app = spawn_app().await;
    let (_, token) = agent(&app, "eager@example.com", AGENT_PHONE, false).await;
    app.sim.set_number(AGENT_PHONE, unreachable(Answer::Failed));
    let max = callbridge::calls::start::CALL_STARTS_PER_AGENT.max as usize;
    // Windows are fixed, so the first one may close early: within two of them, a refusal comes.
    let mut accepted = 0;
    let refused = loop {
        assert!(accepted <= 2 * max, "{accepted} starts and no 429");
        let response = app
            .client
            .post(app.url("/call/start"))
            .json(&json!({"token": token, "to": CUSTOMER}))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            break response;
        }
        expect_success(response).await;
        accepted += 1;
    };
    assert!(accepted >= max, "refused after {accepted}");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(expect_error(refused).await.0, 429);
    // A refused start dials nobody.
    assert_eq!(sim_calls_to(&app.sim, AGENT_PHONE).await.len(), accepted);
}

#[tokio::test]
async fn when_twilio_cannot_be_reached_the_call_fails_as_unavailable_and_503() {
    let app = spawn_app_with(
        callbridge::store::testing::TestDatabase::default_backend().await,
        |raw| {
            // Nothing listens on the discard port: every REST request fails.
            raw.twilio_base_url = Some("http://127.0.0.1:9/".into());
        },
    )
    .await;
    let (_, token) = agent(&app, "unlucky@example.com", AGENT_PHONE, false).await;
    let response = app
        .client
        .post(app.url("/phone-to-phone/start"))
        .bearer_auth(&token)
        .form(&[("RecipientNumber", CUSTOMER)])
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("retry-after"));
    let (status, _) = expect_error(response).await;
    assert_eq!(status, 503);
    let calls = expect_success(
        app.client
            .get(app.url("/calls"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let call = &calls["data"]["calls"][0];
    assert_eq!(call["state"], "failed");
    assert_eq!(call["reason"], "twilio_unavailable");
}
