//! The dialer's store on both backends: sessions, items claimed once, wrap-ups written once.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::testing::{TestDatabase, TestStore, fixture_agent};
use super::*;

fn items(n: usize) -> Vec<NewCampaignItem> {
    (0..n)
        .map(|i| NewCampaignItem {
            record_id: format!("rec{i}"),
            phone: Some(format!("+1202555{:04}", 100 + i)),
        })
        .collect()
}

async fn dialer_campaign(store: &dyn TestStore, agent: &Agent, n: usize) -> Campaign {
    store
        .create_dialer_campaign(agent.id, "To call", &items(n), &json!({"wrap_up_secs": 60}))
        .await
        .unwrap()
}

fn join<'a>(campaign: &'a Campaign, agent: &Agent, conference: &'a str) -> SessionJoin<'a> {
    SessionJoin {
        campaign_id: &campaign.id,
        agent_id: agent.id,
        mode: CallMode::Phone,
        conference,
    }
}

#[tokio::test]
async fn a_session_campaign_keeps_its_settings_and_the_per_record_runner_leaves_it_alone() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let agent = fixture_agent(store.as_ref(), "ada@example.com", "+14155550100").await;
        let dialer = dialer_campaign(store.as_ref(), &agent, 2).await;
        let per_record = store
            .create_campaign(agent.id, "To call", &items(2))
            .await
            .unwrap();
        assert_eq!(
            store.campaign_dialer(&dialer.id).await.unwrap(),
            Some(json!({"wrap_up_secs": 60}))
        );
        assert_eq!(store.campaign_dialer(&per_record.id).await.unwrap(), None);
        assert_eq!(store.campaign_items(&dialer.id).await.unwrap().len(), 2);
        let claimed = store
            .claim_campaigns("runner", Utc::now(), std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let ids: Vec<_> = claimed.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, [per_record.id.as_str()], "{:?}", db.backend());
    }
}

#[tokio::test]
async fn joining_again_finds_the_session_until_the_agent_leaves() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let agent = fixture_agent(store.as_ref(), "ada@example.com", "+14155550100").await;
        let campaign = dialer_campaign(store.as_ref(), &agent, 1).await;
        let joins = (0..6).map(|i| {
            let (store, agent, campaign) = (Arc::clone(&store), agent.clone(), campaign.clone());
            tokio::spawn(async move {
                let conference = format!("cb-s-{i}");
                store
                    .join_session(join(&campaign, &agent, &conference))
                    .await
                    .unwrap()
            })
        });
        let sessions: Vec<DialerSession> = futures::future::join_all(joins)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let ids: HashSet<_> = sessions.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids.len(), 1, "{:?}: {sessions:?}", db.backend());
        let session = &sessions[0];
        assert_eq!(session.state, SessionState::Joining);
        assert_eq!(session.mode, CallMode::Phone);

        store
            .set_session_agent_leg(&session.id, Some("CA0001"))
            .await
            .unwrap();
        assert!(
            store
                .move_session(&session.id, &[SessionState::Joining], SessionState::Ready)
                .await
                .unwrap()
        );
        assert!(
            !store
                .move_session(&session.id, &[SessionState::Joining], SessionState::Ready)
                .await
                .unwrap(),
            "a move from a state the session left is refused"
        );
        let rejoined = store
            .join_session(join(&campaign, &agent, "cb-other"))
            .await
            .unwrap();
        assert_eq!(rejoined.id, session.id);
        assert_eq!(rejoined.conference, session.conference);
        assert_eq!(rejoined.agent_call_sid.as_deref(), Some("CA0001"));

        assert!(
            store
                .move_session(&session.id, SessionState::ALL, SessionState::Left)
                .await
                .unwrap()
        );
        let anew = store
            .join_session(join(&campaign, &agent, "cb-anew"))
            .await
            .unwrap();
        assert_ne!(anew.id, session.id);
        assert_eq!(anew.conference, "cb-anew");
        assert_eq!(
            store.campaign_sessions(&campaign.id).await.unwrap().len(),
            2
        );
    }
}

