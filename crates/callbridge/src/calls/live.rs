//! Following a call live: its events and state changes, as frames a stream sends its client
//! (`GET /calls/{id}/events` sends them as Server-Sent Events).
//!
//! Any instance may store a call's webhooks, so the stream reads the store rather than trusting
//! in-process news: it polls at a short interval, and [`LiveHub`] wakes it at once when this
//! instance stored something, which keeps a single instance's latency near zero.
//!
//! A stream outlives its request, so it checks again every so often that it may go on (its
//! token, every `LIVE_TOKEN_RECHECK`) and ends when not; and an agent holds at most [`MAX_STREAMS_PER_AGENT`] streams
//! on an instance, each a task and a database poll.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};

use super::CallError;
use super::lookup::owned_call;
use super::view::EventView;
use crate::domain::{AgentId, CallId, CallState, EventId};
use crate::state::AppState;
use crate::store::{Agent, Call, CallEvent, SharedStore};

/// How long a failing store is left alone before the stream tries again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);
/// A stream that misses nudges (it fell this far behind) re-reads the store anyway.
const HUB_CAPACITY: usize = 1024;
/// SSE event names.
pub const EVENT_KIND: &str = "event";
pub const STATE_KIND: &str = "state";
/// The last frame of a stream that may not go on: the error envelope.
pub const ERROR_KIND: &str = "error";
/// Open streams per agent and instance; one more is a 429.
pub const MAX_STREAMS_PER_AGENT: usize = 10;

/// How many streams each agent has open on this instance.
#[derive(Debug, Clone, Default)]
struct StreamSlots(Arc<Mutex<HashMap<AgentId, usize>>>);

/// One of an agent's streams; gives its slot back when dropped, however the stream ends.
#[derive(Debug)]
struct StreamSlot {
    slots: StreamSlots,
    agent: AgentId,
}

impl StreamSlots {
    fn take(&self, agent: AgentId) -> Option<StreamSlot> {
        let mut open = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(agent).or_default();
        if *count >= MAX_STREAMS_PER_AGENT {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            slots: self.clone(),
            agent,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.agent) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.agent);
            }
        }
    }
}

/// In-process news that a call changed. Whoever stores an event or moves a call's state calls
/// [`LiveHub::notify`]; streams of that call then re-read the store without waiting for the poll.
#[derive(Debug, Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<Nudge>,
    slots: StreamSlots,
    /// True once the server is shutting down: every stream ends, so that shutting down does
    /// not wait on them (a client's EventSource reconnects, to another instance).
    closing: Arc<watch::Sender<bool>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(HUB_CAPACITY).0,
            slots: StreamSlots::default(),
            closing: Arc::new(watch::channel(false).0),
        }
    }
}

/// Why streams should read the store again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nudge {
    /// This instance changed the call (other instances are told).
    Local(CallId),
    /// Another instance said it changed the call.
    Remote(CallId),
    /// News from other instances may have been lost: every stream reads again.
    Everything,
}

impl Nudge {
    fn concerns(self, id: CallId) -> bool {
        match self {
            Self::Local(call) | Self::Remote(call) => call == id,
            Self::Everything => true,
        }
    }
}

impl LiveHub {
    /// Passes on what other instances said.
    pub fn relay(&self, nudge: Nudge) {
        let _ = self.tx.send(nudge);
    }

    /// Ends every stream, and any opened from now on as soon as it starts.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    pub fn notify(&self, call: CallId) {
        // No subscriber is the normal case when nobody watches.
        let _ = self.tx.send(Nudge::Local(call));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Nudge> {
        self.tx.subscribe()
    }
}

/// The data of a `state` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StateView {
    pub state: CallState,
    pub reason: Option<String>,
    /// Whether the call is over: this is then the stream's last event.
    #[serde(rename = "final")]
    pub is_final: bool,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
}

impl From<&Call> for StateView {
    fn from(call: &Call) -> Self {
        Self {
            state: call.state,
            reason: call.reason.clone(),
            is_final: call.state.is_final(),
            ended_at: call.ended_at,
            duration_secs: call.duration_secs,
        }
    }
}

/// A client told to slow down waits this long before opening another stream.
const RETRY_AFTER_TOO_MANY_STREAMS: u64 = 5;
/// Frames waiting for a slow client.
const FRAMES_QUEUED: usize = 64;

/// What a stream sends its client.
#[derive(Debug, Clone)]
pub enum Frame<R> {
    /// A callback stored.
    Event(EventView),
    /// The call's state, when it changed.
    State(StateView),
    /// Why the stream may not go on: its last frame.
    Refused(R),
}

/// A stream's right to go on, checked again every [`Recheck::every`].
pub trait Recheck: Send + Sync + 'static {
    type Refusal: Send + 'static;
    fn every(&self) -> Duration;
    /// Why the stream must end now, if it must.
    fn refusal(&self) -> impl Future<Output = Option<Self::Refusal>> + Send;
}

