//! Behaviour every backend must share; each test runs on SQLite and on PostgreSQL.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::testing::TestDatabase;
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

async fn call_for(store: &SqlStore, agent: &Agent) -> Call {
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
async fn agent_with_call(store: &SqlStore) -> (Agent, Call) {
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
        let (agent, call) = agent_with_call(&store).await;
        assert_eq!(call.state, CallState::Created);
        assert_eq!(call.conference_name, call.id.conference_name());
        assert_eq!(call.label.as_deref(), Some("Call between Tuvok & Spock"));
        assert_eq!(call.ended_at, None);
        let other = call_for(&store, &agent).await;
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
        let (_, call) = agent_with_call(&store).await;
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
        let (_, call) = agent_with_call(&store).await;
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

#[tokio::test]
async fn legs_are_upserted_by_call_sid_and_keep_a_known_duration() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let (_, call) = agent_with_call(&store).await;
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
        let (_, call) = agent_with_call(&store).await;
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
        let (_, call) = agent_with_call(&store).await;
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
