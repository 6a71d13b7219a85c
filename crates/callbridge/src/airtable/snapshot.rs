//! What a record should show about its call, and the fields to write when that changes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::settings::FieldNames;
use crate::domain::CallState;
use crate::store::LinkedCall;

/// A link stays open this long after its call ended, for a recording that arrives late.
const RECORDING_GRACE: chrono::Duration = chrono::Duration::minutes(15);

/// The values written to a record for one call. Stored (as JSON) with the link once queued, so
/// that the next change writes only what differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub status: String,
    pub duration_secs: Option<i64>,
    pub recording_url: Option<String>,
    pub last_called_at: String,
    pub call_id: String,
    pub agent: Option<String>,
}

/// The status text of the issue: `queued`, `ringing`, `connected`, `completed`, `failed: REASON`.
pub fn status_text(state: CallState, reason: Option<&str>) -> String {
    match state {
        CallState::Created => "queued".into(),
        CallState::AgentRinging | CallState::AgentAnswered | CallState::RecipientRinging => {
            "ringing".into()
        }
        CallState::Connected => "connected".into(),
        CallState::Completed => "completed".into(),
        CallState::Failed => format!("failed: {}", reason.unwrap_or("unknown")),
    }
}

/// ISO 8601 in UTC, to the second, as Airtable's date fields read it.
pub fn iso8601(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Snapshot {
    pub fn of(link: &LinkedCall) -> Self {
        Self {
            status: status_text(link.state, link.reason.as_deref()),
            duration_secs: link.duration_secs,
            recording_url: link.recording_url.clone(),
            last_called_at: iso8601(link.created_at),
            call_id: link.call_id.to_string(),
            agent: link.agent_email.clone(),
        }
    }

    /// The stored form; parsing it back gives `None` for a link nothing was queued for yet.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a snapshot always serializes")
    }

    pub fn decode(stored: &str) -> Option<Self> {
        serde_json::from_str(stored).ok()
    }

    /// The fields to write to move a record from `before` to `self`. The first write of a call
    /// names every field, clearing (with `null`) what an earlier call of the record left there.
    pub fn changes_since(&self, before: Option<&Self>, names: &FieldNames) -> Map<String, Value> {
        let all = [
            (&names.status, json!(self.status)),
            (&names.duration, json!(self.duration_secs)),
            (&names.recording_url, json!(self.recording_url)),
            (&names.last_called_at, json!(self.last_called_at)),
            (&names.call_id, json!(self.call_id)),
            (&names.agent, json!(self.agent)),
        ];
        let Some(before) = before else {
            return all.into_iter().map(|(k, v)| (k.clone(), v)).collect();
        };
        let old = [
            json!(before.status),
            json!(before.duration_secs),
            json!(before.recording_url),
            json!(before.last_called_at),
            json!(before.call_id),
            json!(before.agent),
        ];
        all.into_iter()
            .zip(old)
            .filter(|((_, new), old)| new != old)
            .map(|((k, v), _)| (k.clone(), v))
            .collect()
    }
}

/// True once nothing more can change on the record for this call: it ended, and its duration
/// (if the parties talked) and recording (if one was made) are known or overdue. The duration
/// comes with the customer's last callback, which may follow the callback that ended the call.
pub fn settles(link: &LinkedCall, now: DateTime<Utc>) -> bool {
    let Some(ended) = link.ended_at else {
        return false;
    };
    let overdue = now - ended > RECORDING_GRACE;
    let duration_known = link.state != CallState::Completed || link.duration_secs.is_some();
    let recording_known = !link.record || link.recording_url.is_some();
    overdue || (duration_known && recording_known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CallId;

    fn link(state: CallState) -> LinkedCall {
        LinkedCall {
            call_id: "0190a0a0-0000-7000-8000-000000000001"
                .parse::<CallId>()
                .unwrap(),
            record_id: "recA".into(),
            campaign_id: None,
            last_enqueued: String::new(),
            state,
            reason: None,
            duration_secs: None,
            record: false,
            recording_url: None,
            agent_email: Some("agent@example.com".into()),
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            ended_at: None,
        }
    }

    #[test]
    fn every_call_state_has_the_issues_status_text() {
        let texts: Vec<String> = CallState::ALL
            .iter()
            .map(|s| status_text(*s, Some("recipient_busy")))
            .collect();
        assert_eq!(
            texts,
            [
                "queued",
                "ringing",
                "ringing",
                "ringing",
                "connected",
                "completed",
                "failed: recipient_busy"
            ]
        );
        assert_eq!(status_text(CallState::Failed, None), "failed: unknown");
    }

    #[test]
    fn the_first_write_names_every_field() {
        let first = Snapshot::of(&link(CallState::AgentRinging));
        insta::assert_json_snapshot!(first.changes_since(None, &FieldNames::default()));
    }

    #[test]
    fn later_writes_carry_only_what_changed() {
        let names = FieldNames::default();
        let ringing = Snapshot::of(&link(CallState::AgentRinging));
        let mut done = link(CallState::Completed);
        done.duration_secs = Some(42);
        let done = Snapshot::of(&done);
        let changes = done.changes_since(Some(&ringing), &names);
        assert_eq!(
            Value::Object(changes),
            json!({"Call Status": "completed", "Call Duration": 42})
        );
        assert!(done.changes_since(Some(&done), &names).is_empty());
    }

    #[test]
    fn snapshots_survive_their_stored_form() {
        let s = Snapshot::of(&link(CallState::Connected));
        assert_eq!(Snapshot::decode(&s.encode()), Some(s));
        assert_eq!(Snapshot::decode(""), None);
    }

    #[test]
    fn a_link_settles_when_its_outcome_is_final() {
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut l = link(CallState::Connected);
        assert!(!settles(&l, now));
        l.state = CallState::Completed;
        l.ended_at = Some(now);
        assert!(
            !settles(&l, now),
            "the conversation's length is still to come"
        );
        assert!(settles(&l, now + chrono::Duration::minutes(16)));
        l.duration_secs = Some(42);
        assert!(settles(&l, now));
        l.record = true;
        assert!(!settles(&l, now), "a recording is still to come");
        assert!(settles(&l, now + chrono::Duration::minutes(16)));
        l.recording_url = Some("https://api.twilio.com/rec".into());
        assert!(settles(&l, now));
        let mut failed = link(CallState::Failed);
        failed.ended_at = Some(now);
        assert!(
            settles(&failed, now),
            "a call that never connected has no length to wait for"
        );
    }
}