/// Opens a stream of the call `raw_id`, one of `agent`'s, resuming after the event
/// `resume_after`; its frames arrive on the receiver until the call is final, the receiver is
/// dropped, `recheck` refuses or the server shuts down.
pub async fn open<W: Recheck>(
    state: &AppState,
    agent: &Agent,
    raw_id: &str,
    resume_after: Option<EventId>,
    recheck: W,
) -> Result<mpsc::Receiver<Frame<W::Refusal>>, CallError> {
    let call = owned_call(state.store.as_ref(), agent, raw_id).await?;
    let slot = state
        .live
        .slots
        .take(agent.id)
        .ok_or(CallError::RateLimited {
            retry_after_secs: RETRY_AFTER_TOO_MANY_STREAMS,
        })?;
    let (tx, rx) = mpsc::channel(FRAMES_QUEUED);
    let nudges = state.live.subscribe();
    let mut closing = state.live.closing.subscribe();
    let store = state.store.clone();
    tokio::spawn(async move {
        let following = follow(store, nudges, call.id, resume_after, recheck, tx);
        tokio::select! {
            () = following => {}
            _ = closing.wait_for(|closing| *closing) => {}
        }
        drop(slot);
    });
    Ok(rx)
}

/// Sends the call's events and state changes to `tx` until the call is final, the client left
/// or `recheck` refused.
async fn follow<W: Recheck>(
    store: SharedStore,
    mut nudges: broadcast::Receiver<Nudge>,
    id: CallId,
    resume_after: Option<EventId>,
    recheck: W,
    tx: mpsc::Sender<Frame<W::Refusal>>,
) {
    let mut tracker = Tracker::new(resume_after);
    let mut next_check = tokio::time::Instant::now() + recheck.every();
    loop {
        if tokio::time::Instant::now() >= next_check {
            if let Some(refusal) = recheck.refusal().await {
                let _ = tx.send(Frame::Refused(refusal)).await;
                return;
            }
            next_check = tokio::time::Instant::now() + recheck.every();
        }
        match read(&store, id).await {
            Ok(Some((call, events))) => {
                for event in tracker.unseen(events) {
                    if tx.send(Frame::Event(event)).await.is_err() {
                        return;
                    }
                }
                if let Some(change) = tracker.state_change(&call)
                    && (tx.send(Frame::State(change.clone())).await.is_err() || change.is_final)
                {
                    return;
                }
            }
            // The call cannot vanish; if it did, there is nothing left to follow.
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(call = %id, %err, "live stream cannot read the store");
                tokio::select! {
                    () = tokio::time::sleep(RETRY_AFTER_ERROR) => {}
                    () = tx.closed() => return,
                }
                continue;
            }
        }
        tokio::select! {
            () = wait_for_nudge(&mut nudges, id) => {}
            () = tokio::time::sleep_until(next_check) => {}
            () = tx.closed() => return,
        }
    }
}

/// The call first, then its events: an event stored after a final state was read is left out,
/// but every event that led to the state read is in.
async fn read(
    store: &SharedStore,
    id: CallId,
) -> Result<Option<(Call, Vec<EventView>)>, crate::store::StoreError> {
    let Some(call) = store.call_by_id(id).await? else {
        return Ok(None);
    };
    let legs = store.legs_for_call(id).await?;
    let events = store.events_for_call(id).await?;
    let views = events
        .into_iter()
        .map(|event: CallEvent| EventView::from_event(event, &legs))
        .collect();
    Ok(Some((call, views)))
}

