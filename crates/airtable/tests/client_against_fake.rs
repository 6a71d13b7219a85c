//! The client against the fake Airtable: reads, paging, batched updates, errors, and pacing.

use std::time::Duration;

use airtable::{
    Client, Config, Error, ListParams, RecordUpdate, SecretString,
    fake::{FakeAirtable, FakeConfig},
    pace::{GateConfig, RateGate},
};
use serde_json::{Map, Value, json};

/// Airtable's pace, with its 30-second pause shrunk to 300 ms.
const QUICK_PENALTY: GateConfig = GateConfig {
    penalty_scale: 0.01,
    ..GateConfig::AIRTABLE
};

fn client_for(fake: &FakeAirtable, table: &str, gate: GateConfig) -> Client {
    let mut config = Config::new(
        SecretString::from(fake.config().token.clone()),
        fake.config().base_id.clone(),
        table,
    );
    config.base_url = fake.base_url();
    config.gate = RateGate::new(gate);
    config.retry_backoff = Duration::from_millis(20);
    Client::new(config).unwrap()
}

fn client(fake: &FakeAirtable) -> Client {
    client_for(fake, &fake.config().table, QUICK_PENALTY)
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("fields must be an object, not {other}"),
    }
}

fn update(id: &str, value: Value) -> RecordUpdate {
    RecordUpdate {
        id: id.to_owned(),
        fields: fields(value),
    }
}

#[tokio::test]
async fn gets_a_record() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let id = fake.insert_record(json!({"Phone": "+14155550100", "Name": "Ada"}));
    let record = client(&fake).get_record(&id).await.unwrap();
    assert_eq!(record.id, id);
    assert_eq!(
        record.fields,
        fields(json!({"Phone": "+14155550100", "Name": "Ada"}))
    );
    let request = &fake.requests()[0];
    assert_eq!(
        (
            request.method.as_str(),
            request.path.as_str(),
            request.status
        ),
        (
            "GET",
            format!("/v0/appFakeBase000001/Leads/{id}").as_str(),
            200
        )
    );
}

#[tokio::test]
async fn table_names_travel_percent_encoded() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let id = fake.insert_record_into("Leads / Q3", json!({"Phone": "+14155550100"}));
    let record = client_for(&fake, "Leads / Q3", QUICK_PENALTY)
        .get_record(&id)
        .await
        .unwrap();
    assert_eq!(record.id, id);
    assert!(fake.requests()[0].path.contains("/Leads%20%2F%20Q3/"));
}

#[tokio::test]
async fn lists_a_whole_view_page_by_page_in_its_order() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let ids: Vec<String> = (0..230)
        .map(|i| fake.insert_record(json!({"Name": format!("Lead {i}"), "Phone": "+1415555"})))
        .collect();
    let mut view: Vec<String> = ids.iter().rev().step_by(2).cloned().collect();
    view.push("recDeletedLongAgo".to_owned());
    fake.set_view("To call", view.clone());
    let client = client(&fake);

    let all = client
        .list_all(Some("To call"), &["Name".to_owned()])
        .await
        .unwrap();
    let listed: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        listed,
        view[..115].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(all.iter().all(|r| r.fields.keys().eq(["Name"])));
    let pages: Vec<&str> = fake
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .map(|p| {
            assert!(
                p.contains("view=To+call") && p.contains("pageSize=100"),
                "{p}"
            );
            if p.contains("offset=") {
                "next"
            } else {
                "first"
            }
        })
        .collect();
    assert_eq!(pages, ["first", "next"]);

    let whole_table = client.list_all(None, &[]).await.unwrap();
    assert_eq!(whole_table.len(), 230);
    assert_eq!(whole_table[229].id, ids[229]);
}

