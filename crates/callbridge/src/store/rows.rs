//! Rows as both backends read them, and their conversion into the domain's models. A row struct
//! is generic over how its backend holds ids, times and JSON (SQLite: text, epoch milliseconds
//! and text; PostgreSQL: `uuid`, `timestamptz` and `jsonb`), so that each table's conversion is
//! written once and both backends decode with `FromRow`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Endpoint, PhoneNumber};

use super::{
    Agent, AuditEvent, Call, CallEvent, CallLeg, Campaign, CampaignItem, KeyRecord, LinkedCall,
    OutboxRow, RateWindow, Recording, SavedResponse, StoreError, StoreResult, WebSession,
};
use super::{DialerSession, ItemOutcome};

mod native;
pub(super) use native::FromNative;

/// A row our own code wrote that does not convert: a bug or a hand edit.
pub(super) fn corrupt(
    table: &'static str,
    column: &str,
    detail: impl std::fmt::Display,
) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: format!("{column}: {detail}"),
    }
}

/// How a backend holds an id that is a UUID.
pub(super) trait IdValue {
    fn uuid(self) -> Result<Uuid, String>;
}

impl IdValue for String {
    fn uuid(self) -> Result<Uuid, String> {
        Uuid::parse_str(&self).map_err(|e| format!("{self:?}: {e}"))
    }
}

impl IdValue for Uuid {
    fn uuid(self) -> Result<Uuid, String> {
        Ok(self)
    }
}

/// How a backend holds an instant.
pub(super) trait TimeValue {
    fn instant(self) -> Result<DateTime<Utc>, String>;
}

/// Milliseconds since the epoch.
impl TimeValue for i64 {
    fn instant(self) -> Result<DateTime<Utc>, String> {
        DateTime::from_timestamp_millis(self).ok_or_else(|| format!("{self} ms is out of range"))
    }
}

impl TimeValue for DateTime<Utc> {
    fn instant(self) -> Result<DateTime<Utc>, String> {
        Ok(self)
    }
}

/// How a backend holds a JSON document.
pub(super) trait JsonValue {
    fn json(self) -> Result<serde_json::Value, String>;
}

impl JsonValue for String {
    fn json(self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self).map_err(|e| e.to_string())
    }
}

impl JsonValue for serde_json::Value {
    fn json(self) -> Result<serde_json::Value, String> {
        Ok(self)
    }
}

/// Reads the columns of one table, naming it in any error.
struct Table(&'static str);

impl Table {
    fn id<T: From<Uuid>>(&self, column: &str, value: impl IdValue) -> StoreResult<T> {
        value
            .uuid()
            .map(T::from)
            .map_err(|e| corrupt(self.0, column, e))
    }

    fn opt_id<T: From<Uuid>>(
        &self,
        column: &str,
        value: Option<impl IdValue>,
    ) -> StoreResult<Option<T>> {
        value.map(|v| self.id(column, v)).transpose()
    }

    /// An id the domain keeps as text.
    fn id_text(&self, column: &str, value: impl IdValue) -> StoreResult<String> {
        self.id::<Uuid>(column, value).map(|u| u.to_string())
    }

    fn opt_id_text(
        &self,
        column: &str,
        value: Option<impl IdValue>,
    ) -> StoreResult<Option<String>> {
        value.map(|v| self.id_text(column, v)).transpose()
    }

    fn time(&self, column: &str, value: impl TimeValue) -> StoreResult<DateTime<Utc>> {
        value.instant().map_err(|e| corrupt(self.0, column, e))
    }

    fn opt_time(
        &self,
        column: &str,
        value: Option<impl TimeValue>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        value.map(|v| self.time(column, v)).transpose()
    }

    fn json(&self, column: &str, value: impl JsonValue) -> StoreResult<serde_json::Value> {
        value.json().map_err(|e| corrupt(self.0, column, e))
    }

    /// Text that parses into a domain type.
    fn parsed<T>(&self, column: &str, raw: &str) -> StoreResult<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        raw.parse().map_err(|e| corrupt(self.0, column, e))
    }

    /// A number this service stored: trusted to be what it wrote, so not looked up again.
    fn phone(&self, column: &str, raw: String) -> StoreResult<PhoneNumber> {
        PhoneNumber::from_stored(raw).map_err(|e| corrupt(self.0, column, e))
    }

    fn endpoint(&self, column: &str, raw: String) -> StoreResult<Endpoint> {
        Endpoint::from_stored(raw).map_err(|e| corrupt(self.0, column, e))
    }

    fn opt_parsed<T>(&self, column: &str, raw: Option<&str>) -> StoreResult<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        raw.map(|r| self.parsed(column, r)).transpose()
    }
}

