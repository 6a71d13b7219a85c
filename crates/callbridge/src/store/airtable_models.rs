//! Rows of the Airtable integration: the outbox, links between calls and records, campaigns.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::models::Call;
use crate::domain::{AgentId, CallId, CallState};

/// Where an outbox row is in its life. `done` and `dead` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    InFlight,
    Done,
    Dead,
}

impl OutboxStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

impl std::str::FromStr for OutboxStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "in_flight" => Ok(Self::InFlight),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            other => Err(format!("unknown outbox status {other:?}")),
        }
    }
}

/// A job to queue. Jobs of one `key` are delivered one after another, in the order queued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxRow {
    /// What the job is, `family.name` (e.g. `airtable.update`): workers claim a family's rows
    /// and dispatch on the name.
    pub kind: String,
    pub key: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub key: String,
    /// Position among the rows of `key`, from 1.
    pub seq: i64,
    pub payload: serde_json::Value,
    pub status: OutboxStatus,
    /// Deliveries tried and failed so far.
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTime<Utc>>,
    /// A delivery may have happened without us learning it (a lease ran out, a request timed
    /// out): the worker checks before sending again.
    pub uncertain: bool,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a worker asks for when claiming.
#[derive(Debug, Clone)]
pub struct OutboxClaim {
    /// Who claims (an instance-unique name); only it may settle the rows.
    pub worker: String,
    /// Only rows whose kind is in this family: `airtable` claims `airtable.update`, ….
    pub family: &'static str,
    pub now: DateTime<Utc>,
    /// How long the rows stay reserved for the worker.
    pub lease: std::time::Duration,
    /// At most this many rows, each of a different key.
    pub limit: u32,
}

/// The Airtable record a call is started for, stored with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLink<'a> {
    pub record_id: &'a str,
    /// The campaign calling the record, if one is.
    pub campaign_id: Option<&'a str>,
}

/// What asking for a call for a record gives.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordCall {
    /// The call, stored and linked; nobody has been rung yet.
    Created(Call),
    /// Nothing was stored: the record already has this call, which is not over.
    InProgress(CallId),
}

/// A call started from an Airtable record, with what the write-back needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedCall {
    pub call_id: CallId,
    pub record_id: String,
    pub campaign_id: Option<String>,
    /// The snapshot last queued for writing; empty when none was.
    pub last_enqueued: String,
    pub state: CallState,
    pub reason: Option<String>,
    pub duration_secs: Option<i64>,
    /// Whether the call is being recorded.
    pub record: bool,
    pub recording_url: Option<String>,
    pub agent_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// A snapshot change to queue, see `AirtableStore::enqueue_link_change`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkChange {
    pub call_id: CallId,
    /// The snapshot the caller read; the change is dropped if another writer moved it on.
    pub expected: String,
    pub snapshot: String,
    /// True once nothing about the call can change any more.
    pub settled: bool,
    /// The write to queue, if the change needs one.
    pub write: Option<NewOutboxRow>,
}

/// How a campaign stands. Only `running` campaigns start calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Running,
    Paused,
    Canceled,
    Completed,
}

impl CampaignStatus {
    pub const ALL: &'static [Self] =
        &[Self::Running, Self::Paused, Self::Canceled, Self::Completed];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Canceled => "canceled",
            Self::Completed => "completed",
        }
    }
}

impl std::str::FromStr for CampaignStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "running" => Ok(Self::Running),
            "paused" => Ok(Self::Paused),
            "canceled" => Ok(Self::Canceled),
            "completed" => Ok(Self::Completed),
            other => Err(format!("unknown campaign status {other:?}")),
        }
    }
}

/// Where one record of a campaign is. A `called` item's outcome is its call's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Pending,
    /// Claimed for starting; a crash here leaves it for `failed`, never for a second call.
    Starting,
    Called,
    /// No call could be started (invalid phone, destination not allowed, Twilio refused).
    Failed,
    Canceled,
}

impl ItemState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Starting => "starting",
            Self::Called => "called",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }
}

impl std::str::FromStr for ItemState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "starting" => Ok(Self::Starting),
            "called" => Ok(Self::Called),
            "failed" => Ok(Self::Failed),
            "canceled" => Ok(Self::Canceled),
            other => Err(format!("unknown campaign item state {other:?}")),
        }
    }
}

/// One record to call, as listed from the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaignItem {
    pub record_id: String,
    /// The phone field's text, unchecked; checked when its turn comes.
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Campaign {
    pub id: String,
    pub agent_id: AgentId,
    pub view: String,
    pub status: CampaignStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignItem {
    pub id: String,
    pub campaign_id: String,
    pub position: i64,
    pub record_id: String,
    pub phone: Option<String>,
    pub state: ItemState,
    pub call_id: Option<CallId>,
    /// The call's state, for a called item.
    pub call_state: Option<CallState>,
    pub error: Option<String>,
}
