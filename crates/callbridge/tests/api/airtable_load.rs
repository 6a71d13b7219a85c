//! The bar: 50 records, a fake Airtable failing one request in five with 429 or 503,
//! and callbridge killed and restarted half way. Every record ends with its call's outcome,
//! written once and in order, and Airtable never sees more than 5 requests in a second.

use airtable::fake::{FakeAirtable, FakeConfig};
use callbridge::domain::CallId;
use callbridge::store::OutboxStatus;
use callbridge::store::testing::TestDatabase;
use serde_json::json;
use twilio_sim::{Answer, NumberBehaviour, Sim};

use crate::airtable_call::{
    Instance, assert_written_once_in_order, call_record, eventually, outcome_of, talker,
    writes_settled,
};
use crate::helpers::sim_config;

const RECORDS: usize = 50;

/// A mix of outcomes: most talk, some are busy, some never answer.
fn behaviour(i: usize) -> NumberBehaviour {
    match i % 5 {
        3 => NumberBehaviour {
            answer: Answer::Busy,
            ..NumberBehaviour::default()
        },
        4 => NumberBehaviour {
            answer: Answer::NoAnswer,
            ..NumberBehaviour::default()
        },
        _ => talker(1_000 + 200 * (i as u64 % 4)),
    }
}

async fn run_on(db: TestDatabase) {
    let _turn = crate::helpers::one_heavy_test_at_a_time().await;
    let backend = db.backend().as_str();
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig {
        fail_rate: 0.2,
        seed: 7,
        ..FakeConfig::default()
    })
    .await;
    let mut records = Vec::new();
    for i in 0..RECORDS {
        let phone = format!("+1202555{:04}", 100 + i);
        sim.set_number(&phone, behaviour(i));
        records.push(fake.insert_record(json!({"Name": format!("lead {i}"), "Phone": phone})));
    }

    let first = Instance::start(&db, &sim, &fake, |_| {}).await;
    // Two agents: each stays under the per-agent limit on call starts.
    let (_, ada) = first.agent("ada@example.com", "+14155550101").await;
    let (_, bob) = first.agent("bob@example.com", "+14155550102").await;
    let tokens = [ada, bob];
    let mut calls: Vec<(String, CallId)> = Vec::new();
    for (i, record) in records.iter().enumerate().take(RECORDS / 2) {
        calls.push((
            record.clone(),
            call_record(&first, &tokens[i % 2], record).await,
        ));
    }
    // Airtable goes down while the calls run, so their outcomes pile up in the outbox.
    fake.set_fail_rate(1.0);
    eventually("the first half of the calls to end", || async {
        for (_, call) in &calls {
            if outcome_of(&first.store, *call).await.is_none() {
                return false;
            }
        }
        true
    })
    .await;
    // Writes are still queued or in flight: kill the instance now, as a crash would.
    let mut unfinished = 0;
    for record in &records {
        let key = callbridge::airtable::record_key(record);
        unfinished += first
            .store
            .outbox_for_key(&key)
            .await
            .unwrap()
            .iter()
            .filter(|r| !matches!(r.status, OutboxStatus::Done | OutboxStatus::Dead))
            .count();
    }
    first.kill().await;
    assert!(
        unfinished > 0,
        "{backend}: nothing was left for the restart to finish"
    );

    fake.set_fail_rate(0.2);
    let second = Instance::start(&db, &sim, &fake, |_| {}).await;
    for (i, record) in records.iter().enumerate().skip(RECORDS / 2) {
        calls.push((
            record.clone(),
            call_record(&second, &tokens[i % 2], record).await,
        ));
    }
    eventually("every call to end and every write to land", || async {
        for (record, call) in &calls {
            let Some(outcome) = outcome_of(&second.store, *call).await else {
                return false;
            };
            let written = fake
                .record(record)
                .and_then(|f| f.get("Call Status").cloned());
            if written != Some(json!(outcome)) || !writes_settled(&second.store, record).await {
                return false;
            }
        }
        true
    })
    .await;

    for (record, call) in &calls {
        let outcome = outcome_of(&second.store, *call).await.unwrap();
        assert_written_once_in_order(&fake, record, &outcome);
        let fields = fake.record(record).unwrap();
        assert_eq!(fields["Call ID"], json!(call.to_string()), "{backend}");
    }
    let failures = fake.requests().iter().filter(|r| r.status >= 400).count();
    assert!(
        failures > 0,
        "{backend}: the fake was meant to fail some requests"
    );
    eprintln!(
        "{backend}: {unfinished} writes unfinished at the crash, {} requests, {failures} failed",
        fake.requests().len()
    );
    let busiest = fake.max_requests_in_any_second();
    assert!(
        busiest <= 5,
        "{backend}: {busiest} requests reached Airtable in one second"
    );
    // Batching: far fewer writes than status changes.
    let patches = fake
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert!(patches > 0);
    second.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_records_end_written_once_in_order_through_failures_and_a_crash() {
    run_on(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_records_on_postgres() {
    if let Some(db) = TestDatabase::postgres().await {
        run_on(db).await;
    }
}