#[tokio::test]
async fn a_page_carries_an_offset_until_the_last() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    for i in 0..5 {
        fake.insert_record(json!({"Name": i}));
    }
    let client = client(&fake);
    let mut params = ListParams {
        page_size: Some(2),
        ..ListParams::default()
    };
    let mut sizes = Vec::new();
    loop {
        let page = client.list_records(&params).await.unwrap();
        sizes.push(page.records.len());
        match page.offset {
            Some(offset) => params.offset = Some(offset),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
}

#[tokio::test]
async fn updates_a_batch_of_ten_in_one_request() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let ids: Vec<String> = (0..10)
        .map(|i| fake.insert_record(json!({"Name": format!("Lead {i}")})))
        .collect();
    let updates: Vec<RecordUpdate> = ids
        .iter()
        .map(|id| update(id, json!({"Call Status": "completed", "Call Duration": 42})))
        .collect();
    let updated = client(&fake).update_records(&updates, true).await.unwrap();
    assert_eq!(updated.len(), 10);
    assert_eq!(updated[3].fields["Name"], "Lead 3");
    assert_eq!(updated[3].fields["Call Duration"], 42);
    for id in &ids {
        assert_eq!(fake.field_history(id, "Call Status"), [json!("completed")]);
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "PATCH");
    assert_eq!(requests[0].path, "/v0/appFakeBase000001/Leads");
    let body = requests[0].body.as_ref().unwrap();
    assert_eq!(body["typecast"], true);
    insta::assert_json_snapshot!("patch_body_first_record", body["records"][0]);
}

#[tokio::test]
async fn eleven_records_never_leave_the_client_and_the_fake_refuses_them_too() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let ids: Vec<String> = (0..11).map(|_| fake.insert_record(json!({}))).collect();
    let updates: Vec<RecordUpdate> = ids.iter().map(|id| update(id, json!({"A": 1}))).collect();
    let error = client(&fake)
        .update_records(&updates, false)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TooManyRecords { count: 11 }));
    assert!(fake.requests().is_empty());

    let raw = reqwest::Client::new()
        .patch(fake.base_url().join("/v0/appFakeBase000001/Leads").unwrap())
        .bearer_auth(&fake.config().token)
        .json(&json!({"records": updates, "typecast": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 422);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["type"], "INVALID_REQUEST_UNKNOWN");
    assert!(fake.field_history(&ids[0], "A").is_empty());
}

#[tokio::test]
async fn errors_are_mapped_to_their_kind_and_permanence() {
    let fake = FakeAirtable::start(FakeConfig {
        fields: Some(vec!["Phone".to_owned(), "Call Status".to_owned()]),
        ..FakeConfig::default()
    })
    .await;
    let id = fake.insert_record(json!({"Phone": "+14155550100"}));
    let good = client(&fake);

    let missing = good.get_record("recDoesNotExist01").await.unwrap_err();
    assert_eq!(
        (missing.status(), missing.kind()),
        (Some(404), Some("NOT_FOUND"))
    );

    let unknown_field = good
        .update_records(&[update(&id, json!({"Call Stauts": "queued"}))], true)
        .await
        .unwrap_err();
    assert_eq!(unknown_field.kind(), Some("UNKNOWN_FIELD_NAME"));

    let unknown_row = good
        .update_records(
            &[update(
                "recDoesNotExist01",
                json!({"Call Status": "queued"}),
            )],
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(unknown_row.kind(), Some("ROW_DOES_NOT_EXIST"));

    let mut wrong_token = Config::new(SecretString::from("patWrong"), "appFakeBase000001", "Leads");
    wrong_token.base_url = fake.base_url();
    let unauthenticated = Client::new(wrong_token)
        .unwrap()
        .get_record(&id)
        .await
        .unwrap_err();
    assert_eq!(
        (unauthenticated.status(), unauthenticated.kind()),
        (Some(401), Some("AUTHENTICATION_REQUIRED"))
    );

    let mut wrong_base = Config::new(
        SecretString::from(fake.config().token.clone()),
        "appSomeoneElses0",
        "Leads",
    );
    wrong_base.base_url = fake.base_url();
    let forbidden = Client::new(wrong_base)
        .unwrap()
        .get_record(&id)
        .await
        .unwrap_err();
    assert_eq!(
        (forbidden.status(), forbidden.kind()),
        (Some(403), Some("INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"))
    );

    let unknown_table = client_for(&fake, "Nope", QUICK_PENALTY)
        .get_record(&id)
        .await
        .unwrap_err();
    assert_eq!(unknown_table.status(), Some(403));

    for error in [
        &missing,
        &unknown_field,
        &unknown_row,
        &unauthenticated,
        &forbidden,
    ] {
        assert!(error.is_permanent() && !error.is_retryable(), "{error}");
    }
    // Permanent errors are not repeated: one request each.
    assert_eq!(fake.requests().len(), 6);
}

#[tokio::test]
async fn a_429_pauses_the_gate_and_a_read_succeeds_after_it() {
    // Every request fails once the fake's lockout starts; a gate far above Airtable's pace
    // triggers it. The lockout outlasts the rolling second, as Airtable's 30 s do.
    let fake = FakeAirtable::start(FakeConfig {
        lockout: Duration::from_secs(1),
        ..FakeConfig::default()
    })
    .await;
    let id = fake.insert_record(json!({"Phone": "+14155550100"}));
    let greedy = client_for(
        &fake,
        "Leads",
        GateConfig {
            max_requests: 100,
            window: Duration::from_secs(1),
            // 30 s scaled to 1.2 s: longer than the fake's lockout.
            penalty_scale: 0.04,
        },
    );
    let mut refused = None;
    for _ in 0..6 {
        let update = update(&id, json!({"Call Status": "ringing"}));
        if let Err(error) = greedy.update_records(&[update], true).await {
            refused = Some(error);
            break;
        }
    }
    let refused = refused.expect("the sixth request in a second is refused");
    assert!(refused.is_rate_limited() && refused.is_retryable());
    assert_eq!(refused.kind(), Some("RATE_LIMIT_REACHED"));
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(30)));
    assert!(greedy.gate().paused_until().is_some());
    // A write is tried once: five landed, the refused one did not.
    assert_eq!(fake.field_history(&id, "Call Status").len(), 5);

    // The gate holds the read back for the (scaled) 30 s; by then the lockout is over.
    let record = greedy.get_record(&id).await.unwrap();
    assert_eq!(record.fields["Call Status"], "ringing");
    assert_eq!(fake.requests().last().unwrap().status, 200);
}