/// The columns of each row struct, in the order both backends select them.
pub(super) const AGENT_COLUMNS: &str = "id, email, email_verified_at, phone, phone_verified_at, \
     token_version, revoked_at, record_by_default, default_mode, created_at, updated_at";

pub(super) const CALL_COLUMNS: &str = "id, agent_id, mode, state, reason, label, recipient, \
                                       agent_number, conference_name, conference_sid, record, \
                                       created_at, updated_at, ended_at, duration_secs";

pub(super) const LEG_COLUMNS: &str =
    "call_id, role, call_sid, status, number, created_at, updated_at, duration_secs";

/// What an insert into `call_legs` does for a leg already stored, in the SQL both backends
/// speak: a later callback without a duration must not erase one we already have, and a late
/// callback (Twilio does not promise order) must not move the status back. A macro, so that each
/// backend's statements stay constants (`concat!`).
macro_rules! leg_conflict {
    () => {
        "ON CONFLICT (call_sid) DO UPDATE SET \
         status = CASE WHEN excluded.status_rank >= call_legs.status_rank \
                  THEN excluded.status ELSE call_legs.status END, \
         status_rank = CASE WHEN excluded.status_rank >= call_legs.status_rank \
                  THEN excluded.status_rank ELSE call_legs.status_rank END, \
         updated_at = excluded.updated_at, \
         duration_secs = COALESCE(excluded.duration_secs, call_legs.duration_secs)"
    };
}
pub(super) use leg_conflict;

pub(super) const EVENT_COLUMNS: &str =
    "id, call_id, source, kind, call_sid, dedupe_key, sequence_number, payload, received_at";

/// How many of each call's events a page of the log embeds: the newest. A call that took many
/// callbacks would otherwise make the page cost as much as the whole log.
pub const EVENTS_PER_CALL_IN_A_PAGE: usize = 100;

/// The newest [`EVENTS_PER_CALL_IN_A_PAGE`] events (and one more, to tell whether any were left
/// out) of each of `n` calls, whose ids are `$1…$n`, oldest first per call. Each call's part walks
/// the `(call_id, received_at)` index backwards and stops; payloads are read as
/// [`page_event_columns`] says.
pub(super) fn newest_events_sql(n: usize, party_flags: &str) -> String {
    let columns = page_event_columns(party_flags);
    let parts: Vec<String> = (1..=n)
        .map(|i| {
            format!(
                "SELECT * FROM (SELECT {columns} FROM call_events WHERE call_id = ${i} \
                 ORDER BY received_at DESC LIMIT {}) AS e{i}",
                EVENTS_PER_CALL_IN_A_PAGE + 1
            )
        })
        .collect();
    format!(
        "SELECT {EVENT_COLUMNS} FROM ({}) AS newest ORDER BY call_id, received_at, id",
        parts.join(" UNION ALL ")
    )
}

/// An event's columns as a page of the log reads them, with `party_flags` for its payload: the
/// page uses no more of an event than a conference event's hold and mute flags, and the rest of
/// a payload (some thirty of Twilio's parameters) would be decoded only to be dropped.
pub(super) fn page_event_columns(party_flags: &str) -> String {
    format!(
        "id, call_id, source, kind, call_sid, dedupe_key, sequence_number, \
         {party_flags} AS payload, received_at"
    )
}

