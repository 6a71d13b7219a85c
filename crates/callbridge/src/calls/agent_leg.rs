//! Creating a call's first leg, the agent's, with Twilio, and recording what became of it: the
//! leg, or the call failed with the reason. Each step is its own function, so a queued effect
//! can run the same steps.

use twilio::{CallInstructions, CreateCall, HttpMethod};

use super::CallError;
use super::flow::Reason;
use super::outcome::LEG_EVENTS;
use super::twiml::{self, STATUS_PATH, callback_url};
use crate::domain::{CallState, LegRole};
use crate::patience::patiently;
use crate::state::AppState;
use crate::store::{Call, LegUpdate, StoreError};

/// A 429 from Twilio is about its per-second pace: a second is enough.
const RATE_LIMITED_RETRY_SECS: u64 = 1;
/// Twilio down or silent: give it a few seconds.
const UNAVAILABLE_RETRY_SECS: u64 = 5;

/// Why Twilio did not give us the leg, by what it means for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwilioFailure {
    /// 429: nothing was placed; try again shortly.
    RateLimited,
    /// 5xx, or no connection: nothing was placed; try again later.
    Unavailable,
    /// No answer in time, or one we could not read: the call may have been placed.
    Uncertain,
    /// Twilio refused the request (4xx): nothing was placed, and the same request fails again.
    Refused,
}

impl TwilioFailure {
    pub fn of(err: &twilio::Error) -> Self {
        match err {
            twilio::Error::Api { status: 429, .. } => Self::RateLimited,
            twilio::Error::Api { status, .. } if *status >= 500 => Self::Unavailable,
            twilio::Error::Api { .. } | twilio::Error::Config(_) | twilio::Error::Token(_) => {
                Self::Refused
            }
            twilio::Error::Transport(e) if e.is_connect() => Self::Unavailable,
            twilio::Error::Transport(_) | twilio::Error::Decode { .. } => Self::Uncertain,
        }
    }

    pub fn reason(self) -> Reason {
        match self {
            Self::RateLimited => Reason::TwilioRateLimited,
            Self::Unavailable => Reason::TwilioUnavailable,
            Self::Uncertain => Reason::TwilioTimeout,
            Self::Refused => Reason::TwilioError,
        }
    }

    /// Whether someone may be ringing although Twilio's answer was an error.
    pub fn may_have_placed(self) -> bool {
        self == Self::Uncertain
    }

    fn retry_after_secs(self) -> Option<u64> {
        match self {
            Self::RateLimited => Some(RATE_LIMITED_RETRY_SECS),
            Self::Unavailable | Self::Uncertain => Some(UNAVAILABLE_RETRY_SECS),
            Self::Refused => None,
        }
    }

    /// What the requester is told, with when to retry if waiting helps.
    pub fn to_error(self, err: &twilio::Error) -> CallError {
        let twilio_code = err.code();
        let Some(retry_after_secs) = self.retry_after_secs() else {
            return CallError::Twilio {
                message: format!("Twilio could not place the call: {err}"),
                twilio_code,
                retry_after_secs: None,
            };
        };
        let message = match self {
            Self::RateLimited => format!("Twilio is busy, retry in {retry_after_secs} s: {err}"),
            Self::Uncertain => format!(
                "Twilio did not answer in time; the call was marked failed, and the agent's \
                 phone may ring: {err}"
            ),
            _ => format!("Twilio is unavailable, retry in {retry_after_secs} s: {err}"),
        };
        CallError::Twilio {
            message,
            twilio_code,
            retry_after_secs: Some(retry_after_secs),
        }
    }
}

/// The leg was not created.
#[derive(Debug)]
pub struct LegNotCreated {
    pub error: CallError,
    /// Twilio may have placed it anyway (no answer in time).
    pub may_have_placed: bool,
}

impl From<StoreError> for LegNotCreated {
    fn from(err: StoreError) -> Self {
        Self {
            error: err.into(),
            // Only reached after Twilio accepted the leg: someone is ringing.
            may_have_placed: true,
        }
    }
}

