//! The one JSON shape of a call, shared by the start endpoints, `GET /calls/{id}`, the call log
//! and the live stream, so a client parses a call the same way wherever it meets one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AgentId, CallId, CallState, EmailAddress, EventId, EventSource, LegRole};
use crate::http::ApiError;
use crate::store::{Agent, Call, CallEvent, CallLeg, Recording, Store};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallView {
    pub id: CallId,
    pub state: CallState,
    /// Why the call failed (`agent_busy`, `recipient_no_answer`, …); `null` otherwise.
    pub reason: Option<String>,
    /// The user's own name for the call (the seed's ConferenceName).
    pub label: Option<String>,
    pub agent: AgentView,
    pub recipient: String,
    pub conference: ConferenceView,
    pub legs: Vec<LegView>,
    /// In the order they were received.
    pub events: Vec<EventView>,
    pub recording: Option<RecordingView>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentView {
    pub id: AgentId,
    pub email: Option<EmailAddress>,
    /// The number this call rang, which is the agent's verified phone at the time of the call.
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConferenceView {
    pub name: String,
    /// Known once Twilio reports the conference started.
    pub sid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegView {
    pub role: LegRole,
    pub call_sid: String,
    /// Twilio's CallStatus as last reported.
    pub status: String,
    pub number: String,
    pub duration_secs: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub id: EventId,
    pub at: DateTime<Utc>,
    pub source: EventSource,
    /// A CallStatus, a StatusCallbackEvent or a RecordingStatus.
    pub kind: String,
    pub call_sid: Option<String>,
    /// Which party the event is about, when its call SID belongs to one of the call's legs.
    pub role: Option<LegRole>,
    pub sequence_number: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        let events = events
            .into_iter()
            .map(|event| EventView::from_event(event, &legs))
            .collect();
        Self {
            id: call.id,
            state: call.state,
            reason: call.reason,
            label: call.label,
            agent: AgentView {
                id: call.agent_id,
                email: agent.map(|a| a.email.clone()),
                phone: call.agent_number.as_str().to_owned(),
            },
            recipient: call.recipient.as_str().to_owned(),
            conference: ConferenceView {
                name: call.conference_name,
                sid: call.conference_sid,
            },
            legs: legs.into_iter().map(LegView::from).collect(),
            events,
            recording,
            created_at: call.created_at,
            ended_at: call.ended_at,
            duration_secs: call.duration_secs,
        }
    }
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
            number: leg.number.as_str().to_owned(),
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
pub async fn load(store: &dyn Store, id: CallId) -> Result<CallView, ApiError> {
    let call = store
        .call_by_id(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("call not found".into()))?;
    load_for(store, call).await
}

/// The view of a call row already read (the call log reads many at once).
pub async fn load_for(store: &dyn Store, call: Call) -> Result<CallView, ApiError> {
    let agent = store.agent_by_id(call.agent_id).await?;
    let legs = store.legs_for_call(call.id).await?;
    let events = store.events_for_call(call.id).await?;
    // A call records one conference; should Twilio report several recordings, the newest wins.
    let recording = store
        .recordings_for_call(call.id)
        .await?
        .pop()
        .map(RecordingView::from);
    Ok(CallView::build(
        call,
        agent.as_ref(),
        legs,
        events,
        recording,
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::domain::PhoneNumber;
    use crate::store::{AgentStore, CallStore};

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
            id: call_id,
            agent_id: agent.id,
            state: CallState::Completed,
            reason: None,
            label: Some("renewal <Q3>".into()),
            recipient: phone("+12025550123"),
            agent_number: phone("+14155550100"),
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
            number: phone(number),
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
        let db = crate::store::testing::TestDatabase::sqlite();
        let store = db.store().await;
        let agent = store
            .insert_agent(crate::store::NewAgent {
                email: EmailAddress::parse("ada@example.com").unwrap(),
                email_verified_at: None,
                phone: Some(phone("+14155550100")),
                phone_verified_at: None,
                record_by_default: false,
            })
            .await
            .unwrap();
        let call = store
            .create_call(crate::store::NewCall {
                agent_id: agent.id,
                recipient: phone("+12025550123"),
                agent_number: phone("+14155550100"),
                label: None,
                record: false,
            })
            .await
            .unwrap();
        let view = load(&store, call.id).await.unwrap();
        assert_eq!(view.id, call.id);
        assert_eq!(view.state, CallState::Created);
        assert_eq!(view.agent.email, Some(agent.email));
        assert_eq!(view.conference.name, call.id.conference_name());
        assert!(view.legs.is_empty() && view.events.is_empty());

        let err = load(&store, CallId::new()).await.unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::NOT_FOUND);
    }
}