/// Keeps the newest [`EVENTS_PER_CALL_IN_A_PAGE`] of each call's events (given oldest first per
/// call), and says which calls had more.
pub(super) fn cut_to_page(events: Vec<CallEvent>) -> (Vec<CallEvent>, Vec<crate::domain::CallId>) {
    let mut counts: std::collections::HashMap<crate::domain::CallId, usize> =
        std::collections::HashMap::new();
    for event in &events {
        *counts.entry(event.call_id).or_default() += 1;
    }
    let mut cut: Vec<crate::domain::CallId> = counts
        .iter()
        .filter(|(_, n)| **n > EVENTS_PER_CALL_IN_A_PAGE)
        .map(|(id, _)| *id)
        .collect();
    cut.sort();
    let mut skip: std::collections::HashMap<crate::domain::CallId, usize> = counts
        .into_iter()
        .map(|(id, n)| (id, n.saturating_sub(EVENTS_PER_CALL_IN_A_PAGE)))
        .collect();
    let kept = events
        .into_iter()
        .filter(|event| match skip.get_mut(&event.call_id) {
            Some(left) if *left > 0 => {
                *left -= 1;
                false
            }
            _ => true,
        })
        .collect();
    (kept, cut)
}

pub(super) const RECORDING_COLUMNS: &str =
    "sid, call_id, conference_sid, status, duration_secs, url, created_at, updated_at";

pub(super) const OUTBOX_COLUMNS: &str = "id, kind, key, seq, payload, status, attempts, next_attempt_at, \
                              claimed_by, claimed_until, uncertain, last_error, created_at";

pub(super) const LINK_SELECT: &str = "SELECT l.call_id, l.record_id, l.campaign_id, l.last_enqueued, \
     c.state, c.reason, c.duration_secs, c.record, c.created_at, c.ended_at, a.email, \
     (SELECT r.url FROM recordings r WHERE r.call_id = c.id AND r.url IS NOT NULL \
      ORDER BY r.created_at DESC, r.sid DESC LIMIT 1) AS recording_url \
     FROM airtable_links l JOIN calls c ON c.id = l.call_id \
     LEFT JOIN agents a ON a.id = c.agent_id";

