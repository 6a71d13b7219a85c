//! Behaviour every backend must share; each test runs on SQLite and on PostgreSQL.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::testing::{TestDatabase, TestStore};
use super::*;
use crate::domain::{EventSource, LegRole};

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn new_agent(e: &str, p: Option<&str>) -> NewAgent {
    NewAgent {
        email: email(e),
        email_verified_at: Some(Utc.timestamp_millis_opt(1_750_000_000_123).unwrap()),
        phone: p.map(phone),
        phone_verified_at: None,
        record_by_default: true,
    }
}

async fn call_for(store: &dyn TestStore, agent: &Agent) -> Call {
    store
        .create_call(NewCall {
            mode: crate::domain::CallMode::Phone,
            agent_id: agent.id,
            recipient: phone("+14155550111"),
            agent_endpoint: agent.phone.clone().unwrap().into(),
            label: Some("Call between Tuvok & Spock".into()),
            record: false,
        })
        .await
        .unwrap()
}

/// The agent most tests need, with one call.
async fn agent_with_call(store: &dyn TestStore) -> (Agent, Call) {
    let agent = store
        .insert_agent(new_agent("a@example.com", Some("+14155550100")))
        .await
        .unwrap();
    let call = call_for(store, &agent).await;
    (agent, call)
}

fn event(call: &Call, key: &str, at_ms: i64) -> NewEvent {
    NewEvent {
        call_id: call.id,
        source: EventSource::Call,
        kind: "ringing".into(),
        call_sid: Some("CA123".into()),
        dedupe_key: key.into(),
        sequence_number: Some(1),
        payload: json!({"CallSid": "CA123", "CallStatus": "ringing"}),
        received_at: Utc.timestamp_millis_opt(at_ms).unwrap(),
    }
}

#[tokio::test]
async fn agents_are_found_by_id_email_and_phone() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let agent = store
            .insert_agent(new_agent("Ada@Example.com", Some("+14155550100")))
            .await
            .unwrap();
        assert_eq!(agent.email.as_str(), "ada@example.com");
        assert_eq!(agent.token_version, 0);
        assert!(agent.record_by_default);
        assert_eq!(
            agent.email_verified_at.unwrap().timestamp_millis(),
            1_750_000_000_123
        );
        assert_eq!(
            store.agent_by_id(agent.id).await.unwrap().as_ref(),
            Some(&agent)
        );
        assert_eq!(
            store
                .agent_by_email(&email("ada@example.com"))
                .await
                .unwrap()
                .as_ref(),
            Some(&agent)
        );
        assert_eq!(
            store
                .agent_by_phone(&phone("+14155550100"))
                .await
                .unwrap()
                .as_ref(),
            Some(&agent)
        );
        assert_eq!(
            store
                .agent_by_email(&email("bob@example.com"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.agent_by_id(AgentId::new()).await.unwrap(), None);
    }
}

#[tokio::test]
async fn duplicate_email_or_phone_is_a_conflict_but_many_agents_may_lack_a_phone() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        store
            .insert_agent(new_agent("a@example.com", Some("+14155550100")))
            .await
            .unwrap();
        let same_email = store.insert_agent(new_agent("A@example.com", None)).await;
        assert!(
            matches!(same_email, Err(StoreError::Conflict(_))),
            "{same_email:?}"
        );
        let same_phone = store
            .insert_agent(new_agent("b@example.com", Some("+1 415 555 0100")))
            .await;
        assert!(
            matches!(same_phone, Err(StoreError::Conflict(_))),
            "{same_phone:?}"
        );
        store
            .insert_agent(new_agent("c@example.com", None))
            .await
            .unwrap();
        store
            .insert_agent(new_agent("d@example.com", None))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_new_call_gets_its_own_conference_and_starts_created() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (agent, call) = agent_with_call(&*store).await;
        assert_eq!(call.state, CallState::Created);
        assert_eq!(call.conference_name, call.id.conference_name());
        assert_eq!(call.label.as_deref(), Some("Call between Tuvok & Spock"));
        assert_eq!(call.ended_at, None);
        let other = call_for(&*store, &agent).await;
        assert_ne!(other.conference_name, call.conference_name);
        assert_eq!(store.call_by_id(call.id).await.unwrap(), Some(call.clone()));
        let listed = store.calls_for_agent(agent.id, 10).await.unwrap();
        assert_eq!(
            listed.iter().map(|c| c.id).collect::<Vec<_>>(),
            [other.id, call.id]
        );
        assert_eq!(store.calls_for_agent(agent.id, 1).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_call_for_an_unknown_agent_is_refused() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let result = store
            .create_call(NewCall {
                mode: crate::domain::CallMode::Phone,
                agent_id: AgentId::new(),
                recipient: phone("+14155550111"),
                agent_endpoint: phone("+14155550100").into(),
                label: None,
                record: false,
            })
            .await;
        assert!(
            result.is_err(),
            "{:?}: foreign key not enforced",
            db.backend()
        );
    }
}

#[tokio::test]
async fn final_states_stamp_ended_at_once() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&*store).await;
        let ringing = store
            .set_call_state(call.id, CallState::AgentRinging, None)
            .await
            .unwrap();
        assert_eq!(ringing.state, CallState::AgentRinging);
        assert_eq!(ringing.ended_at, None);
        let failed = store
            .set_call_state(call.id, CallState::Failed, Some("agent_busy"))
            .await
            .unwrap();
        assert_eq!(failed.reason.as_deref(), Some("agent_busy"));
        let ended = failed.ended_at.expect("ended_at set on a final state");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let again = store
            .set_call_state(call.id, CallState::Completed, None)
            .await
            .unwrap();
        assert_eq!(again.ended_at, Some(ended));
        let missing = store
            .set_call_state(CallId::new(), CallState::Failed, None)
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    }
}

