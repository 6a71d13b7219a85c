//! `GET /calls/{id}/events` (Server-Sent Events) and `POST /calls/{id}/hangup`.

use std::time::Duration;

use callbridge::calls::live::StateView;
use callbridge::calls::view::EventView;
use callbridge::demo::sse::{SseFrame, SseParser};
use callbridge::domain::{CallState, LegRole};
use callbridge::store::LegUpdate;
use serde_json::Value;

use crate::calls_log::{agent_with_token, call_event, new_call};
use crate::helpers::{TestApp, backends, expect_error, spawn_app, spawn_app_on};

const AGENT_SID: &str = "CA0000000000000000000000000000000a";

/// Reads the stream until the server closes it, or fails the test after `within`.
async fn read_stream(mut response: reqwest::Response, within: Duration) -> Vec<SseFrame> {
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let mut parser = SseParser::new();
    let mut frames = Vec::new();
    tokio::time::timeout(within, async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            frames.extend(parser.feed(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the stream did not close; got {frames:?}"));
    frames
}

async fn open_stream(
    app: &TestApp,
    id: &str,
    token: &str,
    last: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url(&format!("/calls/{id}/events")))
        .bearer_auth(token);
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last);
    }
    request.send().await.unwrap()
}

/// `e:<kind>` for an event, `s:<state>` for a state change.
fn script(frames: &[SseFrame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f.event.as_str() {
            "event" => {
                let e: EventView = serde_json::from_str(&f.data).unwrap();
                assert_eq!(f.id.as_deref(), Some(e.id.to_string().as_str()));
                format!("e:{}", e.kind)
            }
            "state" => {
                let s: StateView = serde_json::from_str(&f.data).unwrap();
                format!("s:{}", s.state)
            }
            other => panic!("unexpected event {other}"),
        })
        .collect()
}

/// Twilio's status callback for the agent's leg, signed.
async fn agent_callback(app: &TestApp, id: &str, status: &str) {
    let url = app.url(&format!("/phone-to-phone/status?call={id}&leg=agent"));
    let form: Vec<(String, String)> = [("CallSid", AGENT_SID), ("CallStatus", status)]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let signature = twilio::signature::sign(app.sim.auth_token(), &url, &form);
    let response = app
        .client
        .post(&url)
        .header("X-Twilio-Signature", signature)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{status}");
}

#[tokio::test]
async fn the_stream_delivers_events_and_states_in_order_and_closes_when_final() {
    for db in backends().await {
        stream_in_order(spawn_app_on(db).await).await;
    }
}

