//! A call start runs in its own task, to its end, whatever happens to the request that asked
//! for it (the client going away, the request's timeout): the call is left with its agent leg
//! recorded, or failed with the reason. The request is answered within `CALL_START_WAIT` of its
//! arrival once the call is stored: with Twilio's answer if it came by then, else with the call
//! as pending while the task goes on. With an `Idempotency-Key`, a retry is answered as the
//! first request was, and nobody is rung twice.

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::CallError;
use super::agent_leg::{self, LegNotCreated};
use super::start::{StartRequest, store_call};
use super::view::{self, CallView};
use crate::domain::CallId;
use crate::idempotency::{self, Claim, IdempotencyError, IdempotencyKey, Keyed};
use crate::patience::{last_try, patiently_until};
use crate::state::AppState;
use crate::store::{Agent, Call, RecordLink, SavedResponse};

/// What a start request is answered with, when it is not an error.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Twilio accepted the agent's leg.
    Placed(CallView),
    /// Twilio has not answered yet; the leg (or the failure) follows.
    Pending(CallView),
    /// Settled after a pending answer: the call as it then was (its leg, or failed with why).
    Settled(CallView),
}

impl Answer {
    pub fn view(&self) -> &CallView {
        match self {
            Self::Placed(view) | Self::Pending(view) | Self::Settled(view) => view,
        }
    }
}

/// Work that belongs to a start's answer (writing it to an Airtable record); run in the start's
/// task, once per fresh answer and never for a replay.
#[async_trait]
pub trait AfterStart: Send + Sync {
    async fn after(&self, state: &AppState, result: &Result<Answer, CallError>);
}

/// How a start's answers are put to its requester, and kept for its idempotency key: the
/// transport's business.
#[async_trait]
pub trait Replies: Clone + Send + Sync + 'static {
    type Reply: Send + 'static;
    /// The answer to `result`.
    fn answer(&self, result: Result<Answer, CallError>) -> Self::Reply;
    /// The key's claim failed.
    fn refused(&self, error: IdempotencyError) -> Self::Reply;
    /// An earlier request's answer, as kept for the key.
    fn replay(&self, saved: &SavedResponse) -> Self::Reply;
    /// `reply` with what the key keeps of it; `Err` with what to answer instead when it cannot
    /// be kept.
    async fn kept(&self, reply: Self::Reply) -> Result<(Self::Reply, SavedResponse), Self::Reply>;
}

pub(super) struct StartJob<R: Replies> {
    replies: R,
    agent: Agent,
    request: StartRequest,
    keyed: Option<Keyed>,
    /// When the request arrived: its waits count from here.
    arrival: Instant,
    pub(super) record_id: Option<String>,
    pub(super) after: Option<Box<dyn AfterStart>>,
}

impl<R: Replies> StartJob<R> {
    pub(super) fn new(
        replies: R,
        agent: Agent,
        request: StartRequest,
        key: Option<IdempotencyKey>,
        fingerprint: String,
        arrival: Instant,
    ) -> Self {
        let keyed = key.map(|key| Keyed {
            agent_id: agent.id,
            key,
            fingerprint,
        });
        Self {
            replies,
            agent,
            request,
            keyed,
            arrival,
            record_id: None,
            after: None,
        }
    }

    /// Runs the start in a task of its own and waits for its first answer.
    pub(super) async fn spawn(self, state: AppState) -> R::Reply {
        let replies = self.replies.clone();
        let (reply, answer) = oneshot::channel();
        tokio::spawn(self.run(state, reply));
        answer.await.unwrap_or_else(|_| {
            replies.answer(Err(CallError::Internal(
                "the call start ended without an answer".into(),
            )))
        })
    }

    async fn run(mut self, state: AppState, reply: oneshot::Sender<R::Reply>) {
        let wait = state.settings.timeouts.start_wait;
        // From the request's arrival, not Twilio's start: a slow database must not push the
        // answer past REQUEST_TIMEOUT once the call exists, or the requester never learns its id.
        let deadline = self.arrival + wait;
        let last_try = last_try(&state, self.arrival);
        if let Some(keyed) = &self.keyed {
            match idempotency::claim(&state, keyed, wait).await {
                Ok(Claim::Ours) => {}
                Ok(Claim::Answered(saved)) => return send(reply, self.replies.replay(&saved)),
                Ok(Claim::InFlight(call)) => {
                    return send(reply, self.in_flight(&state, call).await);
                }
                Err(error) => return send(reply, self.replies.refused(error)),
            }
        }
        // Until the call is stored nothing has changed, so a busy database is waited out.
        let call = match patiently_until(last_try, || self.store_call(&state)).await {
            Ok(call) => call,
            Err(error) => {
                let response = self.answer(&state, Err(error)).await;
                // Nothing was stored or rung: a retry with the key runs afresh.
                if let Some(keyed) = &self.keyed {
                    idempotency::release(&state, keyed).await;
                }
                return send(reply, response);
            }
        };
        if let Some(keyed) = &self.keyed
            && let Err(err) = idempotency::bind(&state, keyed, call.id).await
        {
            tracing::warn!(call = %call.id, %err, "could not bind the idempotency key to its call");
        }
        let leg = agent_leg::create(&state, &call);
        tokio::pin!(leg);
        match tokio::time::timeout_at(deadline, &mut leg).await {
            Ok(outcome) => {
                let response = self.settle(&state, &call, outcome, last_try).await;
                send(reply, response);
            }
            Err(_) => {
                let view = self.view(last_try, &state, &call).await;
                let pending = Answer::Pending(view.unwrap_or_else(|stored| stored));
                send(reply, self.answer(&state, Ok(pending)).await);
                let outcome = leg.await;
                self.after_pending(&state, &call, outcome).await;
            }
        }
    }