#[tokio::test]
async fn only_one_of_concurrent_transitions_wins() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&*store).await;
        let attempts = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .transition_call(
                        call.id,
                        &[CallState::Created],
                        CallState::RecipientRinging,
                        None,
                    )
                    .await
                    .unwrap()
            })
        });
        let wins = futures::future::join_all(attempts)
            .await
            .into_iter()
            .filter(|won| *won.as_ref().unwrap())
            .count();
        assert_eq!(wins, 1, "{:?}", db.backend());
        assert!(
            !store
                .transition_call(call.id, &[], CallState::Failed, None)
                .await
                .unwrap()
        );
        let now = store.call_by_id(call.id).await.unwrap().unwrap();
        assert_eq!(now.state, CallState::RecipientRinging);
        store.set_conference_sid(call.id, "CF123").await.unwrap();
        let with_sid = store.call_by_id(call.id).await.unwrap().unwrap();
        assert_eq!(with_sid.conference_sid.as_deref(), Some("CF123"));
    }
}

fn callback_write(call: &Call, key: &str, from: CallState) -> CallbackWrite {
    let mut write = CallbackWrite::of(event(call, key, 1_750_000_000_000));
    write.conference_sid = Some("CF1".into());
    write.call_duration_secs = Some(7);
    write.leg = Some(LegUpdate {
        call_id: call.id,
        role: LegRole::Recipient,
        call_sid: "CA123".into(),
        status: "completed".into(),
        number: phone("+14155550111").into(),
        duration_secs: Some(7),
    });
    write.recording = Some(RecordingUpdate {
        call_id: call.id,
        recording_sid: "RE1".into(),
        conference_sid: Some("CF1".into()),
        status: "in-progress".into(),
        duration_secs: None,
        url: None,
    });
    write.planned = Some(PlannedMove {
        from,
        to: CallState::Completed,
        reason: Some("hung_up"),
        effects: vec![NewOutboxRow {
            kind: "call.test".into(),
            key: format!("call:{}", call.id),
            payload: json!({}),
        }],
    });
    write
}

#[tokio::test]
async fn a_callback_writes_its_event_leg_recording_move_and_effects_together() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&*store).await;
        let written = store
            .write_callback(&callback_write(&call, "k1", CallState::Created))
            .await
            .unwrap();
        assert_eq!(
            (written.new_event, written.moved),
            (true, Some(true)),
            "{:?}",
            db.backend()
        );
        let stored = store.call_by_id(call.id).await.unwrap().unwrap();
        assert_eq!(stored.state, CallState::Completed);
        assert_eq!(stored.reason.as_deref(), Some("hung_up"));
        assert!(stored.ended_at.is_some());
        assert_eq!(stored.duration_secs, Some(7));
        assert_eq!(stored.conference_sid.as_deref(), Some("CF1"));
        let legs = store.legs_for_call(call.id).await.unwrap();
        assert_eq!(legs.len(), 1);
        assert_eq!(legs[0].status, "completed");
        assert_eq!(store.events_for_call(call.id).await.unwrap().len(), 1);
        let queued = store
            .outbox_for_key(&format!("call:{}", call.id))
            .await
            .unwrap();
        assert_eq!(queued.len(), 1, "{:?}", db.backend());
        // The same callback again: stored once, and a move planned from a state the call has
        // left neither happens nor queues anything; the conference first kept stays.
        let mut again = callback_write(&call, "k1", CallState::Created);
        again.conference_sid = Some("CF2".into());
        let written = store.write_callback(&again).await.unwrap();
        assert_eq!((written.new_event, written.moved), (false, Some(false)));
        let queued = store
            .outbox_for_key(&format!("call:{}", call.id))
            .await
            .unwrap();
        assert_eq!(queued.len(), 1, "{:?}", db.backend());
        let stored = store.call_by_id(call.id).await.unwrap().unwrap();
        assert_eq!(stored.conference_sid.as_deref(), Some("CF1"));
    }
}