async fn stream_in_order(app: TestApp) {
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let call = new_call(&app, &ada, "live").await;
    app.store
        .record_event(call_event(&call, "initiated", AGENT_SID))
        .await
        .unwrap();

    let mut response = open_stream(&app, &call.id.to_string(), &token, None).await;
    assert_eq!(response.status(), 200);
    // Each step is Twilio's signed callback, sent only once the stream has shown the one before,
    // so the order the stream reports never depends on how fast the steps come.
    let mut steps = ["ringing", "in-progress", "completed"].into_iter();
    let mut parser = SseParser::new();
    let mut frames = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            let fresh = parser.feed(&chunk);
            let shows_state = fresh.iter().any(|f| f.event == "state");
            frames.extend(fresh);
            if shows_state && let Some(status) = steps.next() {
                agent_callback(&app, &call.id.to_string(), status).await;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the stream did not close; got {frames:?}"));
    assert_eq!(
        script(&frames),
        [
            "e:initiated",
            "s:created",
            "e:ringing",
            "s:agent_ringing",
            "e:in-progress",
            "s:agent_answered",
            "e:completed",
            // The agent hung up before the customer was dialled.
            "s:failed",
        ]
    );
    let last: StateView = serde_json::from_str(&frames.last().unwrap().data).unwrap();
    assert!(last.is_final);
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_only_what_followed() {
    let app = spawn_app().await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let call = new_call(&app, &ada, "resume").await;
    for kind in ["initiated", "ringing", "busy"] {
        app.store
            .record_event(call_event(&call, kind, AGENT_SID))
            .await
            .unwrap();
    }
    app.store
        .set_call_state(call.id, CallState::Failed, Some("agent_busy"))
        .await
        .unwrap();
    let id = call.id.to_string();

    let everything = read_stream(
        open_stream(&app, &id, &token, None).await,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        script(&everything),
        ["e:initiated", "e:ringing", "e:busy", "s:failed"]
    );
    let second = everything[1].id.clone().unwrap();
    let rest = read_stream(
        open_stream(&app, &id, &token, Some(&second)).await,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(script(&rest), ["e:busy", "s:failed"]);
    let state: StateView = serde_json::from_str(&rest[1].data).unwrap();
    assert_eq!(state.reason.as_deref(), Some("agent_busy"));
}

#[tokio::test]
async fn a_browser_may_pass_the_token_in_the_query() {
    let app = spawn_app().await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let call = new_call(&app, &ada, "browser").await;
    app.store
        .set_call_state(call.id, CallState::Completed, None)
        .await
        .unwrap();
    let url = app.url(&format!("/calls/{}/events?token={token}", call.id));
    let frames = read_stream(
        app.client.get(url).send().await.unwrap(),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(script(&frames), ["s:completed"]);
    let (status, _) = expect_error(
        app.client
            .get(app.url(&format!("/calls/{}/events", call.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
}

async fn hangup(app: &TestApp, id: &str, token: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/calls/{id}/hangup")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn hanging_up_a_call_twilio_never_saw_ends_it_then_says_409() {
    let app = spawn_app().await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let call = new_call(&app, &ada, "never rang").await;
    let id = call.id.to_string();

    let response = hangup(&app, &id, &token).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["state"], "failed");
    assert_eq!(body["data"]["reason"], "canceled");

    let (status, body) = expect_error(hangup(&app, &id, &token).await).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn hanging_up_ends_the_live_leg_at_twilio_and_may_be_repeated() {
    let app = spawn_app().await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let call = new_call(&app, &ada, "live leg").await;
    let twilio = callbridge::state::twilio_client(&app.settings).unwrap();
    let leg = twilio
        .create_call(&twilio::CreateCall::new(
            ada.phone.clone().unwrap().as_str(),
            app.settings.caller_id.as_str(),
            twilio::CallInstructions::Twiml("<Response><Pause length=\"600\"/></Response>".into()),
        ))
        .await
        .unwrap();
    app.store
        .upsert_leg(LegUpdate {
            call_id: call.id,
            role: LegRole::Agent,
            call_sid: leg.sid.clone(),
            status: "ringing".into(),
            number: ada.phone.clone().unwrap().into(),
            duration_secs: None,
        })
        .await
        .unwrap();
    let id = call.id.to_string();

    for _ in 0..2 {
        let response = hangup(&app, &id, &token).await;
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    }
    let ended = twilio.fetch_call(&leg.sid).await.unwrap();
    assert!(
        ended.status.is_some_and(twilio::CallStatus::is_final),
        "{:?}",
        ended.status
    );
}

#[tokio::test]
async fn shutting_down_ends_open_streams_instead_of_waiting_on_them() {
    let app = spawn_app().await;
    let (agent, token) = agent_with_token(&app, "shutdown@example.com", "+14155550177").await;
    let call = new_call(&app, &agent, "open at shutdown").await;
    let response = open_stream(&app, &call.id.to_string(), &token, None).await;
    assert_eq!(response.status(), 200);
    // The server stops although the call (and so its stream) is not over.
    tokio::time::timeout(Duration::from_secs(60), app.stop())
        .await
        .expect("the server did not stop with a stream open");
    let frames = read_stream(response, Duration::from_secs(60)).await;
    assert!(frames.iter().all(|f| f.event != "error"), "{frames:?}");
}
