use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{
    AgentId, CallId, CallMode, CallState, EmailAddress, Endpoint, EventId, EventSource, LegRole,
    PhoneNumber,
};

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub email: EmailAddress,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub phone: Option<PhoneNumber>,
    pub phone_verified_at: Option<DateTime<Utc>>,
    pub record_by_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub id: AgentId,
    pub email: EmailAddress,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub phone: Option<PhoneNumber>,
    pub phone_verified_at: Option<DateTime<Utc>>,
    /// Bumped to revoke every call token issued so far; tokens carry the version they were minted at.
    pub token_version: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    pub record_by_default: bool,
    /// Where the agent talks from unless a request says otherwise.
    pub default_mode: CallMode,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewCall {
    pub agent_id: AgentId,
    pub mode: CallMode,
    pub recipient: PhoneNumber,
    /// The agent's verified phone, or their browser's client.
    pub agent_endpoint: Endpoint,
    /// The user's own name for the call (the seed's ConferenceName); never used as the conference.
    pub label: Option<String>,
    pub record: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub id: CallId,
    pub agent_id: AgentId,
    pub mode: CallMode,
    pub state: CallState,
    pub reason: Option<String>,
    pub label: Option<String>,
    pub recipient: PhoneNumber,
    pub agent_endpoint: Endpoint,
    pub conference_name: String,
    pub conference_sid: Option<String>,
    pub record: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
}

/// The leg of a call that Twilio placed to us (a browser calling out): known by its SID and
/// status when its first webhook arrives.
#[derive(Debug, Clone)]
pub struct InboundLeg {
    pub call_sid: String,
    pub status: String,
}

/// What storing an inbound call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundCall {
    /// The call is new.
    Created(Call),
    /// Its leg was stored before (a retried webhook): the call that stored it.
    Existing(Call),
}

#[derive(Debug, Clone)]
pub struct LegUpdate {
    pub call_id: CallId,
    pub role: LegRole,
    pub call_sid: String,
    /// Twilio's CallStatus (`queued`, `ringing`, `in-progress`, `completed`, `busy`, …).
    pub status: String,
    /// What the leg rang (or, for a browser's call to us, where it came from).
    pub number: Endpoint,
    pub duration_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallLeg {
    pub call_id: CallId,
    pub role: LegRole,
    pub call_sid: String,
    pub status: String,
    pub number: Endpoint,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub duration_secs: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub call_id: CallId,
    pub source: EventSource,
    /// What happened: a CallStatus, a StatusCallbackEvent, a RecordingStatus.
    pub kind: String,
    pub call_sid: Option<String>,
    /// Identical for a retried delivery of the same webhook, different for anything else.
    pub dedupe_key: String,
    pub sequence_number: Option<i64>,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallEvent {
    pub id: EventId,
    pub call_id: CallId,
    pub source: EventSource,
    pub kind: String,
    pub call_sid: Option<String>,
    pub dedupe_key: String,
    pub sequence_number: Option<i64>,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// What a recording status callback says about a recording.
#[derive(Debug, Clone)]
pub struct RecordingUpdate {
    pub call_id: CallId,
    pub recording_sid: String,
    pub conference_sid: Option<String>,
    /// Twilio's RecordingStatus (`in-progress`, `completed`, `absent`, `failed`).
    pub status: String,
    pub duration_secs: Option<i64>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recording {
    pub sid: String,
    pub call_id: CallId,
    pub conference_sid: Option<String>,
    pub status: String,
    pub duration_secs: Option<i64>,
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A signed-in browser: the agent, and the token its pages send back with every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub agent_id: AgentId,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A fixed rate-limit window after one more hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub window_start: DateTime<Utc>,
    pub hits: i64,
}

#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    /// `otp_sent`, `verified`, `failed`, `token_issued`, `revoked`.
    pub kind: String,
    /// Who acted: `setup` for the public endpoints, `cli:<user>` for the command line.
    pub actor: String,
    /// The email or phone acted on.
    pub subject: String,
    pub agent_id: Option<AgentId>,
    pub client_ip: Option<String>,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: String,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub agent_id: Option<AgentId>,
    pub client_ip: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}