#[tokio::test]
async fn a_callback_for_a_call_that_is_not_stored_writes_nothing() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&*store).await;
        let mut ghost = call.clone();
        ghost.id = CallId::new();
        let mut write = callback_write(&ghost, "ghost", CallState::Created);
        write.leg = None;
        write.recording = None;
        assert!(
            store.write_callback(&write).await.is_err(),
            "{:?}",
            db.backend()
        );
        assert!(store.events_for_call(ghost.id).await.unwrap().is_empty());
        assert!(
            store
                .outbox_for_key(&format!("call:{}", ghost.id))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn callbacks_arriving_together_are_each_written_once_and_a_faulty_one_fails_alone() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&*store).await;
        let mut ghost = call.clone();
        ghost.id = CallId::new();
        // 60 distinct events, each sent twice, and one for a call that is not stored, all at
        // once: they meet in the writer's queue.
        let mut writes = Vec::new();
        for n in 0..60 {
            for _ in 0..2 {
                writes.push(CallbackWrite::of(event(
                    &call,
                    &format!("together-{n}"),
                    1_750_000_000_000 + n,
                )));
            }
        }
        writes.insert(
            61,
            CallbackWrite::of(event(&ghost, "ghost", 1_750_000_000_000)),
        );
        let written =
            futures::future::join_all(writes.iter().map(|w| store.write_callback(w))).await;
        let failed: Vec<usize> = written
            .iter()
            .enumerate()
            .filter(|(_, w)| w.is_err())
            .map(|(n, _)| n)
            .collect();
        assert_eq!(failed, vec![61], "{:?}", db.backend());
        let new = written
            .iter()
            .filter(|w| w.as_ref().is_ok_and(|w| w.new_event))
            .count();
        assert_eq!(new, 60, "{:?}", db.backend());
        assert_eq!(store.events_for_call(call.id).await.unwrap().len(), 60);
        assert!(store.events_for_call(ghost.id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_page_holds_each_calls_newest_events_and_says_which_calls_had_more() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (agent, busy) = agent_with_call(&*store).await;
        let quiet = call_for(&*store, &agent).await;
        let many = EVENTS_PER_CALL_IN_A_PAGE + 5;
        for n in 0..many {
            let mut e = event(&busy, &format!("busy-{n}"), 1_750_000_000_000 + n as i64);
            if n == many - 2 {
                e.source = EventSource::Conference;
                e.payload = json!({"StatusCallbackEvent": "conference-start"});
            }
            if n == many - 1 {
                e.source = EventSource::Conference;
                e.payload = json!({
                    "StatusCallbackEvent": "participant-hold",
                    "FriendlyName": "cb-1",
                    "Hold": "true",
                    "Muted": "false",
                });
            }
            store.record_event(e).await.unwrap();
        }
        store
            .record_event(event(&quiet, "quiet-0", 1_750_000_000_000))
            .await
            .unwrap();
        let details = store
            .call_details(&[busy.clone(), quiet.clone()])
            .await
            .unwrap();
        assert_eq!(details.events_cut, [busy.id], "{:?}", db.backend());
        let of = |id: CallId| -> Vec<&CallEvent> {
            details.events.iter().filter(|e| e.call_id == id).collect()
        };
        let kept = of(busy.id);
        assert_eq!(kept.len(), EVENTS_PER_CALL_IN_A_PAGE, "{:?}", db.backend());
        // The newest, oldest first.
        assert_eq!(kept[0].dedupe_key, "busy-5");
        // Of a conference event, only a party's flags.
        assert_eq!(
            kept.last().unwrap().payload,
            json!({"Hold": "true", "Muted": "false"}),
            "{:?}",
            db.backend()
        );
        assert_eq!(
            kept[kept.len() - 2].payload,
            json!({}),
            "{:?}",
            db.backend()
        );
        assert_eq!(
            kept[0].payload,
            json!({}),
            "a call event's payload is not read"
        );
        assert_eq!(of(quiet.id).len(), 1);
        // A single call's snapshot has all of them.
        let (_, all) = store.call_snapshot(busy.id).await.unwrap().unwrap();
        assert_eq!(all.events.len(), many);
        assert!(all.events_cut.is_empty());
        assert_eq!(all.events[0].payload["CallStatus"], "ringing");
    }
}

#[tokio::test]
async fn legs_are_upserted_by_call_sid_and_keep_a_known_duration() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&*store).await;
        let update = |status: &str, duration: Option<i64>| LegUpdate {
            call_id: call.id,
            role: LegRole::Agent,
            call_sid: "CAagent".into(),
            status: status.into(),
            number: phone("+14155550100").into(),
            duration_secs: duration,
        };
        let first = store.upsert_leg(update("ringing", None)).await.unwrap();
        assert_eq!(first.status, "ringing");
        store
            .upsert_leg(update("completed", Some(42)))
            .await
            .unwrap();
        let late = store.upsert_leg(update("completed", None)).await.unwrap();
        assert_eq!(late.duration_secs, Some(42));
        assert_eq!(late.created_at, first.created_at);
        store
            .upsert_leg(LegUpdate {
                role: LegRole::Recipient,
                call_sid: "CArecipient".into(),
                number: phone("+14155550111").into(),
                ..update("busy", None)
            })
            .await
            .unwrap();
        let legs = store.legs_for_call(call.id).await.unwrap();
        assert_eq!(legs.len(), 2);
        assert_eq!(legs[0].role, LegRole::Agent);
        assert_eq!(legs[1].status, "busy");
    }
}

#[tokio::test]
async fn a_retried_webhook_is_stored_once_and_events_list_in_arrival_order() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&*store).await;
        assert!(store.record_event(event(&call, "k2", 2_000)).await.unwrap());
        assert!(!store.record_event(event(&call, "k2", 9_000)).await.unwrap());
        assert!(store.record_event(event(&call, "k1", 1_000)).await.unwrap());
        let events = store.events_for_call(call.id).await.unwrap();
        let keys: Vec<_> = events.iter().map(|e| e.dedupe_key.as_str()).collect();
        assert_eq!(keys, ["k1", "k2"]);
        assert_eq!(events[1].received_at.timestamp_millis(), 2_000);
        assert_eq!(events[0].payload["CallStatus"], "ringing");
        assert_eq!(events[0].source, EventSource::Call);
    }
}