async fn wait_for_nudge(nudges: &mut broadcast::Receiver<Nudge>, id: CallId) {
    loop {
        match nudges.recv().await {
            Ok(nudge) if nudge.concerns(id) => return,
            Ok(_) => {}
            // Missed nudges may have been ours.
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            // No more nudges: the token's re-check alone wakes the stream.
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// What a stream already sent, so every read of the store yields only what is new.
#[derive(Debug)]
struct Tracker {
    seen: HashSet<EventId>,
    resume_after: Option<EventId>,
    last_state: Option<StateView>,
}

impl Tracker {
    fn new(resume_after: Option<EventId>) -> Self {
        Self {
            seen: HashSet::new(),
            resume_after,
            last_state: None,
        }
    }

    /// Events not sent yet, in stored order. On the first read after a reconnect, everything up
    /// to and including the client's last event counts as sent; an id we do not know sends all.
    fn unseen(&mut self, events: Vec<EventView>) -> Vec<EventView> {
        if let Some(last) = self.resume_after.take()
            && let Some(pos) = events.iter().position(|e| e.id == last)
        {
            self.seen.extend(events[..=pos].iter().map(|e| e.id));
        }
        events
            .into_iter()
            .filter(|e| self.seen.insert(e.id))
            .collect()
    }

    /// The call's state when it differs from the one last sent (the first read always sends).
    fn state_change(&mut self, call: &Call) -> Option<StateView> {
        let now = StateView::from(call);
        let changed = self
            .last_state
            .as_ref()
            .is_none_or(|last| last.state != now.state || last.reason != now.reason);
        if changed {
            self.last_state = Some(now.clone());
            Some(now)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::domain::{EventSource, PhoneNumber};

    fn event(n: u128) -> EventView {
        EventView {
            id: Uuid::from_u128(n).to_string().parse().unwrap(),
            at: Utc::now(),
            source: EventSource::Call,
            kind: format!("k{n}"),
            call_sid: None,
            role: None,
            sequence_number: None,
        }
    }

    fn kinds(events: &[EventView]) -> Vec<String> {
        events.iter().map(|e| e.kind.clone()).collect()
    }

    fn call(state: CallState, reason: Option<&str>) -> Call {
        let phone = PhoneNumber::parse("+14155550100").unwrap();
        let id = CallId::new();
        Call {
            mode: crate::domain::CallMode::Phone,
            id,
            agent_id: crate::domain::AgentId::new(),
            state,
            reason: reason.map(str::to_owned),
            label: None,
            recipient: phone.clone(),
            agent_endpoint: phone.into(),
            conference_name: id.conference_name(),
            conference_sid: None,
            record: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            ended_at: None,
            duration_secs: None,
        }
    }

    #[test]
    fn each_event_is_sent_once_even_when_a_late_one_sorts_earlier() {
        let mut tracker = Tracker::new(None);
        assert_eq!(
            kinds(&tracker.unseen(vec![event(1), event(3)])),
            ["k1", "k3"]
        );
        assert!(tracker.unseen(vec![event(1), event(3)]).is_empty());
        // Another instance's clock put this one between the two already sent.
        let again = tracker.unseen(vec![event(1), event(2), event(3), event(4)]);
        assert_eq!(kinds(&again), ["k2", "k4"]);
    }

    #[test]
    fn a_reconnect_resumes_after_the_last_event_id() {
        let last = event(2).id;
        let mut tracker = Tracker::new(Some(last));
        let sent = tracker.unseen(vec![event(1), event(2), event(3)]);
        assert_eq!(kinds(&sent), ["k3"]);
    }

    #[test]
    fn an_unknown_last_event_id_sends_everything() {
        let mut tracker = Tracker::new(Some(event(99).id));
        assert_eq!(
            kinds(&tracker.unseen(vec![event(1), event(2)])),
            ["k1", "k2"]
        );
    }

    #[test]
    fn state_is_sent_first_then_only_when_it_changes() {
        let mut tracker = Tracker::new(None);
        let ringing = call(CallState::AgentRinging, None);
        assert_eq!(
            tracker.state_change(&ringing).unwrap().state,
            CallState::AgentRinging
        );
        assert!(tracker.state_change(&ringing).is_none());
        let failed = tracker
            .state_change(&call(CallState::Failed, Some("agent_busy")))
            .unwrap();
        assert!(failed.is_final);
        assert_eq!(failed.reason.as_deref(), Some("agent_busy"));
    }

    #[test]
    fn state_data_has_a_stable_shape() {
        let view = StateView::from(&call(CallState::Failed, Some("recipient_busy")));
        let json = serde_json::to_value(view).unwrap();
        insta::assert_json_snapshot!(json, @r#"
        {
          "duration_secs": null,
          "ended_at": null,
          "final": true,
          "reason": "recipient_busy",
          "state": "failed"
        }
        "#);
    }

    #[test]
    fn an_agent_holds_at_most_its_share_of_streams_until_one_ends() {
        let slots = StreamSlots::default();
        let (ada, bob) = (AgentId::new(), AgentId::new());
        let mut held: Vec<StreamSlot> = (0..MAX_STREAMS_PER_AGENT)
            .map(|_| slots.take(ada).expect("a free slot"))
            .collect();
        assert!(slots.take(ada).is_none(), "one stream too many");
        assert!(
            slots.take(bob).is_some(),
            "another agent has slots of its own"
        );
        held.pop();
        assert!(slots.take(ada).is_some(), "an ended stream frees its slot");
    }

    #[tokio::test]
    async fn a_nudge_for_another_call_does_not_wake_the_stream() {
        let hub = LiveHub::default();
        let mut rx = hub.subscribe();
        let ours = CallId::new();
        hub.notify(CallId::new());
        let waited =
            tokio::time::timeout(Duration::from_millis(50), wait_for_nudge(&mut rx, ours)).await;
        assert!(waited.is_err(), "woke for another call");
        hub.notify(ours);
        tokio::time::timeout(Duration::from_secs(5), wait_for_nudge(&mut rx, ours))
            .await
            .expect("woken by our call");
    }

    #[tokio::test]
    async fn news_from_another_instance_wakes_the_stream_and_lost_news_wakes_every_stream() {
        let hub = LiveHub::default();
        let mut rx = hub.subscribe();
        let ours = CallId::new();
        hub.relay(Nudge::Remote(ours));
        tokio::time::timeout(Duration::from_secs(5), wait_for_nudge(&mut rx, ours))
            .await
            .expect("woken by another instance's news");
        hub.relay(Nudge::Everything);
        tokio::time::timeout(Duration::from_secs(5), wait_for_nudge(&mut rx, ours))
            .await
            .expect("woken when news may have been lost");
    }
}
