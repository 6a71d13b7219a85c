//! Finding a call: by its id, or for the agent it belongs to. An agent asking for a call that
//! is not theirs is told it does not exist, so nobody learns whether another agent's call id
//! exists.

use super::CallError;
use super::view::{self, CallView};
use crate::domain::{CallId, CallState};
use crate::store::{Agent, Call, CallCursor, CallPageQuery, Store};

/// A page of an agent's calls, newest first.
#[derive(Debug)]
pub struct Page {
    pub calls: Vec<CallView>,
    /// Where the next (older) page starts; `None` on the last one.
    pub next: Option<CallCursor>,
}

pub async fn call(store: &dyn Store, id: CallId) -> Result<Call, CallError> {
    store.call_by_id(id).await?.ok_or(CallError::NotFound)
}

/// The call whose leg Twilio calls `call_sid`, if we have that leg.
pub async fn call_of_leg(store: &dyn Store, call_sid: &str) -> Result<Option<CallId>, CallError> {
    Ok(store.leg_by_sid(call_sid).await?.map(|leg| leg.call_id))
}

/// The call `raw_id` names, if it exists and belongs to `agent`.
pub async fn owned_call(store: &dyn Store, agent: &Agent, raw_id: &str) -> Result<Call, CallError> {
    let id: CallId = raw_id.parse().map_err(|_| CallError::NotFound)?;
    match store.call_by_id(id).await? {
        Some(call) if call.agent_id == agent.id => Ok(call),
        _ => Err(CallError::NotFound),
    }
}

/// The full view of the call `raw_id` names, if it exists and belongs to `agent`.
pub async fn owned_view(
    store: &dyn Store,
    agent: &Agent,
    raw_id: &str,
) -> Result<CallView, CallError> {
    let id: CallId = raw_id.parse().map_err(|_| CallError::NotFound)?;
    // One snapshot for the ownership check and the view: a call row read before its legs
    // could show a leg ended without the duration written before it.
    let view = view::load(store, id).await?;
    if view.agent.id != agent.id {
        return Err(CallError::NotFound);
    }
    Ok(view)
}

/// Up to `limit` of `agent`'s calls in any of `states` (all when empty), newest first, from
/// `before` on.
pub async fn page(
    store: &dyn Store,
    agent: &Agent,
    states: Vec<CallState>,
    before: Option<CallCursor>,
    limit: u32,
) -> Result<Page, CallError> {
    let query = CallPageQuery {
        agent: agent.id,
        states,
        before,
        since: None,
        until: None,
        number_digits: None,
        // One more than asked tells whether another page exists.
        limit: limit + 1,
    };
    let mut calls = store.calls_page(&query).await?;
    let next = if calls.len() > limit as usize {
        calls.truncate(limit as usize);
        calls.last().map(|last| CallCursor {
            created_at: last.created_at,
            id: last.id,
        })
    } else {
        None
    };
    let calls = view::load_many(store, calls).await?;
    Ok(Page { calls, next })
}