#[tokio::test]
async fn sessions_working_at_once_are_given_each_item_once_and_only_when_ready() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let owner = fixture_agent(store.as_ref(), "ada@example.com", "+14155550100").await;
        let campaign = dialer_campaign(store.as_ref(), &owner, 12).await;
        let mut sessions = Vec::new();
        for i in 0..3 {
            let agent = fixture_agent(
                store.as_ref(),
                &format!("agent{i}@example.com"),
                &format!("+1415555020{i}"),
            )
            .await;
            let conference = format!("cb-s-{i}");
            let session = store
                .join_session(join(&campaign, &agent, &conference))
                .await
                .unwrap();
            assert_eq!(
                store
                    .claim_item_for_session(&session.id, Utc::now())
                    .await
                    .unwrap(),
                None,
                "a session still joining is given nothing"
            );
            store
                .move_session(&session.id, &[SessionState::Joining], SessionState::Ready)
                .await
                .unwrap();
            sessions.push(session);
        }
        let workers = sessions.iter().map(|session| {
            let (store, id) = (Arc::clone(&store), session.id.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(item) = store.claim_item_for_session(&id, Utc::now()).await.unwrap()
                {
                    let now = store.session_by_id(&id).await.unwrap().unwrap();
                    assert_eq!(now.state, SessionState::Ringing);
                    assert_eq!(now.current_item.as_deref(), Some(item.id.as_str()));
                    assert_eq!(item.state, ItemState::Starting);
                    assert_eq!(
                        store.claim_item_for_session(&id, Utc::now()).await.unwrap(),
                        None,
                        "a ringing session is given nothing more"
                    );
                    got.push(item.id);
                    store
                        .move_session(&id, &[SessionState::Ringing], SessionState::Ready)
                        .await
                        .unwrap();
                }
                got
            })
        });
        let claimed: Vec<String> = futures::future::join_all(workers)
            .await
            .into_iter()
            .flat_map(Result::unwrap)
            .collect();
        let distinct: HashSet<_> = claimed.iter().collect();
        assert_eq!(claimed.len(), 12, "{:?}: {claimed:?}", db.backend());
        assert_eq!(distinct.len(), 12, "{:?}: an item went twice", db.backend());
        let outcomes = store.item_outcomes(&campaign.id).await.unwrap();
        let session_ids: HashSet<_> = sessions.iter().map(|s| s.id.clone()).collect();
        assert!(outcomes.iter().all(|o| {
            o.session_id
                .as_ref()
                .is_some_and(|s| session_ids.contains(s))
        }));
    }
}

