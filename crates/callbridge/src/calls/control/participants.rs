//! Carrying out call control through Twilio's Participants API; the effects worker calls these
//! for the rows a control event queued. Each is safe to repeat, and moot once its party left.

use twilio::{Beep, CreateParticipant, HttpMethod, UpdateParticipant};

use super::{Situation, dialled_target};
use crate::calls::flow::LegStatus;
use crate::calls::outcome::{self, LEG_EVENTS, OutcomeError, is_gone, leg};
use crate::calls::twiml::{STATUS_PATH, callback_url};
use crate::domain::{Endpoint, LegRole};
use crate::state::AppState;
use crate::store::{Call, CallLeg, LegUpdate, OutboxRow};

/// How long a third party's phone rings before Twilio gives up on them.
const THIRD_RING_SECS: u32 = 30;

/// The party's leg and the conference it is in, unless the party has left or the call is over.
async fn participant(
    state: &AppState,
    call: &Call,
    role: LegRole,
) -> Result<Option<(String, CallLeg)>, OutcomeError> {
    if call.state.is_final() {
        return Ok(None);
    }
    let Some(leg) = leg(state, call, role).await? else {
        return Ok(None);
    };
    if LegStatus::parse(&leg.status).is_some_and(LegStatus::is_final) {
        return Ok(None);
    }
    // Known from the conference's first callback, which comes before anyone can be held.
    let conference = call
        .conference_sid
        .clone()
        .ok_or(OutcomeError::NotYet("the conference's SID"))?;
    Ok(Some((conference, leg)))
}

async fn update(
    state: &AppState,
    call: &Call,
    role: LegRole,
    change: &UpdateParticipant,
) -> Result<(), OutcomeError> {
    let Some((conference, leg)) = participant(state, call, role).await? else {
        return Ok(());
    };
    match state
        .twilio
        .update_participant(&conference, &leg.call_sid, change)
        .await
    {
        // Left the conference since we last heard: nothing to change any more.
        Err(err) if is_gone(&err) => Ok(()),
        Err(err) => Err(err.into()),
        Ok(_) => Ok(()),
    }
}

pub(crate) async fn hold(
    state: &AppState,
    call: &Call,
    role: LegRole,
    hold: bool,
) -> Result<(), OutcomeError> {
    let change = UpdateParticipant {
        hold: Some(hold),
        hold_url: hold.then(|| state.settings.hold_music_url()),
        hold_method: hold.then_some(HttpMethod::Get),
        ..UpdateParticipant::default()
    };
    update(state, call, role, &change).await
}

pub(crate) async fn mute(
    state: &AppState,
    call: &Call,
    role: LegRole,
    muted: bool,
) -> Result<(), OutcomeError> {
    let change = UpdateParticipant {
        muted: Some(muted),
        ..UpdateParticipant::default()
    };
    update(state, call, role, &change).await
}

/// Dials the third party the newest control event names into the conference, labelled
/// `third`, unable to end it until the call is handed to them.
pub(crate) async fn dial_third(
    state: &AppState,
    call: &Call,
    row: &OutboxRow,
) -> Result<(), OutcomeError> {
    if call.state.is_final() {
        return Ok(());
    }
    let events = state.store.events_for_call(call.id).await?;
    if !Situation::of(&events).third {
        // Given up before it was dialled.
        return Ok(());
    }
    let Some(target) = dialled_target(&events) else {
        tracing::warn!(call = %call.id, "a third party's dial names nobody");
        return Ok(());
    };
    let Ok(number) = Endpoint::parse(&target) else {
        tracing::warn!(call = %call.id, "a third party's dial names no number or client");
        return Ok(());
    };
    let conference = call
        .conference_sid
        .clone()
        .unwrap_or_else(|| call.conference_name.clone());
    let label = LegRole::Third.as_str();
    if row.uncertain
        && let Ok(found) = state.twilio.fetch_participant(&conference, label).await
    {
        // An earlier attempt whose answer we never got dialled them.
        store_leg(state, call, &found.call_sid, "queued", number).await?;
        return Ok(());
    }
    let settings = &state.settings;
    let mut create = CreateParticipant::new(settings.caller_id.as_str(), target.as_str());
    create.label = Some(label.to_owned());
    create.status_callback = Some(callback_url(
        settings,
        STATUS_PATH,
        call.id,
        Some(LegRole::Third),
    ));
    create.status_callback_method = Some(HttpMethod::Post);
    create.status_callback_event = LEG_EVENTS.to_vec();
    create.timeout = Some(THIRD_RING_SECS);
    create.beep = Some(Beep::Never);
    create.start_conference_on_enter = Some(true);
    create.end_conference_on_exit = Some(false);
    create.early_media = Some(true);
    let created = state
        .twilio
        .create_participant(&conference, &create)
        .await?;
    store_leg(state, call, &created.call_sid, "queued", number).await
}

async fn store_leg(
    state: &AppState,
    call: &Call,
    call_sid: &str,
    status: &str,
    number: Endpoint,
) -> Result<(), OutcomeError> {
    state
        .store
        .upsert_leg(LegUpdate {
            call_id: call.id,
            role: LegRole::Third,
            call_sid: call_sid.to_owned(),
            status: status.to_owned(),
            number,
            duration_secs: None,
        })
        .await?;
    Ok(())
}

/// The third party takes the agent's place: their leaving ends the conference from now on,
/// the agent's no longer does, and the agent's leg is ended.
pub(crate) async fn hand_over(state: &AppState, call: &Call) -> Result<(), OutcomeError> {
    let ends = |end: bool| UpdateParticipant {
        end_conference_on_exit: Some(end),
        ..UpdateParticipant::default()
    };
    update(state, call, LegRole::Third, &ends(true)).await?;
    update(state, call, LegRole::Agent, &ends(false)).await?;
    outcome::end_leg(state, call, LegRole::Agent).await
}