pub(super) const CAMPAIGN_COLUMNS: &str = "id, agent_id, view_name, status, created_at, updated_at";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AgentRow<Id, Time> {
    id: Id,
    email: String,
    email_verified_at: Option<Time>,
    phone: Option<String>,
    phone_verified_at: Option<Time>,
    token_version: i64,
    revoked_at: Option<Time>,
    record_by_default: bool,
    default_mode: String,
    created_at: Time,
    updated_at: Time,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<AgentRow<Id, Time>> for Agent {
    type Error = StoreError;
    fn try_from(row: AgentRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("agents");
        Ok(Agent {
            id: t.id("id", row.id)?,
            email: t.parsed("email", &row.email)?,
            email_verified_at: t.opt_time("email_verified_at", row.email_verified_at)?,
            phone: row.phone.map(|p| t.phone("phone", p)).transpose()?,
            phone_verified_at: t.opt_time("phone_verified_at", row.phone_verified_at)?,
            token_version: row.token_version,
            revoked_at: t.opt_time("revoked_at", row.revoked_at)?,
            record_by_default: row.record_by_default,
            default_mode: t.parsed("default_mode", &row.default_mode)?,
            created_at: t.time("created_at", row.created_at)?,
            updated_at: t.time("updated_at", row.updated_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct CallRow<Id, Time> {
    id: Id,
    agent_id: Id,
    mode: String,
    state: String,
    reason: Option<String>,
    label: Option<String>,
    recipient: String,
    agent_number: String,
    conference_name: String,
    conference_sid: Option<String>,
    record: bool,
    created_at: Time,
    updated_at: Time,
    ended_at: Option<Time>,
    duration_secs: Option<i64>,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<CallRow<Id, Time>> for Call {
    type Error = StoreError;
    fn try_from(row: CallRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("calls");
        Ok(Call {
            id: t.id("id", row.id)?,
            agent_id: t.id("agent_id", row.agent_id)?,
            mode: t.parsed("mode", &row.mode)?,
            state: t.parsed("state", &row.state)?,
            reason: row.reason,
            label: row.label,
            recipient: t.phone("recipient", row.recipient)?,
            agent_endpoint: t.endpoint("agent_number", row.agent_number)?,
            conference_name: row.conference_name,
            conference_sid: row.conference_sid,
            record: row.record,
            created_at: t.time("created_at", row.created_at)?,
            updated_at: t.time("updated_at", row.updated_at)?,
            ended_at: t.opt_time("ended_at", row.ended_at)?,
            duration_secs: row.duration_secs,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct LegRow<Id, Time> {
    call_id: Id,
    role: String,
    call_sid: String,
    status: String,
    number: String,
    created_at: Time,
    updated_at: Time,
    duration_secs: Option<i64>,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<LegRow<Id, Time>> for CallLeg {
    type Error = StoreError;
    fn try_from(row: LegRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("call_legs");
        Ok(CallLeg {
            call_id: t.id("call_id", row.call_id)?,
            role: t.parsed("role", &row.role)?,
            call_sid: row.call_sid,
            status: row.status,
            number: t.endpoint("number", row.number)?,
            created_at: t.time("created_at", row.created_at)?,
            updated_at: t.time("updated_at", row.updated_at)?,
            duration_secs: row.duration_secs,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct EventRow<Id, Time, Json> {
    id: Id,
    call_id: Id,
    source: String,
    kind: String,
    call_sid: Option<String>,
    dedupe_key: String,
    sequence_number: Option<i64>,
    payload: Json,
    received_at: Time,
}

impl<Id: IdValue, Time: TimeValue, Json: JsonValue> TryFrom<EventRow<Id, Time, Json>>
    for CallEvent
{
    type Error = StoreError;
    fn try_from(row: EventRow<Id, Time, Json>) -> StoreResult<Self> {
        let t = Table("call_events");
        Ok(CallEvent {
            id: t.id("id", row.id)?,
            call_id: t.id("call_id", row.call_id)?,
            source: t.parsed("source", &row.source)?,
            kind: row.kind,
            call_sid: row.call_sid,
            dedupe_key: row.dedupe_key,
            sequence_number: row.sequence_number,
            payload: t.json("payload", row.payload)?,
            received_at: t.time("received_at", row.received_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct RecordingRow<Id, Time> {
    sid: String,
    call_id: Id,
    conference_sid: Option<String>,
    status: String,
    duration_secs: Option<i64>,
    url: Option<String>,
    created_at: Time,
    updated_at: Time,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<RecordingRow<Id, Time>> for Recording {
    type Error = StoreError;
    fn try_from(row: RecordingRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("recordings");
        Ok(Recording {
            sid: row.sid,
            call_id: t.id("call_id", row.call_id)?,
            conference_sid: row.conference_sid,
            status: row.status,
            duration_secs: row.duration_secs,
            url: row.url,
            created_at: t.time("created_at", row.created_at)?,
            updated_at: t.time("updated_at", row.updated_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct OutboxRecord<Id, Time, Json> {
    id: Id,
    kind: String,
    key: String,
    seq: i64,
    payload: Json,
    status: String,
    attempts: i64,
    next_attempt_at: Time,
    claimed_by: Option<String>,
    claimed_until: Option<Time>,
    uncertain: bool,
    last_error: Option<String>,
    created_at: Time,
}

impl<Id: IdValue, Time: TimeValue, Json: JsonValue> TryFrom<OutboxRecord<Id, Time, Json>>
    for OutboxRow
{
    type Error = StoreError;
    fn try_from(row: OutboxRecord<Id, Time, Json>) -> StoreResult<Self> {
        let t = Table("outbox");
        Ok(OutboxRow {
            id: t.id_text("id", row.id)?,
            kind: row.kind,
            key: row.key,
            seq: row.seq,
            payload: t.json("payload", row.payload)?,
            status: t.parsed("status", &row.status)?,
            attempts: row.attempts,
            next_attempt_at: t.time("next_attempt_at", row.next_attempt_at)?,
            claimed_by: row.claimed_by,
            claimed_until: t.opt_time("claimed_until", row.claimed_until)?,
            uncertain: row.uncertain,
            last_error: row.last_error,
            created_at: t.time("created_at", row.created_at)?,
        })
    }
}

/// A link with what it needs of its call, its agent and its newest recording.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct LinkRow<Id, Time> {
    call_id: Id,
    record_id: String,
    campaign_id: Option<Id>,
    last_enqueued: String,
    state: String,
    reason: Option<String>,
    duration_secs: Option<i64>,
    record: bool,
    recording_url: Option<String>,
    email: Option<String>,
    created_at: Time,
    ended_at: Option<Time>,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<LinkRow<Id, Time>> for LinkedCall {
    type Error = StoreError;
    fn try_from(row: LinkRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("airtable_links");
        Ok(LinkedCall {
            call_id: t.id("call_id", row.call_id)?,
            record_id: row.record_id,
            campaign_id: t.opt_id_text("campaign_id", row.campaign_id)?,
            last_enqueued: row.last_enqueued,
            state: t.parsed("state", &row.state)?,
            reason: row.reason,
            duration_secs: row.duration_secs,
            record: row.record,
            recording_url: row.recording_url,
            agent_email: row.email,
            created_at: t.time("created_at", row.created_at)?,
            ended_at: t.opt_time("ended_at", row.ended_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct CampaignRow<Id, Time> {
    id: Id,
    agent_id: Id,
    view_name: String,
    status: String,
    created_at: Time,
    updated_at: Time,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<CampaignRow<Id, Time>> for Campaign {
    type Error = StoreError;
    fn try_from(row: CampaignRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("airtable_campaigns");
        Ok(Campaign {
            id: t.id_text("id", row.id)?,
            agent_id: t.id("agent_id", row.agent_id)?,
            view: row.view_name,
            status: t.parsed("status", &row.status)?,
            created_at: t.time("created_at", row.created_at)?,
            updated_at: t.time("updated_at", row.updated_at)?,
        })
    }
}

/// An item with its call's state.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ItemRow<Id> {
    id: Id,
    campaign_id: Id,
    position: i64,
    record_id: String,
    phone: Option<String>,
    state: String,
    call_id: Option<Id>,
    error: Option<String>,
    call_state: Option<String>,
}

impl<Id: IdValue> TryFrom<ItemRow<Id>> for CampaignItem {
    type Error = StoreError;
    fn try_from(row: ItemRow<Id>) -> StoreResult<Self> {
        let t = Table("campaign_items");
        Ok(CampaignItem {
            id: t.id_text("id", row.id)?,
            campaign_id: t.id_text("campaign_id", row.campaign_id)?,
            position: row.position,
            record_id: row.record_id,
            phone: row.phone,
            state: t.parsed("state", &row.state)?,
            call_id: t.opt_id("call_id", row.call_id)?,
            call_state: t.opt_parsed("call_state", row.call_state.as_deref())?,
            error: row.error,
        })
    }
}

/// The columns of [`DialerSessionRow`], in the order both backends select them.
pub(super) const DIALER_SESSION_COLUMNS: &str = "id, campaign_id, agent_id, mode, state, conference, \
     agent_call_sid, current_item, created_at, updated_at";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct DialerSessionRow<Id, Time> {
    id: Id,
    campaign_id: Id,
    agent_id: Id,
    mode: String,
    state: String,
    conference: String,
    agent_call_sid: Option<String>,
    current_item: Option<Id>,
    created_at: Time,
    updated_at: Time,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<DialerSessionRow<Id, Time>> for DialerSession {
    type Error = StoreError;
    fn try_from(row: DialerSessionRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("dialer_sessions");
        Ok(DialerSession {
            id: t.id_text("id", row.id)?,
            campaign_id: t.id_text("campaign_id", row.campaign_id)?,
            agent_id: t.id("agent_id", row.agent_id)?,
            mode: t.parsed("mode", &row.mode)?,
            state: t.parsed("state", &row.state)?,
            conference: row.conference,
            agent_call_sid: row.agent_call_sid,
            current_item: t.opt_id_text("current_item", row.current_item)?,
            created_at: t.time("created_at", row.created_at)?,
            updated_at: t.time("updated_at", row.updated_at)?,
        })
    }
}

/// The dialer's columns of an item.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct OutcomeRow<Id, Time> {
    id: Id,
    session_id: Option<Id>,
    outcome: Option<String>,
    answered_by: Option<String>,
    talk_secs: Option<i64>,
    call_sid: Option<String>,
    disposition: Option<String>,
    notes: Option<String>,
    written: bool,
    not_before: Option<Time>,
}

/// The columns of [`OutcomeRow`], in the order both backends select them.
pub(super) const OUTCOME_COLUMNS: &str = "id, session_id, outcome, answered_by, talk_secs, call_sid, disposition, notes, written, \
     not_before";

impl<Id: IdValue, Time: TimeValue> TryFrom<OutcomeRow<Id, Time>> for ItemOutcome {
    type Error = StoreError;
    fn try_from(row: OutcomeRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("campaign_items");
        Ok(ItemOutcome {
            item_id: t.id_text("id", row.id)?,
            session_id: t.opt_id_text("session_id", row.session_id)?,
            outcome: row.outcome,
            answered_by: row.answered_by,
            talk_secs: row.talk_secs,
            call_sid: row.call_sid,
            disposition: row.disposition,
            notes: row.notes,
            written: row.written,
            not_before: t.opt_time("not_before", row.not_before)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AuditRow<Id, Time> {
    id: Id,
    kind: String,
    actor: String,
    subject: String,
    agent_id: Option<Id>,
    client_ip: Option<String>,
    detail: Option<String>,
    created_at: Time,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<AuditRow<Id, Time>> for AuditEvent {
    type Error = StoreError;
    fn try_from(row: AuditRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("audit_events");
        Ok(AuditEvent {
            id: t.id_text("id", row.id)?,
            kind: row.kind,
            actor: row.actor,
            subject: row.subject,
            agent_id: t.opt_id("agent_id", row.agent_id)?,
            client_ip: row.client_ip,
            detail: row.detail,
            created_at: t.time("created_at", row.created_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct KeyRow<Id> {
    fingerprint: String,
    call_id: Option<Id>,
    response_status: Option<i64>,
    response_retry_after: Option<i64>,
    response_body: Option<String>,
}

impl<Id: IdValue> TryFrom<KeyRow<Id>> for KeyRecord {
    type Error = StoreError;
    fn try_from(row: KeyRow<Id>) -> StoreResult<Self> {
        let t = Table("idempotency_keys");
        let response = match row.response_status {
            None => None,
            Some(status) => Some(SavedResponse {
                status: u16::try_from(status)
                    .map_err(|_| corrupt(t.0, "response_status", status))?,
                retry_after_secs: row
                    .response_retry_after
                    .map(|s| u64::try_from(s).unwrap_or_default()),
                body: row.response_body.unwrap_or_default(),
            }),
        };
        Ok(KeyRecord {
            fingerprint: row.fingerprint,
            call_id: t.opt_id("call_id", row.call_id)?,
            response,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct SessionRow<Id, Time> {
    agent_id: Id,
    csrf_token: String,
    expires_at: Time,
}

impl<Id: IdValue, Time: TimeValue> TryFrom<SessionRow<Id, Time>> for WebSession {
    type Error = StoreError;
    fn try_from(row: SessionRow<Id, Time>) -> StoreResult<Self> {
        let t = Table("web_sessions");
        Ok(WebSession {
            agent_id: t.id("agent_id", row.agent_id)?,
            csrf_token: row.csrf_token,
            expires_at: t.time("expires_at", row.expires_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct RateRow<Time> {
    window_start: Time,
    hits: i64,
}

impl<Time: TimeValue> TryFrom<RateRow<Time>> for RateWindow {
    type Error = StoreError;
    fn try_from(row: RateRow<Time>) -> StoreResult<Self> {
        Ok(RateWindow {
            window_start: Table("rate_limits").time("window_start", row.window_start)?,
            hits: row.hits,
        })
    }
}

/// Converts every row, failing on the first that does not.
pub(super) fn convert<R, T>(rows: Vec<R>) -> StoreResult<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// Converts the row, if there is one.
pub(super) fn convert_opt<R, T>(row: Option<R>) -> StoreResult<Option<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    row.map(T::try_from).transpose()
}

/// Twilio's CallStatus values in the order a call goes through them; every final status ranks
/// the same, and an unknown one ranks lowest so it never hides a known one.
pub(super) fn leg_status_rank(status: &str) -> i64 {
    match status {
        "queued" => 0,
        "initiated" => 1,
        "ringing" => 2,
        "in-progress" | "answered" => 3,
        "completed" | "busy" | "no-answer" | "failed" | "canceled" => 4,
        _ => 0,
    }
}

/// `in-progress` is the only status a recording leaves; anything else is where it ends.
pub(super) fn recording_status_rank(status: &str) -> i64 {
    match status {
        "in-progress" | "processing" => 0,
        _ => 1,
    }
}

/// The `LIKE` pattern of an outbox family's kinds: `airtable` stands for `airtable.update`, ….
pub(super) fn family_pattern(family: &str) -> String {
    format!("{family}.%")
}

/// A lost race for the next `seq` of a key's outbox rows is tried again this many times.
pub(super) const SEQ_ATTEMPTS: usize = 5;

/// A record whose calls keep ending and starting while a call is linked to it gets this many
/// tries.
pub(super) const LINK_ATTEMPTS: usize = 3;

/// The `rate_limits` key readiness writes; no limit uses it.
pub(super) const WRITE_PROBE_KEY: &str = "readyz:write-probe";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leg_statuses_rank_in_the_order_a_call_lives_them() {
        let order = ["queued", "initiated", "ringing", "in-progress", "completed"];
        for pair in order.windows(2) {
            assert!(
                leg_status_rank(pair[0]) < leg_status_rank(pair[1]),
                "{pair:?}"
            );
        }
        for last in ["busy", "no-answer", "failed", "canceled"] {
            assert_eq!(leg_status_rank(last), leg_status_rank("completed"));
        }
    }

    #[test]
    fn only_in_progress_ranks_below_the_final_statuses() {
        assert!(recording_status_rank("in-progress") < recording_status_rank("completed"));
        assert_eq!(
            recording_status_rank("completed"),
            recording_status_rank("absent")
        );
        assert_eq!(
            recording_status_rank("failed"),
            recording_status_rank("completed")
        );
    }

    #[test]
    fn a_text_id_that_is_no_uuid_is_corrupt() {
        let row = CampaignRow {
            id: "not-a-uuid".to_owned(),
            agent_id: Uuid::now_v7().to_string(),
            view_name: "v".into(),
            status: "running".into(),
            created_at: 0_i64,
            updated_at: 0_i64,
        };
        assert!(matches!(
            Campaign::try_from(row),
            Err(StoreError::Corrupt {
                table: "airtable_campaigns",
                ..
            })
        ));
    }
}
