//! What a leg's progress (a status callback, or Twilio's answer when the reconciler asks)
//! does to the stored call: the leg brought up to date, the conversation's length, and the fact
//! it establishes for the call's flow.

use super::flow::{Fact, LegStatus};
use crate::domain::LegRole;
use crate::state::AppState;
use crate::store::{Call, LegUpdate, StoreResult};

/// One leg's status as Twilio reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegProgress {
    pub call_sid: String,
    /// As sent; `status` is `None` for one we do not know.
    pub raw_status: String,
    pub status: Option<LegStatus>,
    /// Seconds from answer to hang-up; only once the leg ended.
    pub duration_secs: Option<i64>,
}

/// What a leg's progress writes, and the fact it establishes.
#[derive(Debug, Clone)]
pub struct LegWrite {
    pub leg: LegUpdate,
    /// The conversation's length, when this is the customer's leg ending.
    pub call_duration_secs: Option<i64>,
    pub fact: Option<Fact>,
}

/// Works out what the leg's progress writes; reads the store only for a third party's number.
pub async fn plan(
    state: &AppState,
    call: &Call,
    role: LegRole,
    progress: &LegProgress,
) -> StoreResult<LegWrite> {
    let number = match role {
        LegRole::Agent => call.agent_endpoint.clone(),
        LegRole::Recipient => call.recipient.clone().into(),
        LegRole::Third => match state.store.leg_by_sid(&progress.call_sid).await? {
            Some(leg) => leg.number,
            // Its callback came before the dial's answer: the dial's event names the number.
            None => {
                let events = state.store.events_for_call(call.id).await?;
                super::control::dialled_target(&events)
                    .and_then(|t| crate::domain::Endpoint::parse(&t).ok())
                    .unwrap_or_else(|| call.recipient.clone().into())
            }
        },
    };
    // The customer's leg only ever talks in the conference: its length is the conversation's.
    let call_duration_secs = progress
        .duration_secs
        .filter(|_| role == LegRole::Recipient && progress.status == Some(LegStatus::Completed));
    let is_final = progress.status.is_some_and(LegStatus::is_final);
    Ok(LegWrite {
        leg: LegUpdate {
            call_id: call.id,
            role,
            call_sid: progress.call_sid.clone(),
            status: progress.raw_status.clone(),
            number,
            duration_secs: progress.duration_secs.filter(|_| is_final),
        },
        call_duration_secs,
        fact: progress.status.map(|status| Fact::Leg { role, status }),
    })
}

/// Stores the leg's progress; the fact it establishes is the caller's to apply.
pub async fn record(
    state: &AppState,
    call: &Call,
    role: LegRole,
    progress: &LegProgress,
) -> StoreResult<Option<Fact>> {
    let write = plan(state, call, role, progress).await?;
    // Written before the leg's final status, so that a reader who sees the leg ended sees the
    // call's duration too.
    if let Some(secs) = write.call_duration_secs {
        state.store.set_call_duration(call.id, secs).await?;
    }
    state.store.upsert_leg(write.leg).await?;
    Ok(write.fact)
}
