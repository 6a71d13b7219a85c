//! What campaigns worked as a power dialer need of the store: agents' sessions, the record each
//! session is dialling, and the wrap-up written back together with the session's move.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Campaign, CampaignItem, ItemState, NewCampaignItem, NewOutboxRow, StoreResult};
use crate::domain::{AgentId, CallMode};

/// Where an agent's session is. Only a `ready` session is given the next record; `left` is
/// final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// The agent's leg is being dialled into the session's conference.
    Joining,
    Ready,
    /// A customer is being dialled for the session.
    Ringing,
    Talking,
    /// The customer's leg ended; the agent is telling how the call went.
    WrapUp,
    Paused,
    Left,
}

impl SessionState {
    pub const ALL: &'static [Self] = &[
        Self::Joining,
        Self::Ready,
        Self::Ringing,
        Self::Talking,
        Self::WrapUp,
        Self::Paused,
        Self::Left,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Joining => "joining",
            Self::Ready => "ready",
            Self::Ringing => "ringing",
            Self::Talking => "talking",
            Self::WrapUp => "wrap_up",
            Self::Paused => "paused",
            Self::Left => "left",
        }
    }
}

impl std::str::FromStr for SessionState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown session state {s:?}"))
    }
}

/// An agent working a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialerSession {
    pub id: String,
    pub campaign_id: String,
    pub agent_id: AgentId,
    pub mode: CallMode,
    pub state: SessionState,
    /// The session's own conference, which the agent stays in from one record to the next.
    pub conference: String,
    pub agent_call_sid: Option<String>,
    /// The item being dialled, talked to or wrapped up.
    pub current_item: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the session last moved: a wrap-up's time limit runs from here.
    pub updated_at: DateTime<Utc>,
}

/// An agent asking to join a campaign's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionJoin<'a> {
    pub campaign_id: &'a str,
    pub agent_id: AgentId,
    pub mode: CallMode,
    /// Used only when a new session is created; a rejoin keeps the session's conference.
    pub conference: &'a str,
}

/// The end of a session's wrap-up: what the agent said of the record and the write that
/// carries it to Airtable.
#[derive(Debug, Clone, PartialEq)]
pub struct WrapUp<'a> {
    pub session_id: &'a str,
    /// `None` when the wrap-up ran out of time.
    pub disposition: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub write: Option<NewOutboxRow>,
}

/// What a record dialled in a session became, once known; kept beside the item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemOutcome {
    pub item_id: String,
    pub session_id: Option<String>,
    pub outcome: Option<String>,
    /// What answering-machine detection said.
    pub answered_by: Option<String>,
    pub talk_secs: Option<i64>,
    /// The customer's leg, once Twilio took it.
    pub call_sid: Option<String>,
    pub disposition: Option<String>,
    pub notes: Option<String>,
    /// Whether the record's outcome was queued for Airtable.
    pub written: bool,
    /// A record outside its recipient's calling hours waits until then.
    pub not_before: Option<DateTime<Utc>>,
}

/// The end of a record that needs no wrap-up (nobody answered, a machine, an abandoned
/// person, a number that could not be dialled): its outcome queued for Airtable once.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedItem<'a> {
    pub item_id: &'a str,
    /// The item's move, if it makes one (`starting` to `failed` for a number never dialled).
    pub moves: Option<(ItemState, ItemState)>,
    pub talk_secs: Option<i64>,
    pub write: NewOutboxRow,
    /// The session that dialled it, freed (`ringing` to `ready`) if it is still on this item.
    pub session_id: Option<&'a str>,
}