#[tokio::test]
async fn concurrent_deliveries_of_one_webhook_store_one_event() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&*store).await;
        let deliveries = (0..8).map(|_| {
            let store = store.clone();
            let ev = event(&call, "same", 1_000);
            tokio::spawn(async move { store.record_event(ev).await.unwrap() })
        });
        let stored = futures::future::join_all(deliveries)
            .await
            .into_iter()
            .filter(|new| *new.as_ref().unwrap())
            .count();
        assert_eq!(stored, 1, "{:?}", db.backend());
        assert_eq!(store.events_for_call(call.id).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn test_databases_do_not_share_rows() {
    let (Some(a), Some(b)) = (
        TestDatabase::postgres().await,
        TestDatabase::postgres().await,
    ) else {
        return;
    };
    let (a, b) = (a.store().await, b.store().await);
    a.insert_agent(new_agent("a@example.com", None))
        .await
        .unwrap();
    assert_eq!(
        b.agent_by_email(&email("a@example.com")).await.unwrap(),
        None
    );
}

#[test]
fn a_server_going_away_is_unavailable_and_a_bad_query_is_not() {
    for code in ["57P01", "57P02", "57P03", "08006", "08001", "53300"] {
        assert!(is_server_unavailable(code), "{code}");
    }
    for code in ["23505", "42P01", "40001", "5"] {
        assert!(!is_server_unavailable(code), "{code}");
    }
    for code in ["53100", "25006", "58030"] {
        assert!(
            is_server_unavailable(code),
            "a full, read-only or failing server: {code}"
        );
    }
}

#[test]
fn a_sqlite_file_that_cannot_be_written_is_unavailable_and_a_constraint_is_not() {
    // SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC, SQLITE_BUSY,
    // SQLITE_CANTOPEN.
    for code in ["13", "8", "778", "1034", "5", "14"] {
        assert!(super::is_sqlite_unavailable(code), "{code}");
    }
    // SQLITE_CONSTRAINT_UNIQUE, SQLITE_ERROR, SQLITE_MISMATCH, not a number.
    for code in ["2067", "1", "20", "x"] {
        assert!(!super::is_sqlite_unavailable(code), "{code}");
    }
}

mod agents {
    use super::*;
    use crate::store::testing::TestDatabase;

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[tokio::test]
    async fn verifying_an_email_twice_keeps_one_agent() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let first = store
                .upsert_verified_email(&email("ada@example.com"), Utc::now())
                .await
                .unwrap();
            let second = store
                .upsert_verified_email(&email("ada@example.com"), Utc::now())
                .await
                .unwrap();
            assert_eq!(first.id, second.id);
            assert!(second.email_verified_at >= first.email_verified_at);
            assert_eq!(store.list_agents().await.unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn a_phone_binds_to_one_agent_and_revocation_is_lifted_by_a_new_binding() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let ada = store
                .upsert_verified_email(&email("ada@example.com"), Utc::now())
                .await
                .unwrap();
            let bob = store
                .upsert_verified_email(&email("bob@example.com"), Utc::now())
                .await
                .unwrap();
            let bound = store
                .bind_phone(ada.id, &phone("+14155550100"), Utc::now())
                .await
                .unwrap();
            assert_eq!(bound.phone, Some(phone("+14155550100")));
            assert!(matches!(
                store
                    .bind_phone(bob.id, &phone("+14155550100"), Utc::now())
                    .await,
                Err(StoreError::Conflict(_))
            ));

            let revoked = store.revoke_agent(ada.id, Utc::now()).await.unwrap();
            assert_eq!(revoked.token_version, bound.token_version + 1);
            assert!(revoked.revoked_at.is_some());
            let again = store
                .bind_phone(ada.id, &phone("+14155550100"), Utc::now())
                .await
                .unwrap();
            assert!(again.revoked_at.is_none());
            assert_eq!(
                again.token_version, revoked.token_version,
                "old tokens stay dead"
            );

            assert!(matches!(
                store.revoke_agent(AgentId::new(), Utc::now()).await,
                Err(StoreError::NotFound)
            ));
        }
    }
}

mod airtable {
    use std::sync::Arc;

    use crate::domain::CallState;
    use crate::store::testing::{FIXTURE_RECIPIENT, TestDatabase, fixture_agent};
    use crate::store::{NewCall, RecordCall, RecordLink, Store};

    async fn call_record(
        store: &dyn Store,
        agent: &crate::store::Agent,
        record: &str,
    ) -> RecordCall {
        let call = NewCall {
            mode: crate::domain::CallMode::Phone,
            agent_id: agent.id,
            recipient: FIXTURE_RECIPIENT.parse().unwrap(),
            agent_endpoint: agent.phone.clone().unwrap().into(),
            label: None,
            record: false,
        };
        let link = RecordLink {
            record_id: record,
            campaign_id: None,
        };
        store.create_linked_call(call, link).await.unwrap()
    }

    #[tokio::test]
    async fn a_record_has_one_call_in_progress_at_most_whoever_asks() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent = fixture_agent(store.as_ref(), "rec@example.com", "+14155550100").await;
            let attempts = (0..8).map(|_| {
                let (store, agent) = (Arc::clone(&store), agent.clone());
                tokio::spawn(async move { call_record(store.as_ref(), &agent, "recA").await })
            });
            let results: Vec<RecordCall> = futures::future::join_all(attempts)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            let created: Vec<_> = results
                .iter()
                .filter_map(|r| match r {
                    RecordCall::Created(call) => Some(call.id),
                    RecordCall::InProgress(_) => None,
                })
                .collect();
            assert_eq!(created.len(), 1, "{:?}: {results:?}", db.backend());
            for result in &results {
                if let RecordCall::InProgress(open) = result {
                    assert_eq!(*open, created[0]);
                }
            }
            // Refused calls left nothing behind.
            assert_eq!(store.calls_for_agent(agent.id, 20).await.unwrap().len(), 1);
            assert!(matches!(
                call_record(store.as_ref(), &agent, "recB").await,
                RecordCall::Created(_)
            ));

