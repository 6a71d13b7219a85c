//! Carrying out one queued effect, and what a failure means: Twilio busy, down or silent is
//! tried again with backoff; Twilio refusing, or failing for too long, gives the effect up,
//! and a customer who cannot be dialled fails the call with the reason.

use chrono::Utc;

use super::{Payload, parse};
use crate::calls::advance;
use crate::calls::agent_leg::TwilioFailure;
use crate::calls::control::{self, participants};
use crate::calls::flow::{Action, Fact, Reason};
use crate::calls::outcome::{self, OutcomeError};
use crate::domain::mask;
use crate::metrics::{CALL_EFFECT_DURATION, CALL_EFFECTS};
use crate::outbox::retry_delay;
use crate::state::AppState;
use crate::store::{Call, OutboxRow, StoreResult};

/// Tries of a customer's dial: the agent is waiting in the conference, so a few seconds only.
const DIAL_ATTEMPTS: i64 = 4;
/// Tries of the other effects, which nobody waits on (about two minutes with the backoff).
const OTHER_ATTEMPTS: i64 = 8;

/// What an attempt came to, for the row.
enum Failure {
    /// Worth trying again; `uncertain` when Twilio may have done it anyway.
    Transient { uncertain: bool },
    /// Trying again would fail the same way.
    Permanent,
}

impl Failure {
    fn of(error: &OutcomeError) -> (Self, Reason) {
        match error {
            OutcomeError::Twilio(e) => {
                let failure = TwilioFailure::of(e);
                let kind = if failure == TwilioFailure::Refused {
                    Self::Permanent
                } else {
                    Self::Transient {
                        uncertain: failure.may_have_placed(),
                    }
                };
                (kind, failure.reason())
            }
            OutcomeError::Store(_) | OutcomeError::NotYet(_) => {
                (Self::Transient { uncertain: false }, Reason::TwilioError)
            }
            OutcomeError::Twiml(_) => (Self::Permanent, Reason::TwilioError),
        }
    }
}

/// Carries out `row` and settles it; errors are the store's only (the row then stays claimed
/// until its lease runs out, and is tried again).
pub(super) async fn deliver(state: &AppState, worker: &str, row: &OutboxRow) -> StoreResult<()> {
    let store = state.store.as_ref();
    let Some(Payload { call_id, action }) = parse(row) else {
        tracing::warn!(kind = %row.kind, "call effects: unreadable row given up");
        store
            .kill_outbox(&row.id, worker, "unreadable payload")
            .await?;
        return Ok(());
    };
    let Some(call) = store.call_by_id(call_id).await? else {
        store.kill_outbox(&row.id, worker, "call not found").await?;
        return Ok(());
    };
    let started = std::time::Instant::now();
    let result = match action {
        Action::DialRecipient => dial(state, &call, row).await,
        Action::TellAgent { reason } => outcome::tell_agent(state, &call, reason).await,
        Action::EndLeg { role } => outcome::end_leg(state, &call, role).await,
        Action::Hold { role, hold } => participants::hold(state, &call, role, hold).await,
        Action::Mute { role, muted } => participants::mute(state, &call, role, muted).await,
        Action::DialThird => participants::dial_third(state, &call, row).await,
        Action::HandOver => participants::hand_over(state, &call).await,
    };
    metrics::histogram!(CALL_EFFECT_DURATION, "kind" => row.kind.clone())
        .record(started.elapsed().as_secs_f64());
    let error = match result {
        Ok(()) => {
            store.complete_outbox(&row.id, &[], worker).await?;
            // A dial stored the customer's (or a third party's) leg.
            state.live.notify(call.id);
            metrics::counter!(CALL_EFFECTS, "kind" => row.kind.clone(), "outcome" => "done")
                .increment(1);
            return Ok(());
        }
        Err(error) => error,
    };
    let (failure, reason) = Failure::of(&error);
    let attempts = row.attempts + 1;
    let limit = match action {
        Action::DialRecipient | Action::DialThird => DIAL_ATTEMPTS,
        _ => OTHER_ATTEMPTS,
    };
    let message = mask::text(&error.to_string());
    match failure {
        Failure::Transient { uncertain } if attempts < limit => {
            let mut wait = retry_delay(u32::try_from(attempts).unwrap_or(u32::MAX), 1.0);
            if uncertain {
                // Twilio may still be placing the call it did not answer us about: looking for
                // it too soon would miss it and ring the customer twice.
                wait += state.settings.timeouts.twilio * 2;
            }
            let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            tracing::warn!(call = %call.id, kind = %row.kind, attempts, err = %message, "call effect failed; will retry");
            store
                .retry_outbox(&row.id, worker, &message, next, uncertain || row.uncertain)
                .await?;
            metrics::counter!(CALL_EFFECTS, "kind" => row.kind.clone(), "outcome" => "retried")
                .increment(1);
        }
        _ => {
            tracing::warn!(call = %call.id, kind = %row.kind, attempts, err = %message, "call effect given up");
            store.kill_outbox(&row.id, worker, &message).await?;
            metrics::counter!(CALL_EFFECTS, "kind" => row.kind.clone(), "outcome" => "given_up")
                .increment(1);
            match action {
                Action::DialRecipient => {
                    advance::apply(state, call.id, Fact::RecipientDialFailed(reason)).await?;
                }
                Action::DialThird => {
                    if let Err(err) = control::react::dial_failed(state, &call, &row.id).await {
                        tracing::warn!(call = %call.id, %err, "could not record a third party's failed dial");
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Dials the customer unless that is moot (the call ended meanwhile) or done already (an
/// earlier attempt whose answer we never got placed the call).
async fn dial(state: &AppState, call: &Call, row: &OutboxRow) -> Result<(), OutcomeError> {
    if call.state.is_final() {
        return Ok(());
    }
    if row.uncertain && outcome::find_recipient_leg(state, call, row.created_at).await? {
        tracing::info!(call = %call.id, "the customer's leg was placed by an earlier attempt");
        return Ok(());
    }
    outcome::dial_recipient(state, call).await
}