    async fn store_call(&self, state: &AppState) -> Result<Call, CallError> {
        let link = self.record_id.as_deref().map(|record_id| RecordLink {
            record_id,
            campaign_id: None,
        });
        store_call(state, &self.agent, self.request.clone(), link).await
    }

    /// Twilio answered within the wait: the answer is final. It is kept for the key when
    /// someone may be ringing, and the key released when nobody is.
    async fn settle(
        &mut self,
        state: &AppState,
        call: &Call,
        outcome: Result<(), LegNotCreated>,
        last_try: Instant,
    ) -> R::Reply {
        let (result, keep, ours) = match outcome {
            Ok(()) => match self.view(last_try, state, call).await {
                Ok(view) => (Ok(Answer::Placed(view)), true, false),
                Err(stored) => (Ok(Answer::Pending(stored)), true, true),
            },
            // Twilio took the leg but our database lost track of it: the call goes on, and its
            // callbacks record the leg. The requester is told of the call, not of our trouble.
            Err(failed) if failed.may_have_placed && failed.error.is_ours() => {
                let view = self.view(last_try, state, call).await;
                (
                    Ok(Answer::Pending(view.unwrap_or_else(|stored| stored))),
                    true,
                    true,
                )
            }
            Err(failed) => {
                let ours = failed.error.is_ours();
                (Err(failed.error), failed.may_have_placed, ours)
            }
        };
        let response = self.answer(state, result).await;
        match &self.keyed {
            // A failure of ours (the database) is not the call's answer, nor is a view made
            // without it: the key stays bound to the call, and a retry is answered with the call
            // as it then is.
            Some(_) if keep && ours => response,
            Some(keyed) if keep => self.keep(state, keyed, response).await,
            Some(keyed) => {
                idempotency::release(state, keyed).await;
                response
            }
            None => response,
        }
    }

    /// Twilio answered after the pending answer: the requester knows this call, so the key keeps it,
    /// whatever Twilio said.
    async fn after_pending(
        &mut self,
        state: &AppState,
        call: &Call,
        outcome: Result<(), LegNotCreated>,
    ) {
        if let Err(failed) = &outcome {
            tracing::info!(call = %call.id, error = %failed.error, "the agent's leg failed after a pending answer");
        }
        let Some(keyed) = &self.keyed else { return };
        match view::load(state.store.as_ref(), call.id).await {
            Ok(view) => {
                let settled = self.replies.answer(Ok(Answer::Settled(view)));
                self.keep(state, keyed, settled).await;
            }
            // The key stays bound to the call: a retry answers with the call as it then is.
            Err(err) => tracing::warn!(call = %call.id, %err, "could not save a start's answer"),
        }
    }

    /// The call's view as stored now. When the database cannot show it in time, the call as
    /// this start stored it (state `created`, no leg) is the `Err`: once the call exists, its
    /// requester learns its id rather than a 503.
    async fn view(
        &self,
        last_try: Instant,
        state: &AppState,
        call: &Call,
    ) -> Result<CallView, CallView> {
        let read = patiently_until(last_try, || view::load(state.store.as_ref(), call.id)).await;
        read.map_err(|err| {
            tracing::warn!(call = %call.id, %err, "answering with the call as stored: its view could not be read");
            CallView::build(call.clone(), Some(&self.agent), Vec::new(), Vec::new(), None)
        })
    }

    /// The reply for `result`, after the follow-up work that belongs to it.
    async fn answer(&mut self, state: &AppState, result: Result<Answer, CallError>) -> R::Reply {
        if let Some(after) = self.after.take() {
            after.after(state, &result).await;
        }
        self.replies.answer(result)
    }

    /// Keeps `reply` as the key's answer, and returns it.
    async fn keep(&self, state: &AppState, keyed: &Keyed, reply: R::Reply) -> R::Reply {
        match self.replies.kept(reply).await {
            Ok((reply, saved)) => {
                idempotency::save(state, keyed, &saved).await;
                reply
            }
            Err(instead) => instead,
        }
    }

    /// A retry while the first request with its key is still waiting for Twilio: the same
    /// pending answer, with the call as it is now.
    async fn in_flight(&self, state: &AppState, call: Option<CallId>) -> R::Reply {
        let Some(call) = call else {
            return self.replies.refused(IdempotencyError::InFlight);
        };
        self.replies.answer(
            view::load(state.store.as_ref(), call)
                .await
                .map(Answer::Pending),
        )
    }
}

fn send<T>(reply: oneshot::Sender<T>, answer: T) {
    // The requester may be gone; the call's state is in the store either way.
    let _ = reply.send(answer);
}