            store
                .set_call_state(created[0], CallState::Completed, None)
                .await
                .unwrap();
            let RecordCall::Created(next) = call_record(store.as_ref(), &agent, "recA").await
            else {
                panic!(
                    "{:?}: a record whose call ended can be called again",
                    db.backend()
                );
            };
            let link = store.link_for_call(next.id).await.unwrap().unwrap();
            assert_eq!(link.record_id, "recA");
            assert_eq!(
                call_record(store.as_ref(), &agent, "recA").await,
                RecordCall::InProgress(next.id)
            );
        }
    }
}

mod audit {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::EmailAddress;
    use crate::store::testing::TestDatabase;

    fn event(kind: &str, subject: &str, agent: Option<AgentId>, ms: i64) -> NewAuditEvent {
        NewAuditEvent {
            kind: kind.into(),
            actor: "setup".into(),
            subject: subject.into(),
            agent_id: agent,
            client_ip: Some("127.0.0.1".into()),
            detail: None,
            at: Utc.timestamp_millis_opt(ms).unwrap(),
        }
    }

    #[tokio::test]
    async fn an_agents_events_include_those_about_its_email_from_before_it_existed() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let email = EmailAddress::parse("ada@example.com").unwrap();
            store
                .record_audit(event("failed", "ada@example.com", None, 1_000))
                .await
                .unwrap();
            let agent = store
                .upsert_verified_email(&email, Utc::now())
                .await
                .unwrap();
            store
                .record_audit(event("verified", "ada@example.com", Some(agent.id), 2_000))
                .await
                .unwrap();
            store
                .record_audit(event("verified", "+14155550100", Some(agent.id), 3_000))
                .await
                .unwrap();
            store
                .record_audit(event("otp_sent", "someone@else.com", None, 4_000))
                .await
                .unwrap();
            let kinds: Vec<(String, String)> = store
                .audit_for_agent(agent.id, email.as_str(), 10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.subject))
                .collect();
            assert_eq!(
                kinds,
                [
                    ("failed".into(), "ada@example.com".into()),
                    ("verified".into(), "ada@example.com".into()),
                    ("verified".into(), "+14155550100".into()),
                ]
            );
            let newest = store
                .audit_for_agent(agent.id, email.as_str(), 1)
                .await
                .unwrap();
            assert_eq!(
                newest[0].subject, "+14155550100",
                "the newest, when limited"
            );
        }
    }
}

mod call_log {
    use crate::domain::{CallId, CallState, EmailAddress, EventSource, LegRole, PhoneNumber};
    use crate::store::testing::TestDatabase;
    use crate::store::{CallCursor, CallPageQuery};
    use crate::store::{LegUpdate, NewAgent, NewCall, NewEvent};

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[tokio::test]
    async fn pages_walk_the_log_newest_first_without_gaps_or_repeats() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let mut agents = Vec::new();
            for (email, number) in [
                ("a@example.com", "+14155550111"),
                ("b@example.com", "+14155550122"),
            ] {
                agents.push(
                    store
                        .insert_agent(NewAgent {
                            email: EmailAddress::parse(email).unwrap(),
                            email_verified_at: None,
                            phone: Some(phone(number)),
                            phone_verified_at: None,
                            record_by_default: false,
                        })
                        .await
                        .unwrap(),
                );
            }
            let mut mine = Vec::new();
            for n in 0..7 {
                for agent in &agents {
                    let call = store
                        .create_call(NewCall {
                            mode: crate::domain::CallMode::Phone,
                            agent_id: agent.id,
                            recipient: phone("+12025550123"),
                            agent_endpoint: agent.phone.clone().unwrap().into(),
                            label: Some(format!("{n}")),
                            record: false,
                        })
                        .await
                        .unwrap();
                    if agent.id == agents[0].id {
                        mine.push(call);
                    }
                }
            }
            store
                .set_call_state(mine[2].id, CallState::Failed, Some("agent_busy"))
                .await
                .unwrap();
            mine.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));

            let mut query = CallPageQuery {
                since: None,
                until: None,
                number_digits: None,
                agent: agents[0].id,
                states: Vec::new(),
                before: None,
                limit: 3,
            };
            let mut walked = Vec::new();
            loop {
                let page = store.calls_page(&query).await.unwrap();
                let Some(last) = page.last() else { break };
                query.before = Some(CallCursor {
                    created_at: last.created_at,
                    id: last.id,
                });
                walked.extend(page.iter().map(|c| c.id));
            }
            let expected: Vec<_> = mine.iter().map(|c| c.id).collect();
            assert_eq!(walked, expected, "{}", db.backend().as_str());

            let failed = store
                .calls_page(&CallPageQuery {
                    since: None,
                    until: None,
                    number_digits: None,
                    agent: agents[0].id,
                    states: vec![CallState::Failed, CallState::Completed],
                    before: None,
                    limit: 10,
                })
                .await
                .unwrap();
            assert_eq!(failed.len(), 1, "{}", db.backend().as_str());
            assert_eq!(failed[0].reason.as_deref(), Some("agent_busy"));
        }
    }

    #[tokio::test]
    async fn a_snapshot_is_the_call_with_its_legs_events_and_agent_or_none() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = crate::store::testing::fixture_agent_call(&*store, "snap@example.com").await;
            store
                .upsert_leg(LegUpdate {
                    call_id: call.id,
                    role: LegRole::Agent,
                    call_sid: "CA00000000000000000000000000000001".into(),
                    status: "ringing".into(),
                    number: call.agent_endpoint.clone(),
                    duration_secs: None,
                })
                .await
                .unwrap();
            store
                .record_event(NewEvent {
                    call_id: call.id,
                    source: EventSource::Call,
                    kind: "ringing".into(),
                    call_sid: Some("CA00000000000000000000000000000001".into()),
                    dedupe_key: "snap-1".into(),
                    sequence_number: Some(0),
                    payload: serde_json::json!({"CallStatus": "ringing"}),
                    received_at: chrono::Utc::now(),
                })
                .await
                .unwrap();
            let backend = db.backend().as_str();

            let (read, details) = store.call_snapshot(call.id).await.unwrap().unwrap();
            assert_eq!(read.id, call.id, "{backend}");
            assert_eq!(details.agents.len(), 1, "{backend}");
            assert_eq!(details.agents[0].id, call.agent_id, "{backend}");
            assert_eq!(details.legs.len(), 1, "{backend}");
            assert_eq!(details.legs[0].status, "ringing", "{backend}");
            assert_eq!(details.events.len(), 1, "{backend}");
            assert!(details.recordings.is_empty(), "{backend}");

            assert!(
                store.call_snapshot(CallId::new()).await.unwrap().is_none(),
                "{backend}"
            );
        }
    }
}

