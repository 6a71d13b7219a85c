//! A call start runs in its own task, to its end, whatever happens to the HTTP request that
//! asked for it (the client going away, the request's timeout): the call is left with its
//! agent leg recorded, or failed with the reason. The request is answered within
//! `CALL_START_WAIT` of its arrival once the call is stored: with Twilio's answer if it came by
//! then, else 202 with the call while the task goes on.

use async_trait::async_trait;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::calls::CallError;
use crate::calls::agent_leg::{self, LegNotCreated};
use crate::calls::start::{StartRequest, store_call};
use crate::calls::view::{self, CallView};
use crate::domain::{CallId, CallState};
use crate::http::{ApiError, last_try, patiently_until, success};
use crate::idempotency::{self, Claim, IdempotencyKey, Keyed};
use crate::state::AppState;
use crate::store::{Agent, Call, RecordLink};

/// What a start request is answered with, when it is not an error.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Twilio accepted the agent's leg: 200.
    Placed(CallView),
    /// Twilio has not answered yet: 202; the leg (or the failure) follows.
    Pending(CallView),
    /// Settled after a 202: 200 with the call as it then was (its leg, or failed with why).
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

pub(super) struct StartJob {
    agent: Agent,
    request: StartRequest,
    keyed: Option<Keyed>,
    /// When the request arrived: its waits count from here.
    arrival: Instant,
    pub(super) record_id: Option<String>,
    pub(super) after: Option<Box<dyn AfterStart>>,
}

impl StartJob {
    pub(super) fn new(
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
            agent,
            request,
            keyed,
            arrival,
            record_id: None,
            after: None,
        }
    }

    /// Runs the start in a task of its own and waits for its first answer.
    pub(super) async fn spawn(self, state: AppState) -> Response {
        let (reply, answer) = oneshot::channel();
        tokio::spawn(self.run(state, reply));
        answer.await.unwrap_or_else(|_| {
            ApiError::Internal("the call start ended without an answer".into()).into_response()
        })
    }

    async fn run(mut self, state: AppState, reply: oneshot::Sender<Response>) {
        let wait = state.settings.timeouts.start_wait;
        // From the request's arrival, not Twilio's start: a slow database must not push the
        // answer past REQUEST_TIMEOUT once the call exists, or the requester never learns its id.
        let deadline = self.arrival + wait;
        let last_try = last_try(&state, self.arrival);
        if let Some(keyed) = &self.keyed {
            match idempotency::claim(&state, keyed, wait).await {
                Ok(Claim::Ours) => {}
                Ok(Claim::Answered(saved)) => {
                    return send(reply, idempotency::http::replay(&saved));
                }
                Ok(Claim::InFlight(call)) => return send(reply, in_flight(&state, call).await),
                Err(error) => return send(reply, ApiError::from(error).into_response()),
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
    ) -> Response {
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
            Some(keyed) if keep => idempotency::http::keep(state, keyed, response).await,
            Some(keyed) => {
                idempotency::release(state, keyed).await;
                response
            }
            None => response,
        }
    }

    /// Twilio answered after the 202: the requester knows this call, so the key keeps it,
    /// whatever Twilio said.
    async fn after_pending(
        &mut self,
        state: &AppState,
        call: &Call,
        outcome: Result<(), LegNotCreated>,
    ) {
        if let Err(failed) = &outcome {
            tracing::info!(call = %call.id, error = %failed.error, "the agent's leg failed after a 202");
        }
        let Some(keyed) = &self.keyed else { return };
        match view::load(state.store.as_ref(), call.id).await {
            Ok(view) => {
                idempotency::http::keep(state, keyed, render(Ok(Answer::Settled(view)))).await;
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

    /// The response for `result`, after the follow-up work that belongs to it.
    async fn answer(&mut self, state: &AppState, result: Result<Answer, CallError>) -> Response {
        if let Some(after) = self.after.take() {
            after.after(state, &result).await;
        }
        render(result)
    }
}

/// A retry while the first request with its key is still waiting for Twilio: the same 202,
/// with the call as it is now.
async fn in_flight(state: &AppState, call: Option<CallId>) -> Response {
    let Some(call) = call else {
        return ApiError::Conflict(
            "a request with this Idempotency-Key is still being checked; retry in a moment".into(),
        )
        .into_response();
    };
    render(
        view::load(state.store.as_ref(), call)
            .await
            .map(Answer::Pending),
    )
}

fn render(result: Result<Answer, CallError>) -> Response {
    match result {
        Ok(Answer::Placed(view)) => success("Call initiated to agent", view).into_response(),
        Ok(Answer::Pending(view)) => success(
            "Call created; Twilio has not confirmed the agent's leg yet: follow it at /calls/{id}",
            view,
        )
        .with_status(StatusCode::ACCEPTED)
        .into_response(),
        Ok(Answer::Settled(view)) => {
            let message = if view.state == CallState::Failed {
                format!(
                    "Call failed: {}",
                    view.reason.as_deref().unwrap_or("unknown reason")
                )
            } else {
                "Call initiated to agent".to_owned()
            };
            success(message, view).into_response()
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

fn send(reply: oneshot::Sender<Response>, response: Response) {
    // The requester may be gone; the call's state is in the store either way.
    let _ = reply.send(response);
}
