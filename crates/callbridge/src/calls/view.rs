//! The one JSON shape of a call, shared by the start endpoints, `GET /calls/{id}`, the call log
//! and the live stream, so a client parses a call the same way wherever it meets one.

mod rfc3339;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CallError;
use super::control::Party;
use crate::domain::{
    AgentId, CallId, CallMode, CallState, EmailAddress, Endpoint, EventId, EventSource, LegRole,
};
use crate::store::{Agent, Call, CallEvent, CallLeg, Recording, Store};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallView {
    pub id: CallId,
    /// Where the agent talked from: `phone` (we rang it) or `browser` (it called us).
    pub mode: CallMode,
    pub state: CallState,
    /// Why the call failed (`agent_busy`, `recipient_no_answer`, …); `null` otherwise.
    pub reason: Option<String>,
    /// The user's own name for the call (the seed's ConferenceName).
    pub label: Option<String>,
    pub agent: AgentView,
    pub recipient: String,
    pub conference: ConferenceView,
    pub legs: Vec<LegView>,
    /// Who is (or was last) on the call: the newest leg of each party, with whether Twilio
    /// last reported them held or muted.
    pub parties: Vec<PartyView>,
    /// In the order they were received. In a page of the call log, only each call's newest
    /// (see `events_truncated`); `GET /calls/{id}` has them all.
    pub events: Vec<EventView>,
    /// True when older events were left out of `events` (a page of the log embeds each call's
    /// newest 100); absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub events_truncated: bool,
    pub recording: Option<RecordingView>,
    #[serde(serialize_with = "rfc3339::one")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339::maybe")]
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentView {
    pub id: AgentId,
    pub email: Option<EmailAddress>,
    /// The number this call rang, which is the agent's verified phone at the time of the call;
    /// `None` when the agent talked from a browser.
    pub phone: Option<String>,
    /// The agent's Voice SDK client (`client:agent_…`) when they talked from a browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConferenceView {
    pub name: String,
    /// Known once Twilio reports the conference started.
    pub sid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LegView {
    pub role: LegRole,
    pub call_sid: String,
    /// Twilio's CallStatus as last reported.
    pub status: String,
    pub number: String,
    pub duration_secs: Option<i64>,
    #[serde(serialize_with = "rfc3339::one")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339::one")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartyView {
    /// How call control names the party: `agent`, `customer` or `third`.
    pub label: Party,
    pub role: LegRole,
    /// The number rung, or `client:…` for a browser.
    pub number: String,
    pub call_sid: String,
    /// Twilio's CallStatus of the party's leg, as last reported.
    pub status: String,
    /// As the conference's last participant event for this leg said.
    pub hold: bool,
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: EventId,
    #[serde(serialize_with = "rfc3339::one")]
    pub at: DateTime<Utc>,
    pub source: EventSource,
    /// A CallStatus, a StatusCallbackEvent or a RecordingStatus.
    pub kind: String,
    pub call_sid: Option<String>,
    /// Which party the event is about, when its call SID belongs to one of the call's legs.
    pub role: Option<LegRole>,
    pub sequence_number: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordingView {
    pub sid: String,
    pub url: Option<String>,
    pub duration_secs: Option<i64>,
    pub status: String,
}

impl CallView {
    /// Assembles the view from rows already read; `agent` is `None` only if the agent row is gone.
    pub fn build(
        call: Call,
        agent: Option<&Agent>,
        legs: Vec<CallLeg>,
        events: Vec<CallEvent>,
        recording: Option<RecordingView>,
    ) -> Self {
        let parties = parties(&legs, &events);
        let events = events
            .into_iter()
            .map(|event| EventView::from_event(event, &legs))
            .collect();
        Self {
            id: call.id,
            mode: call.mode,
            state: call.state,
            reason: call.reason,
            label: call.label,
            agent: AgentView {
                id: call.agent_id,
                email: agent.map(|a| a.email.clone()),
                phone: call.agent_endpoint.phone().map(|p| p.as_str().to_owned()),
                client: match &call.agent_endpoint {
                    Endpoint::Client(_) => Some(call.agent_endpoint.to_twilio()),
                    Endpoint::Phone(_) => None,
                },
            },
            recipient: call.recipient.as_str().to_owned(),
            conference: ConferenceView {
                name: call.conference_name,
                sid: call.conference_sid,
            },
            legs: legs.into_iter().map(LegView::from).collect(),
            parties,
            events,
            events_truncated: false,
            recording,
            created_at: call.created_at,
            ended_at: call.ended_at,
            duration_secs: call.duration_secs,
        }
    }
}

/// The newest leg of each party, held and muted as the conference's participant events for it
/// last said (every one of them carries both flags); the highest sequence number is the
/// newest, since Twilio does not deliver them in order.
fn parties(legs: &[CallLeg], events: &[CallEvent]) -> Vec<PartyView> {
    let mut newest: Vec<&CallLeg> = Vec::new();
    for leg in legs {
        match newest.iter_mut().find(|l| l.role == leg.role) {
            Some(slot) => *slot = leg,
            None => newest.push(leg),
        }
    }
    newest
        .into_iter()
        .map(|leg| {
            let last = events
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    e.source == EventSource::Conference
                        && e.call_sid.as_deref() == Some(leg.call_sid.as_str())
                        && e.payload.get("Hold").is_some()
                })
                .max_by_key(|(n, e)| (e.sequence_number.unwrap_or(-1), *n))
                .map(|(_, e)| e);
            let flag = |name: &str| {
                last.and_then(|e| e.payload.get(name))
                    .is_some_and(|v| v == "true" || v == &serde_json::Value::Bool(true))
            };
            PartyView {
                label: Party::of(leg.role),
                role: leg.role,
                number: leg.number.to_twilio(),
                call_sid: leg.call_sid.clone(),
                status: leg.status.clone(),
                hold: flag("Hold"),
                muted: flag("Muted"),
            }
        })
        .collect()
}

impl EventView {
    /// `legs` gives the event its role; an event whose leg is not stored yet has none.
    pub fn from_event(event: CallEvent, legs: &[CallLeg]) -> Self {
        let role = event.call_sid.as_deref().and_then(|sid| {
            legs.iter()
                .find(|leg| leg.call_sid == sid)
                .map(|leg| leg.role)
        });
        Self {
            id: event.id,
            at: event.received_at,
            source: event.source,
            kind: event.kind,
            call_sid: event.call_sid,
            role,
            sequence_number: event.sequence_number,
        }
    }
}

impl From<CallLeg> for LegView {
    fn from(leg: CallLeg) -> Self {
        Self {
            role: leg.role,
            call_sid: leg.call_sid,
            status: leg.status,
            number: leg.number.to_twilio(),
            duration_secs: leg.duration_secs,
            created_at: leg.created_at,
            updated_at: leg.updated_at,
        }
    }
}

impl From<Recording> for RecordingView {
    fn from(recording: Recording) -> Self {
        Self {
            sid: recording.sid,
            url: recording.url,
            duration_secs: recording.duration_secs,
            status: recording.status,
        }
    }
}

/// The full view of one call. Ownership is the caller's business: this answers for any call.
pub async fn load(store: &dyn Store, id: CallId) -> Result<CallView, CallError> {
    let (call, mut details) = store.call_snapshot(id).await?.ok_or(CallError::NotFound)?;
    let agent = details.agents.pop();
    let recording = details.recordings.pop().map(RecordingView::from);
    Ok(CallView::build(
        call,
        agent.as_ref(),
        details.legs,
        details.events,
        recording,
    ))
}

/// The view of a call row already read.
pub async fn load_for(store: &dyn Store, call: Call) -> Result<CallView, CallError> {
    let mut views = load_many(store, vec![call]).await?;
    views
        .pop()
        .ok_or_else(|| CallError::Internal("a call's view went missing".into()))
}

/// The views of call rows already read, in their order: a page of the log costs a few queries
/// however many calls it holds.
pub async fn load_many(store: &dyn Store, calls: Vec<Call>) -> Result<Vec<CallView>, CallError> {
    let details = store.call_details(&calls).await?;
    let agents: HashMap<AgentId, Agent> = details.agents.into_iter().map(|a| (a.id, a)).collect();
    let mut legs = by_call(details.legs, |leg| leg.call_id);
    let mut events = by_call(details.events, |event| event.call_id);
    let mut recordings = by_call(details.recordings, |recording| recording.call_id);
    let cut: std::collections::HashSet<CallId> = details.events_cut.into_iter().collect();
    Ok(calls
        .into_iter()
        .map(|call| {
            let (id, agent) = (call.id, agents.get(&call.agent_id));
            // A call records one conference; should Twilio report several recordings, the
            // newest wins.
            let recording = recordings
                .remove(&id)
                .and_then(|mut all| all.pop())
                .map(RecordingView::from);
            let mut view = CallView::build(
                call,
                agent,
                legs.remove(&id).unwrap_or_default(),
                events.remove(&id).unwrap_or_default(),
                recording,
            );
            view.events_truncated = cut.contains(&id);
            view
        })
        .collect())
}

/// Rows of several calls, each call's in the order given.
fn by_call<T>(rows: Vec<T>, call_of: impl Fn(&T) -> CallId) -> HashMap<CallId, Vec<T>> {
    let mut grouped: HashMap<CallId, Vec<T>> = HashMap::new();
    for row in rows {
        grouped.entry(call_of(&row)).or_default().push(row);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::domain::PhoneNumber;
    use crate::store::RecordingUpdate;
    use crate::store::testing::{TestDatabase, TestStore, fixture_agent, fixture_call};
    use crate::store::{LegUpdate, NewEvent};

    fn at(secs: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 0).unwrap()
            + chrono::Duration::seconds(secs.into())
    }

    fn id<T: std::str::FromStr>(n: u128) -> T
    where
        T::Err: std::fmt::Debug,
    {
        Uuid::from_u128(n).to_string().parse().unwrap()
    }

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    fn sample_call() -> (Call, Agent, Vec<CallLeg>, Vec<CallEvent>) {
        let call_id: CallId = id(1);
        let agent = Agent {
            default_mode: crate::domain::CallMode::Phone,
            id: id(2),
            email: EmailAddress::parse("ada@example.com").unwrap(),
            email_verified_at: Some(at(0)),
            phone: Some(phone("+14155550100")),
            phone_verified_at: Some(at(0)),
            token_version: 0,
            revoked_at: None,
            record_by_default: false,
            created_at: at(0),
            updated_at: at(0),
        };
        let call = Call {
            mode: crate::domain::CallMode::Phone,
            id: call_id,
            agent_id: agent.id,
            state: CallState::Completed,
            reason: None,
            label: Some("renewal <Q3>".into()),
            recipient: phone("+12025550123"),
            agent_endpoint: phone("+14155550100").into(),
            conference_name: call_id.conference_name(),
            conference_sid: Some("CF00000000000000000000000000000001".into()),
            record: false,
            created_at: at(0),
            updated_at: at(40),
            ended_at: Some(at(40)),
            duration_secs: Some(31),
        };
        let leg = |role, sid: &str, number: &str, secs| CallLeg {
            call_id,
            role,
            call_sid: sid.into(),
            status: "completed".into(),
            number: phone(number).into(),
            created_at: at(1),
            updated_at: at(40),
            duration_secs: Some(secs),
        };
        let legs = vec![
            leg(LegRole::Agent, "CA0a", "+14155550100", 38),
            leg(LegRole::Recipient, "CA0b", "+12025550123", 31),
        ];
        let event = |n: u128, source, kind: &str, sid: Option<&str>, secs| CallEvent {
            id: id(100 + n),
            call_id,
            source,
            kind: kind.into(),
            call_sid: sid.map(str::to_owned),
            dedupe_key: format!("k{n}"),
            sequence_number: Some(0),
            payload: serde_json::json!({"CallSid": sid}),
            received_at: at(secs),
        };
        let events = vec![
            event(1, EventSource::Call, "ringing", Some("CA0a"), 2),
            event(
                2,
                EventSource::Conference,
                "participant-join",
                Some("CA0b"),
                9,
            ),
            event(3, EventSource::Conference, "conference-end", None, 40),
            event(4, EventSource::Call, "ringing", Some("CA0z"), 41),
        ];
        (call, agent, legs, events)
    }

    #[test]
    fn serializes_to_the_documented_shape() {
        let (call, agent, legs, events) = sample_call();
        let recording = Some(RecordingView {
            sid: "RE00000000000000000000000000000001".into(),
            url: Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1".into()),
            duration_secs: Some(30),
            status: "completed".into(),
        });
        let view = CallView::build(call, Some(&agent), legs, events, recording);
        insta::assert_json_snapshot!("call_view", view);
    }

    #[test]
    fn events_take_the_role_of_their_leg_and_unknown_legs_have_none() {
        let (call, agent, legs, events) = sample_call();
        let view = CallView::build(call, Some(&agent), legs, events, None);
        let roles: Vec<_> = view.events.iter().map(|e| e.role).collect();
        assert_eq!(
            roles,
            [Some(LegRole::Agent), Some(LegRole::Recipient), None, None]
        );
        assert_eq!(
            serde_json::to_value(&view).unwrap()["recording"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn round_trips_through_json() {
        let (call, agent, legs, events) = sample_call();
        let view = CallView::build(call, Some(&agent), legs, events, None);
        let json = serde_json::to_string(&view).unwrap();
        assert_eq!(serde_json::from_str::<CallView>(&json).unwrap(), view);
    }

    #[tokio::test]
    async fn load_reads_the_stored_call_and_refuses_an_unknown_one() {
        let db = TestDatabase::sqlite();
        let store = db.store().await;
        let agent = fixture_agent(&*store, "ada@example.com", "+14155550100").await;
        let call = fixture_call(&*store, &agent).await;
        let view = load(&*store, call.id).await.unwrap();
        assert_eq!(view.id, call.id);
        assert_eq!(view.state, CallState::Created);
        assert_eq!(view.agent.email, Some(agent.email));
        assert_eq!(view.conference.name, call.id.conference_name());
        assert!(view.legs.is_empty() && view.events.is_empty());

        let err = load(&*store, CallId::new()).await.unwrap_err();
        assert!(matches!(err, CallError::NotFound), "{err:?}");
    }

    /// The views as built from each call's own reads, one call at a time.
    async fn one_by_one(store: &dyn TestStore, calls: &[Call]) -> Vec<CallView> {
        let mut views = Vec::new();
        for call in calls {
            let agent = store.agent_by_id(call.agent_id).await.unwrap();
            let legs = store.legs_for_call(call.id).await.unwrap();
            let events = store.events_for_call(call.id).await.unwrap();
            let recording = store
                .recordings_for_call(call.id)
                .await
                .unwrap()
                .pop()
                .map(RecordingView::from);
            views.push(CallView::build(
                call.clone(),
                agent.as_ref(),
                legs,
                events,
                recording,
            ));
        }
        views
    }

    #[tokio::test]
    async fn a_page_of_views_matches_the_calls_read_one_by_one() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let ada = fixture_agent(&*store, "ada@example.com", "+14155550100").await;
            let bob = fixture_agent(&*store, "bob@example.com", "+14155550111").await;
            let mut calls = Vec::new();
            for (n, agent) in [&ada, &bob, &ada, &ada].into_iter().enumerate() {
                let call = fixture_call(&*store, agent).await;
                // Call n gets n legs, n events and n recordings: the first has none at all.
                for k in 0..n {
                    store
                        .upsert_leg(LegUpdate {
                            call_id: call.id,
                            role: if k == 0 {
                                LegRole::Agent
                            } else {
                                LegRole::Recipient
                            },
                            call_sid: format!("CA{n}{k}"),
                            status: "ringing".into(),
                            number: call.recipient.clone().into(),
                            duration_secs: None,
                        })
                        .await
                        .unwrap();
                    store
                        .record_event(NewEvent {
                            call_id: call.id,
                            source: EventSource::Call,
                            kind: "ringing".into(),
                            call_sid: Some(format!("CA{n}{k}")),
                            dedupe_key: format!("{n}-{k}"),
                            sequence_number: Some(k as i64),
                            payload: serde_json::json!({"k": k}),
                            received_at: at(10 - k as u32),
                        })
                        .await
                        .unwrap();
                    store
                        .upsert_recording(RecordingUpdate {
                            call_id: call.id,
                            recording_sid: format!("RE{n}{k}"),
                            conference_sid: None,
                            status: "completed".into(),
                            duration_secs: Some(k as i64),
                            url: None,
                        })
                        .await
                        .unwrap();
                }
                calls.push(call);
            }
            calls.reverse();
            let expected = one_by_one(&*store, &calls).await;
            let views = load_many(&*store, calls.clone()).await.unwrap();
            assert_eq!(views, expected, "{:?}", db.backend());
            assert_eq!(views[0].legs.len(), 3);
            assert_eq!(views[2].agent.email.as_ref(), Some(&bob.email));
            assert!(load_many(&*store, Vec::new()).await.unwrap().is_empty());
        }
    }
}
