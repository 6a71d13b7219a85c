//! Live call streams end when their token stops holding, and an agent holds only so many.

use std::time::Duration;

use callbridge::calls::live::MAX_STREAMS_PER_AGENT;
use callbridge::demo::sse::{SseFrame, SseParser};
use callbridge::store::testing::TestDatabase;
use chrono::Utc;
use serde_json::Value;

use crate::calls_log::{agent_with_token, new_call};
use crate::helpers::{TestApp, expect_error, spawn_app, spawn_app_with};

const DEADLINE: Duration = Duration::from_secs(30);

async fn open_stream(app: &TestApp, id: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/calls/{id}/events")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Reads frames until the server ends the stream.
async fn frames_until_closed(mut response: reqwest::Response) -> Vec<SseFrame> {
    assert_eq!(response.status(), 200);
    let mut parser = SseParser::new();
    let mut frames = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            frames.extend(parser.feed(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the stream did not close; got {frames:?}"));
    frames
}

#[tokio::test]
async fn a_stream_ends_once_its_agent_is_revoked() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
        raw.live_token_recheck = Some("100ms".into());
    })
    .await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    // A call that never ends by itself.
    let call = new_call(&app, &ada, "open").await;
    let response = open_stream(&app, &call.id.to_string(), &token).await;
    assert_eq!(response.status(), 200);
    app.store.revoke_agent(ada.id, Utc::now()).await.unwrap();
    let frames = frames_until_closed(response).await;
    let last = frames.last().expect("frames");
    assert_eq!(last.event, "error", "{frames:?}");
    let body: Value = serde_json::from_str(&last.data).unwrap();
    assert_eq!(body["code"], 401, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
}

#[tokio::test]
async fn an_agent_holds_at_most_ten_streams_and_a_closed_one_frees_its_place() {
    let app = spawn_app().await;
    let (ada, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let call = new_call(&app, &ada, "open").await;
    let id = call.id.to_string();
    let mut open = Vec::new();
    for _ in 0..MAX_STREAMS_PER_AGENT {
        let response = open_stream(&app, &id, &token).await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    let (status, body) = expect_error(open_stream(&app, &id, &token).await).await;
    assert_eq!(status, 429, "{body}");
    // Another agent is not held back by Ada's streams.
    let (bob, bob_token) = agent_with_token(&app, "bob@example.com", "+14155550122").await;
    let bobs_call = new_call(&app, &bob, "open").await;
    let response = open_stream(&app, &bobs_call.id.to_string(), &bob_token).await;
    assert_eq!(response.status(), 200);

    // The server learns that a client left only when it next reads or writes, so this polls.
    drop(open.pop());
    let started = tokio::time::Instant::now();
    loop {
        let response = open_stream(&app, &id, &token).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 429);
        assert!(
            started.elapsed() < DEADLINE,
            "the closed stream's place was not freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