/// Asks Twilio for the agent's leg of `call` and records the outcome.
pub async fn create(state: &AppState, call: &Call) -> Result<(), LegNotCreated> {
    let request = request(state, call).map_err(|error| LegNotCreated {
        error,
        may_have_placed: false,
    })?;
    match state.twilio.create_call(&request).await {
        Ok(created) => record_leg(state, call, created).await,
        Err(err) => {
            let failure = TwilioFailure::of(&err);
            fail_call(state, call, failure.reason())
                .await
                .map_err(|store| LegNotCreated {
                    error: store.into(),
                    may_have_placed: failure.may_have_placed(),
                })?;
            tracing::warn!(call = %call.id, ?failure, %err, "Twilio did not create the agent's leg");
            Err(LegNotCreated {
                error: failure.to_error(&err),
                may_have_placed: failure.may_have_placed(),
            })
        }
    }
}

/// `Calls.create` for the agent's phone: inline TwiML (greeting and key prompt) and status
/// callbacks for every stage of the leg.
fn request(state: &AppState, call: &Call) -> Result<CreateCall, CallError> {
    let greeting = twiml::agent_greeting(&state.settings, call.id)
        .map_err(|e| CallError::Internal(format!("could not write TwiML: {e}")))?;
    let mut create = CreateCall::new(
        call.agent_endpoint.to_twilio(),
        state.settings.caller_id.as_str(),
        CallInstructions::Twiml(greeting),
    );
    create.status_callback = Some(callback_url(
        &state.settings,
        STATUS_PATH,
        call.id,
        Some(LegRole::Agent),
    ));
    create.status_callback_method = Some(HttpMethod::Post);
    create.status_callback_event = LEG_EVENTS.to_vec();
    Ok(create)
}

async fn record_leg(
    state: &AppState,
    call: &Call,
    created: twilio::Call,
) -> Result<(), LegNotCreated> {
    let leg = LegUpdate {
        call_id: call.id,
        role: LegRole::Agent,
        call_sid: created.sid,
        status: created
            .status
            .map_or_else(|| "queued".to_owned(), |s| s.as_str().to_owned()),
        number: call.agent_endpoint.clone(),
        duration_secs: None,
    };
    // The agent's phone is ringing now: a busy database is waited out rather than reported,
    // and writing the same leg twice is harmless.
    patiently(state, || state.store.upsert_leg(leg.clone())).await?;
    state.live.notify(call.id);
    tracing::info!(call = %call.id, agent = %call.agent_id, "call started");
    Ok(())
}

/// A call whose agent leg Twilio never placed: failed with why, unless it moved meanwhile.
pub(super) async fn fail_call(
    state: &AppState,
    call: &Call,
    reason: Reason,
) -> Result<(), StoreError> {
    state
        .store
        .transition_call(
            call.id,
            &[CallState::Created],
            CallState::Failed,
            Some(reason.as_str()),
        )
        .await?;
    state.live.notify(call.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: Option<u32>) -> twilio::Error {
        twilio::Error::Api {
            status,
            code,
            message: "x".into(),
            more_info: None,
        }
    }

    #[test]
    fn only_a_silent_twilio_may_have_placed_the_call() {
        assert_eq!(
            TwilioFailure::of(&api(429, Some(20429))),
            TwilioFailure::RateLimited
        );
        assert_eq!(
            TwilioFailure::of(&api(503, None)),
            TwilioFailure::Unavailable
        );
        assert_eq!(
            TwilioFailure::of(&api(400, Some(21211))),
            TwilioFailure::Refused
        );
        for failure in [
            TwilioFailure::RateLimited,
            TwilioFailure::Unavailable,
            TwilioFailure::Refused,
        ] {
            assert!(!failure.may_have_placed(), "{failure:?}");
        }
        assert!(TwilioFailure::Uncertain.may_have_placed());
    }

    #[test]
    fn busy_or_down_says_when_to_retry_and_a_refusal_does_not() {
        let busy = TwilioFailure::RateLimited.to_error(&api(429, Some(20429)));
        assert!(matches!(
            busy,
            CallError::Twilio {
                twilio_code: Some(20429),
                retry_after_secs: Some(1),
                ..
            }
        ));
        let refused = TwilioFailure::Refused.to_error(&api(400, Some(21211)));
        assert!(matches!(
            refused,
            CallError::Twilio {
                twilio_code: Some(21211),
                retry_after_secs: None,
                ..
            }
        ));
        assert_eq!(TwilioFailure::Uncertain.reason().as_str(), "twilio_timeout");
        assert_eq!(
            TwilioFailure::RateLimited.reason().as_str(),
            "twilio_rate_limited"
        );
    }
}
