//! The outbox's guarantees, on every backend: rows of one key in order, leases that expire,
//! claimers that never share a row, and a pacing budget that instances share.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::store::testing::TestDatabase;
use crate::store::testing::TestStore;
use crate::store::{NewOutboxRow, OutboxClaim, OutboxStatus};

fn row(key: &str, n: u32) -> NewOutboxRow {
    NewOutboxRow {
        kind: "test.job".into(),
        key: key.into(),
        payload: json!({"n": n}),
    }
}

fn claim(worker: &str, now: DateTime<Utc>, limit: u32) -> OutboxClaim {
    OutboxClaim {
        worker: worker.into(),
        family: "test",
        now,
        lease: Duration::from_secs(30),
        limit,
    }
}

async fn stores() -> Vec<(TestDatabase, Arc<dyn TestStore>)> {
    let mut out = Vec::new();
    for db in TestDatabase::all().await {
        let store = db.store().await;
        out.push((db, store));
    }
    out
}

#[tokio::test]
async fn only_the_oldest_unfinished_row_of_a_key_is_claimed() {
    for (db, store) in stores().await {
        let backend = db.backend().as_str();
        let a1 = store.enqueue(row("a", 1)).await.unwrap();
        let a2 = store.enqueue(row("a", 2)).await.unwrap();
        let b1 = store.enqueue(row("b", 1)).await.unwrap();
        assert_eq!((a1.seq, a2.seq, b1.seq), (1, 2, 1), "{backend}");

        let now = Utc::now() + chrono::Duration::seconds(1);
        let first = store.claim_outbox(&claim("w1", now, 10)).await.unwrap();
        let ids: Vec<&str> = first.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [a1.id.as_str(), b1.id.as_str()], "{backend}");
        assert!(first.iter().all(|r| r.status == OutboxStatus::InFlight));

        // a2 waits for a1, in flight or not.
        assert!(
            store
                .claim_outbox(&claim("w2", now, 10))
                .await
                .unwrap()
                .is_empty()
        );
        let followers = store.outbox_followers("a", a1.seq).await.unwrap();
        assert_eq!(followers.len(), 1, "{backend}");
        assert_eq!(followers[0].id, a2.id);

        assert!(store.complete_outbox(&a1.id, &[], "w1").await.unwrap());
        let next = store.claim_outbox(&claim("w2", now, 10)).await.unwrap();
        assert_eq!(next.len(), 1, "{backend}");
        assert_eq!(next[0].id, a2.id);
    }
}

#[tokio::test]
async fn a_retried_row_keeps_its_place_and_waits_its_backoff() {
    for (db, store) in stores().await {
        let backend = db.backend().as_str();
        let a1 = store.enqueue(row("a", 1)).await.unwrap();
        store.enqueue(row("a", 2)).await.unwrap();
        let now = Utc::now() + chrono::Duration::seconds(1);
        store.claim_outbox(&claim("w", now, 10)).await.unwrap();
        let later = now + chrono::Duration::seconds(10);
        assert!(
            store
                .retry_outbox(&a1.id, "w", "HTTP 503", later, false)
                .await
                .unwrap()
        );

        assert!(
            store
                .claim_outbox(&claim("w", now, 10))
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
        assert!(!store.outbox_ready("test", now).await.unwrap());
        let again = store.claim_outbox(&claim("w", later, 10)).await.unwrap();
        assert_eq!(again.len(), 1, "{backend}");
        assert_eq!(again[0].id, a1.id);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(again[0].last_error.as_deref(), Some("HTTP 503"));
    }
}

#[tokio::test]
async fn an_expired_lease_is_reclaimed_and_flagged_uncertain() {
    for (db, store) in stores().await {
        let backend = db.backend().as_str();
        let a1 = store.enqueue(row("a", 1)).await.unwrap();
        let now = Utc::now() + chrono::Duration::seconds(1);
        let first = store
            .claim_outbox(&claim("crashed", now, 10))
            .await
            .unwrap();
        assert!(!first[0].uncertain);

        let before_expiry = now + chrono::Duration::seconds(29);
        assert!(
            store
                .claim_outbox(&claim("w2", before_expiry, 10))
                .await
                .unwrap()
                .is_empty()
        );
        let after_expiry = now + chrono::Duration::seconds(31);
        let taken = store
            .claim_outbox(&claim("w2", after_expiry, 10))
            .await
            .unwrap();
        assert_eq!(taken.len(), 1, "{backend}");
        assert_eq!(taken[0].id, a1.id);
        assert!(
            taken[0].uncertain,
            "{backend}: its first delivery may have happened"
        );
        assert_eq!(taken[0].claimed_by.as_deref(), Some("w2"));

        // The crashed worker's late answer cannot settle a row it lost.
        assert!(!store.complete_outbox(&a1.id, &[], "crashed").await.unwrap());
        assert!(!store.kill_outbox(&a1.id, "crashed", "late").await.unwrap());
        assert!(store.complete_outbox(&a1.id, &[], "w2").await.unwrap());
    }
}

#[tokio::test]
async fn completing_a_row_settles_the_rows_it_stood_in_for() {
    for (db, store) in stores().await {
        let backend = db.backend().as_str();
        let a1 = store.enqueue(row("a", 1)).await.unwrap();
        let a2 = store.enqueue(row("a", 2)).await.unwrap();
        let a3 = store.enqueue(row("a", 3)).await.unwrap();
        let now = Utc::now() + chrono::Duration::seconds(1);
        store.claim_outbox(&claim("w", now, 10)).await.unwrap();
        assert!(
            store
                .complete_outbox(&a1.id, std::slice::from_ref(&a2.id), "w")
                .await
                .unwrap()
        );
        let rows = store.outbox_for_key("a").await.unwrap();
        let statuses: Vec<OutboxStatus> = rows.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                OutboxStatus::Done,
                OutboxStatus::Done,
                OutboxStatus::Pending
            ],
            "{backend}"
        );
        let next = store.claim_outbox(&claim("w", now, 10)).await.unwrap();
        assert_eq!(next[0].id, a3.id, "{backend}");
    }
}

