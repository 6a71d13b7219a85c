//! The call log: `GET /calls` and `GET /calls/{id}`, and who may see what.

use callbridge::domain::{CallState, EmailAddress, EventSource, LegRole, PhoneNumber};
use callbridge::store::{Agent, Call, LegUpdate, NewAgent, NewCall, NewEvent};
use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error, expect_success, spawn_app};

pub const CUSTOMER: &str = "+12025550123";

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

/// A verified agent stored directly, and its call token.
pub async fn agent_with_token(app: &TestApp, email: &str, number: &str) -> (Agent, String) {
    let now = Utc::now();
    let agent = app
        .store
        .insert_agent(NewAgent {
            email: EmailAddress::parse(email).unwrap(),
            email_verified_at: Some(now),
            phone: Some(phone(number)),
            phone_verified_at: Some(now),
            record_by_default: false,
        })
        .await
        .unwrap();
    let token = callbridge::auth::issue_call_token(&app.settings, &agent).unwrap();
    (agent, token)
}

pub async fn new_call(app: &TestApp, agent: &Agent, label: &str) -> Call {
    app.store
        .create_call(NewCall {
            mode: callbridge::domain::CallMode::Phone,
            agent_id: agent.id,
            recipient: phone(CUSTOMER),
            agent_endpoint: agent.phone.clone().unwrap().into(),
            label: Some(label.into()),
            record: false,
        })
        .await
        .unwrap()
}

pub fn call_event(call: &Call, kind: &str, sid: &str) -> NewEvent {
    NewEvent {
        call_id: call.id,
        source: EventSource::Call,
        kind: kind.into(),
        call_sid: Some(sid.into()),
        dedupe_key: format!("{}:{sid}:{kind}", call.id),
        sequence_number: None,
        payload: json!({"CallSid": sid, "CallStatus": kind}),
        received_at: Utc::now(),
    }
}

pub async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_log_lists_only_the_agents_calls_newest_first_a_page_at_a_time() {
    let app = spawn_app().await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let (bob, _) = agent_with_token(&app, "bob@example.com", "+14155550122").await;
    let mut calls = Vec::new();
    for n in 0..5 {
        calls.push(new_call(&app, &ada, &format!("call {n}")).await);
    }
    new_call(&app, &bob, "not ada's").await;
    calls.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
    let newest_first: Vec<String> = calls.iter().map(|c| c.id.to_string()).collect();

    let mut seen = Vec::new();
    let mut path = "/calls?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = expect_success(get(&app, &path, &token).await).await;
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 2, "{page}");
        seen.extend(page_ids);
        pages += 1;
        match page["data"]["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, newest_first);

    let all = expect_success(get(&app, "/calls", &token).await).await;
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all["data"]["next"], Value::Null);
}

#[tokio::test]
async fn the_log_filters_by_state() {
    let app = spawn_app().await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let done = new_call(&app, &ada, "done").await;
    let failed = new_call(&app, &ada, "failed").await;
    new_call(&app, &ada, "still new").await;
    app.store
        .set_call_state(done.id, CallState::Completed, None)
        .await
        .unwrap();
    app.store
        .set_call_state(failed.id, CallState::Failed, Some("recipient_busy"))
        .await
        .unwrap();

    let page = expect_success(get(&app, "/calls?state=failed", &token).await).await;
    assert_eq!(ids(&page), [failed.id.to_string()]);
    assert_eq!(page["data"]["calls"][0]["reason"], "recipient_busy");
    let page = expect_success(get(&app, "/calls?state=completed,failed", &token).await).await;
    assert_eq!(ids(&page).len(), 2);
}

#[tokio::test]
async fn bad_paging_is_a_400_and_no_token_a_401() {
    let app = spawn_app().await;
    let (_, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    for path in [
        "/calls?limit=0",
        "/calls?limit=1000",
        "/calls?cursor=not-a-cursor",
        "/calls?state=ringing",
    ] {
        let (status, body) = expect_error(get(&app, path, &token).await).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    let (status, _) = expect_error(app.get("/calls").await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_call_shows_its_legs_and_its_events_in_order() {
    let app = spawn_app().await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let call = new_call(&app, &ada, "Tuvok & Spock").await;
    app.store
        .upsert_leg(LegUpdate {
            call_id: call.id,
            role: LegRole::Agent,
            call_sid: "CA0000000000000000000000000000000a".into(),
            status: "in-progress".into(),
            number: ada.phone.clone().unwrap().into(),
            duration_secs: None,
        })
        .await
        .unwrap();
    for kind in ["initiated", "ringing", "in-progress"] {
        let stored = app
            .store
            .record_event(call_event(
                &call,
                kind,
                "CA0000000000000000000000000000000a",
            ))
            .await
            .unwrap();
        assert!(stored);
    }

    let body = expect_success(get(&app, &format!("/calls/{}", call.id), &token).await).await;
    let data = &body["data"];
    assert_eq!(data["id"], call.id.to_string());
    assert_eq!(data["state"], "created");
    assert_eq!(data["label"], "Tuvok & Spock");
    assert_eq!(data["recipient"], CUSTOMER);
    assert_eq!(data["agent"]["email"], "ada@example.com");
    assert_eq!(data["conference"]["name"], call.id.conference_name());
    assert_eq!(data["legs"][0]["role"], "agent");
    assert_eq!(data["legs"][0]["status"], "in-progress");
    let kinds: Vec<&str> = data["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["initiated", "ringing", "in-progress"]);
    assert!(
        data["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["role"] == "agent")
    );
    assert_eq!(data["recording"], Value::Null);
}

#[tokio::test]
async fn another_agents_call_is_a_404_like_one_that_does_not_exist() {
    let app = spawn_app().await;
    let (ada, _) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let (_, bob_token) = agent_with_token(&app, "bob@example.com", "+14155550122").await;
    let call = new_call(&app, &ada, "ada's").await;

    let (status, theirs) =
        expect_error(get(&app, &format!("/calls/{}", call.id), &bob_token).await).await;
    assert_eq!(status, 404);
    let (status, missing) = expect_error(
        get(
            &app,
            &format!("/calls/{}", callbridge::domain::CallId::new()),
            &bob_token,
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(theirs, missing, "the answers must not tell the two apart");
    let (status, _) = expect_error(get(&app, "/calls/not-an-id", &bob_token).await).await;
    assert_eq!(status, 404);
    for path in [
        format!("/calls/{}/events", call.id),
        format!("/calls/{}/hangup", call.id),
    ] {
        let response = if path.ends_with("hangup") {
            app.client
                .post(app.url(&path))
                .bearer_auth(&bob_token)
                .send()
                .await
                .unwrap()
        } else {
            get(&app, &path, &bob_token).await
        };
        let (status, _) = expect_error(response).await;
        assert_eq!(status, 404, "{path}");
    }
    let unchanged = app.store.call_by_id(call.id).await.unwrap().unwrap();
    assert_eq!(unchanged.state, CallState::Created);
}