#[tokio::test]
async fn a_wrap_up_is_kept_and_queued_once_and_the_outcome_is_set_once() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let agent = fixture_agent(store.as_ref(), "ada@example.com", "+14155550100").await;
        let campaign = dialer_campaign(store.as_ref(), &agent, 1).await;
        let session = store
            .join_session(join(&campaign, &agent, "cb-s"))
            .await
            .unwrap();
        store
            .move_session(&session.id, &[SessionState::Joining], SessionState::Ready)
            .await
            .unwrap();
        let item = store
            .claim_item_for_session(&session.id, Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert!(store.set_item_outcome(&item.id, "human").await.unwrap());
        assert!(!store.set_item_outcome(&item.id, "voicemail").await.unwrap());

        let write = NewOutboxRow {
            kind: "airtable.update".into(),
            key: format!("airtable:{}", item.record_id),
            payload: json!({"fields": {"Disposition": "Sale"}}),
        };
        let wrap_up = WrapUp {
            session_id: &session.id,
            disposition: Some("Sale"),
            notes: Some("call back in May"),
            write: Some(write.clone()),
        };
        assert!(
            !store.end_wrap_up(wrap_up.clone()).await.unwrap(),
            "a ringing session has nothing to wrap up"
        );
        store
            .move_session(&session.id, &[SessionState::Ringing], SessionState::Talking)
            .await
            .unwrap();
        store
            .move_session(&session.id, &[SessionState::Talking], SessionState::WrapUp)
            .await
            .unwrap();
        let attempts = (0..4).map(|_| {
            let store = Arc::clone(&store);
            let (id, write) = (session.id.clone(), write.clone());
            tokio::spawn(async move {
                store
                    .end_wrap_up(WrapUp {
                        session_id: &id,
                        disposition: Some("Sale"),
                        notes: Some("call back in May"),
                        write: Some(write),
                    })
                    .await
                    .unwrap()
            })
        });
        let ended: Vec<bool> = futures::future::join_all(attempts)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ended.iter().filter(|e| **e).count(), 1, "{ended:?}");
        assert_eq!(store.outbox_for_key(&write.key).await.unwrap().len(), 1);
        let outcome = &store.item_outcomes(&campaign.id).await.unwrap()[0];
        assert_eq!(outcome.outcome.as_deref(), Some("human"));
        assert_eq!(outcome.disposition.as_deref(), Some("Sale"));
        assert_eq!(outcome.notes.as_deref(), Some("call back in May"));
        let now = store.session_by_id(&session.id).await.unwrap().unwrap();
        assert_eq!(now.state, SessionState::Ready);
        assert_eq!(now.current_item, None);
    }
}

#[tokio::test]
async fn a_deferred_item_waits_for_its_hours_and_a_finished_one_is_queued_once() {
    for db in TestDatabase::all().await {
        let store = db.store().await;
        let agent = fixture_agent(store.as_ref(), "ada@example.com", "+14155550100").await;
        let campaign = dialer_campaign(store.as_ref(), &agent, 2).await;
        let session = store
            .join_session(join(&campaign, &agent, "cb-s"))
            .await
            .unwrap();
        store
            .move_session(&session.id, &[SessionState::Joining], SessionState::Ready)
            .await
            .unwrap();
        let now = Utc::now();
        let first = store
            .claim_item_for_session(&session.id, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.record_id, "rec0");
        let opens = now + chrono::Duration::hours(1);
        store
            .defer_item(&first.id, &session.id, opens)
            .await
            .unwrap();
        let freed = store.session_by_id(&session.id).await.unwrap().unwrap();
        assert_eq!(freed.state, SessionState::Ready);
        assert_eq!(freed.current_item, None);

        let second = store
            .claim_item_for_session(&session.id, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.record_id, "rec1", "{:?}", db.backend());
        let write = NewOutboxRow {
            kind: "airtable.update".into(),
            key: "airtable:rec1".into(),
            payload: json!({"fields": {"Call Status": "failed: recipient_busy"}}),
        };
        let finished = FinishedItem {
            item_id: &second.id,
            moves: Some((ItemState::Starting, ItemState::Called)),
            talk_secs: Some(0),
            write,
            session_id: Some(&session.id),
        };
        assert!(store.finish_item(finished.clone()).await.unwrap());
        assert!(!store.finish_item(finished).await.unwrap());
        assert_eq!(
            store.outbox_for_key("airtable:rec1").await.unwrap().len(),
            1
        );
        let outcomes = store.item_outcomes(&campaign.id).await.unwrap();
        assert!(outcomes[1].written);
        assert!(!outcomes[0].written);
        assert!(outcomes[0].not_before.is_some());
        let items = store.campaign_items(&campaign.id).await.unwrap();
        assert_eq!(items[1].state, ItemState::Called);
        assert_eq!(items[0].state, ItemState::Pending);

        assert_eq!(
            store
                .claim_item_for_session(&session.id, now)
                .await
                .unwrap(),
            None,
            "the first record waits for its hours"
        );
        let later = store
            .claim_item_for_session(&session.id, opens + chrono::Duration::minutes(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(later.id, first.id);
    }
}
