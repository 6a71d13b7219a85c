//! The agent ends the call. With a conference, ending it hangs up everyone in it; before there
//! is one, each live leg is ended on its own. The call's final state then follows from Twilio's
//! callbacks, like any other ending.

use super::CallError;
use super::lookup::owned_call;
use super::view::{self, CallView};
use crate::domain::CallState;
use crate::state::AppState;
use crate::store::{Agent, Call, CallLeg};

/// Asks Twilio to end the call `raw_id` names, one of `agent`'s, and answers with the call as
/// it is then. When Twilio says the legs are already gone, the call is finalised from what
/// Twilio reports.
pub async fn hang_up(state: &AppState, agent: &Agent, raw_id: &str) -> Result<CallView, CallError> {
    let call = owned_call(state.store.as_ref(), agent, raw_id).await?;
    if call.state.is_final() {
        return Err(CallError::AlreadyEnded(call.state));
    }
    if end(state, &call).await? == Hangup::SaysGone {
        // Twilio says the call is over though we never heard so: learn how it ended now,
        // rather than answer 202 to every hangup for ever.
        if let Err(err) = super::reconcile::check(state, &call).await {
            tracing::warn!(call = %call.id, %err, "could not learn how a call Twilio ended went");
        }
    }
    state.live.notify(call.id);
    view::load(state.store.as_ref(), call.id).await
}

/// What Twilio made of a hangup.
#[derive(Debug, PartialEq, Eq)]
enum Hangup {
    /// Something was still up, and is being ended.
    Ending,
    /// Everything we asked about had ended already.
    SaysGone,
}

/// Asks Twilio to end whatever of the call is still up. Repeating it is harmless: what already
/// ended is skipped.
async fn end(state: &AppState, call: &Call) -> Result<Hangup, CallError> {
    let mut asked = 0;
    let mut gone = 0;
    if let Some(sid) = &call.conference_sid {
        let update = twilio::UpdateConference {
            status: Some(twilio::ConferenceUpdateStatus::Completed),
            ..twilio::UpdateConference::default()
        };
        asked += 1;
        match state.twilio.update_conference(sid, &update).await {
            Ok(_) => {}
            Err(err) if is_gone(&err) => gone += 1,
            Err(err) => return Err(upstream(&err)),
        }
        // The customer may still be ringing, outside the conference: the legs below end that.
    }
    let legs = state.store.legs_for_call(call.id).await?;
    let live: Vec<&CallLeg> = legs.iter().filter(|leg| is_live(&leg.status)).collect();
    if live.is_empty() && legs.is_empty() {
        // Twilio never got a leg (or we never heard of it): nothing to hang up but our record.
        state
            .store
            .transition_call(
                call.id,
                &non_final_states(),
                CallState::Failed,
                Some("canceled"),
            )
            .await?;
        return Ok(Hangup::Ending);
    }
    // `completed` ends a call whatever its status, where `canceled` would leave alone one that
    // was answered since our last callback.
    let update = twilio::UpdateCall {
        status: Some(twilio::CallUpdateStatus::Completed),
        ..twilio::UpdateCall::default()
    };
    for leg in live {
        asked += 1;
        match state.twilio.update_call(&leg.call_sid, &update).await {
            Ok(_) => {}
            Err(err) if is_gone(&err) => gone += 1,
            Err(err) => return Err(upstream(&err)),
        }
    }
    Ok(if gone == asked {
        Hangup::SaysGone
    } else {
        Hangup::Ending
    })
}

fn non_final_states() -> Vec<CallState> {
    CallState::ALL
        .iter()
        .copied()
        .filter(|s| !s.is_final())
        .collect()
}

fn is_live(status: &str) -> bool {
    matches!(status, "queued" | "initiated" | "ringing" | "in-progress")
}

/// The resource no longer exists or has ended since we last heard: what hangup wanted anyway.
fn is_gone(err: &twilio::Error) -> bool {
    // 21220: "Call is not in-progress"; 20404: not found.
    err.is_not_found() || err.code() == Some(21220)
}

fn upstream(err: &twilio::Error) -> CallError {
    CallError::Twilio {
        twilio_code: err.code(),
        message: format!("Twilio refused to hang up: {err}"),
        retry_after_secs: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unfinished_twilio_statuses_are_live() {
        for status in ["queued", "initiated", "ringing", "in-progress"] {
            assert!(is_live(status), "{status}");
        }
        for status in ["completed", "busy", "no-answer", "failed", "canceled"] {
            assert!(!is_live(status), "{status}");
        }
    }

    #[test]
    fn non_final_states_leave_out_completed_and_failed() {
        let states = non_final_states();
        assert!(states.contains(&CallState::Created));
        assert!(!states.iter().any(CallState::is_final));
    }
}
