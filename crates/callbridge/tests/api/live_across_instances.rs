//! A live stream on one instance follows a call whose webhooks another instance handles: the
//! instances tell each other through PostgreSQL, with no stream polling the database.

use std::time::Duration;

use callbridge::config::Settings;
use callbridge::demo::sse::SseParser;
use callbridge::store::testing::TestDatabase;
use serde_json::json;
use twilio_sim::Sim;

use crate::calls_flow::{AGENT_PHONE, CUSTOMER, chatty_customer, keen_agent};
use crate::helpers::{expect_started, sim_config, sim_settings, verified_agent};
use crate::killable::serve;

/// Well under the stream's token re-check (30 s), the only other thing that would wake it.
const WITHIN: Duration = Duration::from_secs(20);

fn instance(sim: &Sim, db: &TestDatabase) -> (Settings, std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let mut raw = sim_settings(db.url(), sim, &address);
    raw.live_token_recheck = Some("30s".into());
    (Settings::from_raw(raw).unwrap(), listener, address)
}

#[tokio::test]
async fn a_stream_on_one_instance_follows_a_call_another_instance_handles() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let sim = Sim::start(sim_config()).await.unwrap();
    sim.set_number(AGENT_PHONE, keen_agent());
    sim.set_number(CUSTOMER, chatty_customer());
    let store = callbridge::store::testing::open(db.url()).await.unwrap();
    // Twilio talks to `handling` only (its address is the public one); `watching` serves the stream.
    let (handling_settings, handling_listener, handling) = instance(&sim, &db);
    let (watching_settings, watching_listener, watching) = instance(&sim, &db);
    let _handling = serve(&handling_settings, db.url(), handling_listener);
    let _watching = serve(&watching_settings, db.url(), watching_listener);
    let (_, token) = verified_agent(
        store.as_ref(),
        &handling_settings,
        "across@example.com",
        AGENT_PHONE,
    )
    .await;

    let client = reqwest::Client::new();
    let started = client
        .post(format!("{handling}/call/start"))
        .bearer_auth(&token)
        .json(&json!({"to": CUSTOMER}))
        .send()
        .await
        .unwrap();
    let id = expect_started(started).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = client
        .get(format!("{watching}/calls/{id}/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut parser = SseParser::new();
    let mut states = Vec::new();
    tokio::time::timeout(WITHIN, async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            for frame in parser.feed(&chunk) {
                if frame.event == "state" {
                    let data: serde_json::Value = serde_json::from_str(&frame.data).unwrap();
                    states.push(data["state"].as_str().unwrap().to_owned());
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the stream did not follow the call to its end: {states:?}"));
    assert_eq!(
        states.last().map(String::as_str),
        Some("completed"),
        "{states:?}"
    );
}
