//! Carrying out what a transition calls for, through Twilio: dialling the customer, telling the
//! agent why the call ends, ending a leg nobody is waiting for.

use twilio::{CallEvent, CallInstructions, CallUpdateStatus, CreateCall, HttpMethod, UpdateCall};

use super::flow::{Action, LegStatus, Reason};
use super::twiml::{self, CONFERENCE_TWIML_PATH, STATUS_PATH, callback_url};
use crate::domain::{LegRole, mask};
use crate::state::AppState;
use crate::store::{Call, CallLeg, LegUpdate, StoreError};

/// Twilio's "Call is not in-progress".
const CALL_NOT_IN_PROGRESS: u32 = 21220;

#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    #[error("Twilio refused: {0}")]
    Twilio(#[from] twilio::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not write TwiML: {0}")]
    Twiml(#[from] ::twiml::Error),
}

/// The status callback events we follow on both legs.
pub const LEG_EVENTS: [CallEvent; 4] = CallEvent::ALL;

/// Creates the customer's leg (the seed's way: a call whose TwiML puts it in the conference) and
/// stores it at once, so that callbacks about it find their leg whatever order they come in.
pub async fn dial_recipient(state: &AppState, call: &Call) -> Result<(), OutcomeError> {
    let settings = &state.settings;
    let mut create = CreateCall::new(
        call.recipient.as_str(),
        settings.caller_id.as_str(),
        CallInstructions::Url(callback_url(
            settings,
            CONFERENCE_TWIML_PATH,
            call.id,
            Some(LegRole::Recipient),
        )),
    );
    create.method = Some(HttpMethod::Post);
    create.status_callback = Some(callback_url(
        settings,
        STATUS_PATH,
        call.id,
        Some(LegRole::Recipient),
    ));
    create.status_callback_method = Some(HttpMethod::Post);
    create.status_callback_event = LEG_EVENTS.to_vec();
    let created = state.twilio.create_call(&create).await?;
    state
        .store
        .upsert_leg(LegUpdate {
            call_id: call.id,
            role: LegRole::Recipient,
            call_sid: created.sid,
            status: created
                .status
                .map_or_else(|| "queued".to_owned(), |s| s.as_str().to_owned()),
            number: call.recipient.clone(),
            duration_secs: None,
        })
        .await?;
    Ok(())
}

/// Does the actions that need nothing back; a failure is logged, not returned, because the
/// webhook that caused it was handled and Twilio retrying it would not help.
pub async fn carry_out(state: &AppState, call: &Call, actions: &[Action]) {
    for action in actions {
        let result = match action {
            Action::TellAgent(reason) => tell_agent(state, call, *reason).await,
            Action::EndLeg(role) => end_leg(state, call, *role).await,
            // Dialling answers the agent's webhook, so its caller does it.
            Action::DialRecipient => Ok(()),
        };
        if let Err(err) = result {
            tracing::warn!(
                call = %call.id,
                ?action,
                err = %mask::text(&err.to_string()),
                "call action failed"
            );
        }
    }
}

async fn leg(
    state: &AppState,
    call: &Call,
    role: LegRole,
) -> Result<Option<CallLeg>, OutcomeError> {
    let legs = state.store.legs_for_call(call.id).await?;
    Ok(legs.into_iter().find(|l| l.role == role))
}

/// The agent is waiting alone in the conference: new TwiML takes them out of it, says why, and
/// hangs up (which ends the conference, since they were its last participant).
async fn tell_agent(state: &AppState, call: &Call, reason: Reason) -> Result<(), OutcomeError> {
    let Some(agent) = leg(state, call, LegRole::Agent).await? else {
        return Ok(());
    };
    let update = UpdateCall {
        twiml: Some(twiml::say_and_hang_up(reason.spoken())?),
        ..UpdateCall::default()
    };
    state.twilio.update_call(&agent.call_sid, &update).await?;
    Ok(())
}

/// `completed` ends a call in progress and cancels one still ringing.
async fn end_leg(state: &AppState, call: &Call, role: LegRole) -> Result<(), OutcomeError> {
    let Some(leg) = leg(state, call, role).await? else {
        return Ok(());
    };
    if LegStatus::parse(&leg.status).is_some_and(LegStatus::is_final) {
        return Ok(());
    }
    let update = UpdateCall {
        status: Some(CallUpdateStatus::Completed),
        ..UpdateCall::default()
    };
    match state.twilio.update_call(&leg.call_sid, &update).await {
        // Ended since its last callback reached us: what we wanted anyway.
        Err(err) if err.is_not_found() || err.code() == Some(CALL_NOT_IN_PROGRESS) => Ok(()),
        Err(err) => Err(err.into()),
        Ok(_) => Ok(()),
    }
}