mod calls {
    use std::sync::Arc;

    use crate::domain::{CallMode, CallState, ClientIdentity, LegRole, PhoneNumber};
    use crate::store::testing::{TestDatabase, fixture_agent, fixture_agent_call};
    use crate::store::{InboundCall, InboundLeg, LegUpdate, NewCall};

    fn browser_call(agent: &crate::store::Agent) -> NewCall {
        NewCall {
            agent_id: agent.id,
            mode: CallMode::Browser,
            recipient: PhoneNumber::parse("+12025550123").unwrap(),
            agent_endpoint: ClientIdentity::for_agent(agent.id).into(),
            label: Some("from the browser".into()),
            record: true,
        }
    }

    fn inbound(sid: &str) -> InboundLeg {
        InboundLeg {
            call_sid: sid.into(),
            status: "in-progress".into(),
        }
    }

    #[tokio::test]
    async fn a_browsers_call_is_stored_with_its_leg_once_however_often_twilio_asks() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent = fixture_agent(store.as_ref(), "web@example.com", "+14155550100").await;
            let attempts = (0..8).map(|_| {
                let (store, agent) = (Arc::clone(&store), agent.clone());
                tokio::spawn(async move {
                    store
                        .create_inbound_call(browser_call(&agent), inbound("CAbrowser"))
                        .await
                        .unwrap()
                })
            });
            let results = futures::future::join_all(attempts).await;
            let created: Vec<_> = results
                .iter()
                .filter_map(|r| match r.as_ref().unwrap() {
                    InboundCall::Created(call) => Some(call.clone()),
                    InboundCall::Existing(_) => None,
                })
                .collect();
            assert_eq!(created.len(), 1, "{:?}", db.backend());
            let call = &created[0];
            for result in &results {
                if let InboundCall::Existing(existing) = result.as_ref().unwrap() {
                    assert_eq!(existing.id, call.id);
                }
            }
            assert_eq!(call.mode, CallMode::Browser);
            assert_eq!(call.state, CallState::Created);
            assert_eq!(
                call.agent_endpoint,
                ClientIdentity::for_agent(agent.id).into()
            );
            let legs = store.legs_for_call(call.id).await.unwrap();
            assert_eq!(legs.len(), 1);
            assert_eq!(legs[0].role, LegRole::Agent);
            assert_eq!(
                legs[0].number.to_twilio(),
                format!("client:{}", ClientIdentity::for_agent(agent.id))
            );
            let found = store.leg_by_sid("CAbrowser").await.unwrap().unwrap();
            assert_eq!(found.call_id, call.id);
            assert!(store.leg_by_sid("CAnobody").await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn an_agent_keeps_the_mode_they_chose() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent = fixture_agent(&*store, "mode@example.com", "+14155550100").await;
            assert_eq!(agent.default_mode, CallMode::Phone);
            let changed = store
                .set_default_mode(agent.id, CallMode::Browser)
                .await
                .unwrap();
            assert_eq!(changed.default_mode, CallMode::Browser);
            let read = store.agent_by_id(agent.id).await.unwrap().unwrap();
            assert_eq!(read.default_mode, CallMode::Browser);
            let nobody = store
                .set_default_mode(crate::domain::AgentId::new(), CallMode::Phone)
                .await;
            assert!(matches!(nobody, Err(crate::store::StoreError::NotFound)));
        }
    }

    #[tokio::test]
    async fn a_late_leg_status_never_moves_the_leg_back() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = fixture_agent_call(&*store, "legs@example.com").await;
            let leg = |status: &str| LegUpdate {
                call_id: call.id,
                role: LegRole::Recipient,
                call_sid: "CArecipient".into(),
                status: status.into(),
                number: call.recipient.clone().into(),
                duration_secs: None,
            };
            store.upsert_leg(leg("in-progress")).await.unwrap();
            let done = store
                .upsert_leg(LegUpdate {
                    duration_secs: Some(12),
                    ..leg("completed")
                })
                .await
                .unwrap();
            assert_eq!(done.status, "completed");
            for late in ["ringing", "initiated", "queued", "in-progress"] {
                let after = store.upsert_leg(leg(late)).await.unwrap();
                assert_eq!(after.status, "completed", "{late} on {:?}", db.backend());
                assert_eq!(after.duration_secs, Some(12));
            }
        }
    }

    #[tokio::test]
    async fn the_duration_is_stored_in_any_state() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = fixture_agent_call(&*store, "legs@example.com").await;
            store.set_call_duration(call.id, 31).await.unwrap();
            store
                .transition_call(call.id, &[CallState::Created], CallState::Completed, None)
                .await
                .unwrap();
            let read = store.call_by_id(call.id).await.unwrap().unwrap();
            assert_eq!(read.duration_secs, Some(31));
            assert_eq!(read.state, CallState::Completed);
            assert!(
                store
                    .set_call_duration(crate::domain::CallId::new(), 1)
                    .await
                    .is_err()
            );
        }
    }
}

