//! Campaigns: a view called one record after another, with progress, pause, resume, cancel.

use airtable::fake::{FakeAirtable, FakeConfig};
use callbridge::store::testing::TestDatabase;
use serde_json::{Value, json};
use twilio_sim::Sim;

use crate::airtable_call::{
    Instance, assert_written_once_in_order, eventually, statuses, talker, writes_settled,
};
use crate::helpers::{expect_error, expect_success, sim_config};

/// `POST /airtable/campaigns/{id}/{action}` (pause, resume, cancel) with an empty body.
async fn campaign_action(app: &Instance, token: &str, id: &str, action: &str) -> reqwest::Response {
    let path = format!("/airtable/campaigns/{id}/{action}");
    app.post(&path, token, &json!({})).await
}

async fn progress(app: &Instance, token: &str, id: &str) -> Value {
    expect_success(app.get(&format!("/airtable/campaigns/{id}"), token).await).await["data"].clone()
}

#[tokio::test]
async fn a_campaign_calls_every_record_of_its_view_in_turn() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |raw| {
        raw.calls_per_second = Some("5".into());
    })
    .await;
    let (_, token) = app.agent("agent@example.com", "+14155550101").await;
    let mut view = Vec::new();
    for i in 0..4 {
        let phone = format!("+1202555{:04}", 200 + i);
        sim.set_number(&phone, talker(500));
        view.push(fake.insert_record(json!({"Phone": phone})));
    }
    let bad = fake.insert_record(json!({"Phone": "nope"}));
    view.insert(2, bad.clone());
    let skipped = fake.insert_record(json!({"Phone": "+12025550299"}));
    fake.set_view("To call", view.clone());

    let (status, _) = expect_error(
        app.post(
            "/airtable/campaigns",
            &token,
            &json!({"view": "To call", "agent": "other@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    let body = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &json!({"view": "To call", "agent": "agent@example.com"}),
        )
        .await,
    )
    .await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["total"], 5);
    assert_eq!(body["data"]["status"], "running");

    eventually("the campaign to complete", || async {
        progress(&app, &token, &id).await["status"] == "completed"
    })
    .await;
    let done = progress(&app, &token, &id).await;
    assert_eq!(done["counts"]["completed"], 4, "{done}");
    assert_eq!(done["counts"]["failed"], 1, "{done}");
    assert!(done["current"].is_null());
    for record in &view {
        eventually("the record's writes", || async {
            writes_settled(&app.store, record).await
        })
        .await;
    }
    for record in view.iter().filter(|r| **r != bad) {
        assert_written_once_in_order(&fake, record, "completed");
    }
    assert_eq!(statuses(&fake, &bad), ["failed: invalid phone number"]);
    assert!(
        statuses(&fake, &skipped).is_empty(),
        "not in the view, not called"
    );

    // Calls came one after another: each started after the previous one ended.
    let mut calls = Vec::new();
    for record in view.iter().filter(|r| **r != bad) {
        let id: callbridge::domain::CallId = fake.record(record).unwrap()["Call ID"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        calls.push(app.store.call_by_id(id).await.unwrap().unwrap());
    }
    for pair in calls.windows(2) {
        assert!(
            pair[1].created_at >= pair[0].ended_at.unwrap(),
            "calls overlapped"
        );
    }
    app.kill().await;
}

#[tokio::test]
async fn a_campaign_can_be_paused_resumed_and_canceled() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |raw| {
        // One call start per 100 s: however slow the machine, only the first record is called
        // before the test cancels.
        raw.calls_per_second = Some("0.01".into());
    })
    .await;
    let (_, token) = app.agent("agent@example.com", "+14155550101").await;
    let (_, other) = app.agent("other@example.com", "+14155550102").await;
    let view: Vec<String> = (0..3)
        .map(|i| fake.insert_record(json!({"Phone": format!("+1202555{:04}", 300 + i)})))
        .collect();
    fake.set_view("Leads view", view);
    let body = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &json!({"view": "Leads view", "agent": "agent@example.com"}),
        )
        .await,
    )
    .await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();

    let paused = expect_success(campaign_action(&app, &token, &id, "pause").await).await;
    assert_eq!(paused["data"]["status"], "paused");
    let (status, _) = expect_error(campaign_action(&app, &token, &id, "pause").await).await;
    assert_eq!(status, 409);
    let resumed = expect_success(campaign_action(&app, &token, &id, "resume").await).await;
    assert_eq!(resumed["data"]["status"], "running");
    // Someone else's campaign does not exist for them.
    let (status, _) =
        expect_error(app.get(&format!("/airtable/campaigns/{id}"), &other).await).await;
    assert_eq!(status, 404);

    let canceled = expect_success(campaign_action(&app, &token, &id, "cancel").await).await;
    assert_eq!(canceled["data"]["status"], "canceled");
    let counts = &canceled["data"]["counts"];
    let pending = counts["pending"].as_u64().unwrap();
    assert_eq!(pending, 0, "{counts}");
    assert!(counts["canceled"].as_u64().unwrap() >= 2, "{counts}");
    let (status, _) = expect_error(campaign_action(&app, &token, &id, "resume").await).await;
    assert_eq!(status, 409);
    let (status, _) = expect_error(
        app.post(
            "/airtable/campaigns",
            &token,
            &json!({"view": "No such view", "agent": "agent@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    app.kill().await;
}