#[tokio::test]
async fn a_dead_row_does_not_block_its_key() {
    for (db, store) in stores().await {
        let a1 = store.enqueue(row("a", 1)).await.unwrap();
        let a2 = store.enqueue(row("a", 2)).await.unwrap();
        let now = Utc::now() + chrono::Duration::seconds(1);
        store.claim_outbox(&claim("w", now, 10)).await.unwrap();
        assert!(
            store
                .kill_outbox(&a1.id, "w", "422 INVALID_VALUE")
                .await
                .unwrap()
        );
        let next = store.claim_outbox(&claim("w", now, 10)).await.unwrap();
        assert_eq!(next[0].id, a2.id, "{}", db.backend().as_str());
    }
}

#[tokio::test]
async fn concurrent_claimers_never_get_the_same_row() {
    for (db, store) in stores().await {
        let backend = db.backend().as_str();
        let store = Arc::new(store);
        for key in 0..60 {
            store.enqueue(row(&format!("k{key}"), 1)).await.unwrap();
        }
        let now = Utc::now() + chrono::Duration::seconds(1);
        let claimers: Vec<_> = (0..6)
            .map(|w| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let got = store
                            .claim_outbox(&claim(&format!("w{w}"), now, 4))
                            .await
                            .unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|r| r.id));
                    }
                })
            })
            .collect();
        let mut seen = HashSet::new();
        let mut total = 0;
        for claimer in claimers {
            for id in claimer.await.unwrap() {
                total += 1;
                assert!(seen.insert(id), "{backend}: a row was claimed twice");
            }
        }
        assert_eq!(total, 60, "{backend}");
    }
}

#[tokio::test]
async fn pacing_slots_are_spaced_and_a_pause_holds_them_back() {
    for (db, store) in stores().await {
        let backend = db.backend().as_str();
        let store = Arc::new(store);
        let now = Utc::now();
        let spacing = Duration::from_millis(200);
        // Several "instances" at once: every slot is distinct and spaced.
        let takers: Vec<_> = (0..10)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.take_pacing_slot("base", now, spacing).await })
            })
            .collect();
        let mut slots = Vec::new();
        for taker in takers {
            slots.push(taker.await.unwrap().unwrap());
        }
        slots.sort();
        for pair in slots.windows(2) {
            assert!(
                pair[1] - pair[0] >= chrono::Duration::milliseconds(200),
                "{backend}: {slots:?}"
            );
        }
        assert!(slots[0] >= now - chrono::Duration::milliseconds(1));

        // Stored to the millisecond.
        let until = DateTime::from_timestamp_millis(now.timestamp_millis() + 30_000).unwrap();
        store.pause_pacing("base", until).await.unwrap();
        store.pause_pacing("base", now).await.unwrap();
        let after = store.take_pacing_slot("base", now, spacing).await.unwrap();
        assert!(
            after >= until,
            "{backend}: a pause must hold every slot back: {after} < {until}"
        );
        // Another budget is not affected.
        let other = store.take_pacing_slot("calls", now, spacing).await.unwrap();
        assert!(other < until);
    }
}