mod idempotency {
    use std::sync::Arc;

    use chrono::{Duration, Utc};

    use super::*;
    use crate::domain::{EmailAddress, PhoneNumber};
    use crate::store::testing::{TestDatabase, TestStore};
    use crate::store::{NewAgent, NewCall};

    async fn agent(store: &dyn TestStore) -> AgentId {
        store
            .insert_agent(NewAgent {
                email: EmailAddress::parse("keys@example.com").unwrap(),
                email_verified_at: Some(Utc::now()),
                phone: Some(PhoneNumber::parse("+14155550100").unwrap()),
                phone_verified_at: Some(Utc::now()),
                record_by_default: false,
            })
            .await
            .unwrap()
            .id
    }

    fn claim(agent_id: AgentId, fingerprint: &str) -> KeyClaim<'_> {
        let now = Utc::now();
        KeyClaim {
            agent_id,
            key: "key-1",
            fingerprint,
            now,
            expired_before: now - Duration::hours(24),
        }
    }

    #[tokio::test]
    async fn a_key_is_claimed_once_then_holds_its_call_and_answer() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent_id = agent(&*store).await;
            assert_eq!(
                store.claim_key(&claim(agent_id, "f")).await.unwrap(),
                Claimed::New
            );
            let call = store
                .create_call(NewCall {
                    mode: crate::domain::CallMode::Phone,
                    agent_id,
                    recipient: PhoneNumber::parse("+12025550123").unwrap(),
                    agent_endpoint: PhoneNumber::parse("+14155550100").unwrap().into(),
                    label: None,
                    record: false,
                })
                .await
                .unwrap();
            store
                .bind_key_to_call(agent_id, "key-1", call.id)
                .await
                .unwrap();
            let Claimed::Taken(in_flight) = store.claim_key(&claim(agent_id, "g")).await.unwrap()
            else {
                panic!("claimed twice");
            };
            assert_eq!(in_flight.fingerprint, "f");
            assert_eq!(in_flight.call_id, Some(call.id));
            assert_eq!(in_flight.response, None);
            let answer = SavedResponse {
                status: 503,
                retry_after_secs: Some(4),
                body: "{}".into(),
            };
            store
                .save_key_response(agent_id, "key-1", &answer)
                .await
                .unwrap();
            let record = store.key_record(agent_id, "key-1").await.unwrap().unwrap();
            assert_eq!(record.response, Some(answer), "{:?}", db.backend());
            store.release_key(agent_id, "key-1").await.unwrap();
            assert_eq!(
                store.claim_key(&claim(agent_id, "g")).await.unwrap(),
                Claimed::New
            );
        }
    }

    #[tokio::test]
    async fn an_expired_key_is_claimed_afresh() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent_id = agent(&*store).await;
            let mut old = claim(agent_id, "f");
            old.now -= Duration::hours(25);
            assert_eq!(store.claim_key(&old).await.unwrap(), Claimed::New);
            assert_eq!(
                store.claim_key(&claim(agent_id, "g")).await.unwrap(),
                Claimed::New
            );
        }
    }

    #[tokio::test]
    async fn of_concurrent_claims_exactly_one_wins() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent_id = agent(&*store).await;
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move { store.claim_key(&claim(agent_id, "f")).await })
                })
                .collect();
            let mut won = 0;
            for task in tasks {
                if task.await.unwrap().unwrap() == Claimed::New {
                    won += 1;
                }
            }
            assert_eq!(won, 1, "{:?}", db.backend());
        }
    }
}

mod invites {
    use super::*;
    use crate::store::testing::TestDatabase;

    #[tokio::test]
    async fn an_invitation_is_kept_once_per_email() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let bob = EmailAddress::parse("Bob@Other.org").unwrap();
            let carol = EmailAddress::parse("carol@other.org").unwrap();
            assert!(!store.is_invited(&bob).await.unwrap());
            assert!(store.invite(&bob, "cli:ops", Utc::now()).await.unwrap());
            assert!(!store.invite(&bob, "cli:ops", Utc::now()).await.unwrap());
            assert!(store.is_invited(&bob).await.unwrap(), "{:?}", db.backend());
            assert!(!store.is_invited(&carol).await.unwrap());
        }
    }
}

