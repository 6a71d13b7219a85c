//! Carrying out what a transition calls for, through Twilio: dialling the customer, telling the
//! agent why the call ends, ending a leg nobody is waiting for. The effects worker calls these.

use twilio::{CallEvent, CallInstructions, CallUpdateStatus, CreateCall, HttpMethod, UpdateCall};

use super::flow::{LegStatus, Reason};
use super::twiml::{self, CONFERENCE_TWIML_PATH, STATUS_PATH, callback_url};
use crate::domain::LegRole;
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
    /// Something the request needs has not come from Twilio yet; it will.
    #[error("waiting for {0}")]
    NotYet(&'static str),
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
            number: call.recipient.clone().into(),
            duration_secs: None,
        })
        .await?;
    Ok(())
}

/// The party's newest leg: a third party dialled again has one leg per dial.
pub(crate) async fn leg(
    state: &AppState,
    call: &Call,
    role: LegRole,
) -> Result<Option<CallLeg>, OutcomeError> {
    let legs = state.store.legs_for_call(call.id).await?;
    Ok(legs.into_iter().rev().find(|l| l.role == role))
}

/// The agent is waiting alone in the conference: new TwiML takes them out of it, says why, and
/// hangs up (which ends the conference, since they were its last participant). An agent who
/// hung up already is left alone.
pub(super) async fn tell_agent(
    state: &AppState,
    call: &Call,
    reason: Reason,
) -> Result<(), OutcomeError> {
    let Some(agent) = leg(state, call, LegRole::Agent).await? else {
        return Ok(());
    };
    if LegStatus::parse(&agent.status).is_some_and(LegStatus::is_final) {
        return Ok(());
    }
    let update = UpdateCall {
        twiml: Some(twiml::say_and_hang_up(reason.spoken())?),
        ..UpdateCall::default()
    };
    match state.twilio.update_call(&agent.call_sid, &update).await {
        Err(err) if is_gone(&err) => Ok(()),
        Err(err) => Err(err.into()),
        Ok(_) => Ok(()),
    }
}

/// The leg ended since its last callback reached us, or never was: nothing left to change.
pub(crate) fn is_gone(err: &twilio::Error) -> bool {
    err.is_not_found() || err.code() == Some(CALL_NOT_IN_PROGRESS)
}

/// Twilio's clock and ours may differ by this much when matching a call to a dial attempt.
const CLOCK_SKEW_SECS: i64 = 5;

/// The call Twilio placed from our number to `to` since `since` (less the clock skew), if any:
/// how a dial whose answer we never got is found.
pub(super) async fn placed_since(
    state: &AppState,
    to: &crate::domain::PhoneNumber,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<twilio::Call>, twilio::Error> {
    let list = twilio::ListCalls {
        to: Some(to.as_str().to_owned()),
        from: Some(state.settings.caller_id.as_str().to_owned()),
        status: None,
        page_size: Some(50),
    };
    let since = since - chrono::Duration::seconds(CLOCK_SKEW_SECS);
    Ok(state
        .twilio
        .list_calls(&list)
        .await?
        .items
        .into_iter()
        .find(|c| c.parent_call_sid.is_none() && c.date_created.is_some_and(|at| at >= since)))
}

/// Whether the customer's leg exists though we never heard Twilio's answer to creating it:
/// stored (its callbacks came), or among Twilio's calls to the customer from our number since
/// the dial was queued. A leg found at Twilio is stored, as the dial would have stored it.
pub(super) async fn find_recipient_leg(
    state: &AppState,
    call: &Call,
    queued_at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, OutcomeError> {
    if leg(state, call, LegRole::Recipient).await?.is_some() {
        return Ok(true);
    }
    let Some(placed) = placed_since(state, &call.recipient, queued_at).await? else {
        return Ok(false);
    };
    state
        .store
        .upsert_leg(LegUpdate {
            call_id: call.id,
            role: LegRole::Recipient,
            call_sid: placed.sid,
            status: placed
                .status
                .map_or_else(|| "queued".to_owned(), |s| s.as_str().to_owned()),
            number: call.recipient.clone().into(),
            duration_secs: None,
        })
        .await?;
    Ok(true)
}

/// `completed` ends a call in progress and cancels one still ringing.
pub(crate) async fn end_leg(
    state: &AppState,
    call: &Call,
    role: LegRole,
) -> Result<(), OutcomeError> {
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
        Err(err) if is_gone(&err) => Ok(()),
        Err(err) => Err(err.into()),
        Ok(_) => Ok(()),
    }
}