#[tokio::test]
async fn reads_ride_out_random_failures() {
    let fake = FakeAirtable::start(FakeConfig {
        fail_rate: 0.3,
        seed: 7,
        ..FakeConfig::default()
    })
    .await;
    let id = fake.insert_record(json!({"Phone": "+14155550100"}));
    let mut config = Config::new(
        SecretString::from(fake.config().token.clone()),
        "appFakeBase000001",
        "Leads",
    );
    config.base_url = fake.base_url();
    config.gate = RateGate::new(QUICK_PENALTY);
    config.read_attempts = 20;
    config.retry_backoff = Duration::from_millis(5);
    let client = Client::new(config).unwrap();
    for _ in 0..10 {
        assert_eq!(client.get_record(&id).await.unwrap().id, id);
    }
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().any(|s| *s == 429 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10);
    assert!(fake.max_requests_in_any_second() <= 5);
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let fake = FakeAirtable::start(FakeConfig {
            fail_rate: 0.5,
            seed,
            rate_limit: 1_000,
            ..FakeConfig::default()
        })
        .await;
        let id = fake.insert_record(json!({}));
        let http = reqwest::Client::new();
        let url = fake
            .base_url()
            .join(&format!("/v0/appFakeBase000001/Leads/{id}"))
            .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let answer = http
                .get(url.clone())
                .bearer_auth(&fake.config().token)
                .send()
                .await
                .unwrap();
            statuses.push(answer.status().as_u16());
        }
        statuses
    }
    let first = statuses(42).await;
    assert_eq!(first, statuses(42).await);
    assert!(
        first.contains(&200) && first.iter().any(|s| *s != 200),
        "{first:?}"
    );
}

#[tokio::test]
async fn the_default_pace_never_trips_the_fakes_limit() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let id = fake.insert_record(json!({}));
    let client = client(&fake);
    let reads: Vec<_> = (0..12)
        .map(|_| {
            let client = client.clone();
            let id = id.clone();
            tokio::spawn(async move { client.get_record(&id).await })
        })
        .collect();
    for read in reads {
        read.await.unwrap().unwrap();
    }
    assert!(fake.requests().iter().all(|r| r.status == 200));
    assert!(fake.max_requests_in_any_second() <= 5);
}