mod ratelimit {
    use chrono::{DateTime, TimeZone, Utc};

    use crate::store::testing::TestDatabase;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[tokio::test]
    async fn hits_count_up_within_a_window_and_restart_in_the_next() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            for want in 1..=3 {
                let w = store.count_hit("k", at(60_000)).await.unwrap();
                assert_eq!((w.hits, w.window_start), (want, at(60_000)));
            }
            let next = store.count_hit("k", at(120_000)).await.unwrap();
            assert_eq!((next.hits, next.window_start), (1, at(120_000)));
            // An instance whose clock lags counts in the newer window rather than resetting it.
            let late = store.count_hit("k", at(60_000)).await.unwrap();
            assert_eq!((late.hits, late.window_start), (2, at(120_000)));
            let other = store.count_hit("other", at(120_000)).await.unwrap();
            assert_eq!(other.hits, 1, "{:?}", db.backend());
        }
    }

    #[tokio::test]
    async fn concurrent_hits_are_all_counted() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let store = std::sync::Arc::clone(&store);
                    tokio::spawn(async move { store.count_hit("busy", at(0)).await.unwrap().hits })
                })
                .collect();
            let mut seen = Vec::new();
            for task in tasks {
                seen.push(task.await.unwrap());
            }
            seen.sort_unstable();
            assert_eq!(seen, (1..=20).collect::<Vec<_>>(), "{:?}", db.backend());
        }
    }
}

mod recordings {
    use crate::domain::CallId;
    use crate::store::RecordingUpdate;
    use crate::store::testing::{TestDatabase, TestStore, fixture_agent_call};

    async fn a_call(store: &dyn TestStore) -> CallId {
        fixture_agent_call(store, "rec@example.com").await.id
    }

    fn update(call_id: CallId, status: &str, duration: Option<i64>) -> RecordingUpdate {
        RecordingUpdate {
            call_id,
            recording_sid: "RE0001".into(),
            conference_sid: Some("CF0001".into()),
            status: status.into(),
            duration_secs: duration,
            url: Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0001".into()),
        }
    }

    #[tokio::test]
    async fn a_late_in_progress_never_undoes_completed() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = a_call(&*store).await;
            let done = store
                .upsert_recording(update(call, "completed", Some(42)))
                .await
                .unwrap();
            assert_eq!(done.status, "completed");
            let late = store
                .upsert_recording(update(call, "in-progress", Some(0)))
                .await
                .unwrap();
            assert_eq!(late.status, "completed");
            assert_eq!(late.duration_secs, Some(42));
            assert_eq!(late.created_at, done.created_at);
            let all = store.recordings_for_call(call).await.unwrap();
            assert_eq!(all.len(), 1, "{:?}", db.backend());
            assert_eq!(all[0].conference_sid.as_deref(), Some("CF0001"));
        }
    }

    #[tokio::test]
    async fn in_progress_then_completed_keeps_the_final_duration_and_url() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = a_call(&*store).await;
            store
                .upsert_recording(RecordingUpdate {
                    url: None,
                    ..update(call, "in-progress", Some(0))
                })
                .await
                .unwrap();
            let done = store
                .upsert_recording(update(call, "completed", Some(7)))
                .await
                .unwrap();
            assert_eq!(done.status, "completed");
            assert_eq!(done.duration_secs, Some(7));
            assert!(done.url.is_some());
        }
    }
}

mod sessions {
    use chrono::Duration;

    use super::*;
    use crate::domain::EmailAddress;
    use crate::store::testing::TestDatabase;

    #[tokio::test]
    async fn a_session_is_found_until_it_expires_or_ends() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let now = Utc::now();
            let email = EmailAddress::parse("ada@example.com").unwrap();
            let agent = store.upsert_verified_email(&email, now).await.unwrap();
            let session = WebSession {
                agent_id: agent.id,
                csrf_token: "csrf".into(),
                expires_at: now + Duration::hours(1),
            };
            store.create_session("h1", &session, now).await.unwrap();
            let found = store.session("h1", now).await.unwrap().unwrap();
            assert_eq!(found.agent_id, agent.id);
            assert_eq!(found.csrf_token, "csrf");
            assert_eq!(store.session("h2", now).await.unwrap(), None);
            let later = now + Duration::hours(2);
            assert_eq!(
                store.session("h1", later).await.unwrap(),
                None,
                "{:?}",
                db.backend()
            );
            assert_eq!(store.purge_sessions(later).await.unwrap(), 1);

            let other = EmailAddress::parse("bob@example.com").unwrap();
            let bob = store.upsert_verified_email(&other, now).await.unwrap();
            assert!(
                store.is_admin(agent.id).await.unwrap(),
                "the first agent administers"
            );
            assert!(!store.is_admin(bob.id).await.unwrap());
            assert!(store.promote(bob.id, "cli:ops", now).await.unwrap());
            assert!(!store.promote(bob.id, "cli:ops", now).await.unwrap());
            assert!(store.is_admin(bob.id).await.unwrap());

            store.create_session("h3", &session, now).await.unwrap();
            store.end_session("h3").await.unwrap();
            store.end_session("h3").await.unwrap();
            assert_eq!(store.session("h3", now).await.unwrap(), None);
        }
    }
}