#[async_trait]
pub trait DialerStore: Send + Sync {
    /// A running campaign worked in sessions, with its items in this order and its dialer
    /// settings, in one transaction: the per-record runner never sees it without them.
    async fn create_dialer_campaign(
        &self,
        agent: AgentId,
        view: &str,
        items: &[NewCampaignItem],
        dialer: &serde_json::Value,
    ) -> StoreResult<Campaign>;
    /// The campaign's dialer settings; `None` for a campaign that rings its agent per record.
    async fn campaign_dialer(&self, campaign: &str) -> StoreResult<Option<serde_json::Value>>;
    /// The agent's session of the campaign that it has not left, or a new one in `joining`.
    /// One statement decides, so two joins at once give one session.
    async fn join_session(&self, join: SessionJoin<'_>) -> StoreResult<DialerSession>;
    async fn session_by_id(&self, id: &str) -> StoreResult<Option<DialerSession>>;
    /// The session whose agent is on the Twilio call `call_sid`, while that leg lasts.
    async fn session_of_agent_leg(&self, call_sid: &str) -> StoreResult<Option<DialerSession>>;
    /// Every session of the campaign, oldest first.
    async fn campaign_sessions(&self, campaign: &str) -> StoreResult<Vec<DialerSession>>;
    /// Moves the session to `to` if it is in one of `from`; false otherwise. A session that
    /// becomes ready or leaves gives up its current item.
    async fn move_session(
        &self,
        id: &str,
        from: &[SessionState],
        to: SessionState,
    ) -> StoreResult<bool>;
    /// Stores the Twilio call SID of the agent's leg in the session's conference; `None` once
    /// that leg is over.
    async fn set_session_agent_leg(&self, id: &str, call_sid: Option<&str>) -> StoreResult<()>;
    /// Sets `marker` as the agent's leg if the session has none, and says whether it did: of
    /// two joins at once, only the one that sets it dials the agent.
    async fn claim_session_agent_leg(&self, id: &str, marker: &str) -> StoreResult<bool>;
    /// The running campaigns worked in sessions, oldest first.
    async fn running_dialer_campaigns(&self) -> StoreResult<Vec<Campaign>>;
    /// For a `ready` session, in one transaction: the campaign's first pending item (of those
    /// not waiting for their calling hours at `now`) moves to
    /// `starting` for it, and the session to `ringing` with that item. `None` (nothing changed)
    /// when the session is not ready or no item is pending. Two sessions never get one item,
    /// whichever instances they are stepped on.
    async fn claim_item_for_session(
        &self,
        session: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<CampaignItem>>;
    /// Gives a claimed item back to the queue until `until` (its recipient's calling hours), and
    /// frees its session, in one transaction.
    async fn defer_item(&self, item: &str, session: &str, until: DateTime<Utc>) -> StoreResult<()>;
    /// Frees the session (`ringing` to `ready`) if it is still dialling `item`; whether it was.
    async fn release_session(&self, session: &str, item: &str) -> StoreResult<bool>;
    /// Keeps what detection said of the item's customer, unless it is known already.
    async fn set_item_answered_by(&self, item: &str, answered_by: &str) -> StoreResult<bool>;
    /// In one transaction, unless the item's outcome was queued already: the item's move, its
    /// talk time, the write, and its session freed. Whether this call queued it.
    async fn finish_item(&self, finished: FinishedItem<'_>) -> StoreResult<bool>;
    /// Stores the Twilio call SID of the item's customer leg.
    async fn set_item_call_sid(&self, item: &str, call_sid: &str) -> StoreResult<()>;
    /// Stores how long the customer talked (known when their leg ends, before the wrap-up).
    async fn set_item_talk_secs(&self, item: &str, secs: i64) -> StoreResult<()>;
    /// Sets what became of the item (human, voicemail, abandoned, …) unless it is known already;
    /// whether it was set by this call.
    async fn set_item_outcome(&self, item: &str, outcome: &str) -> StoreResult<bool>;
    /// The dialer's columns of every item of the campaign, in order.
    async fn item_outcomes(&self, campaign: &str) -> StoreResult<Vec<ItemOutcome>>;
    /// For a session in `wrap_up`, in one transaction: its current item keeps the disposition
    /// and notes, the write is queued (unless the item's outcome was queued already), and the
    /// session moves to `ready` without an item. False, and nothing changed, when the session
    /// is not wrapping up, so a record is written once.
    async fn end_wrap_up(&self, wrap_up: WrapUp<'_>) -> StoreResult<bool>;
}
