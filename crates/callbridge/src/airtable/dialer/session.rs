//! An agent's session of a campaign: joining (the agent's phone is dialled into the session's
//! conference), pausing, resuming, wrapping a record up, leaving, and what the agent's leg
//! tells us about the agent being there.

use twilio::{CallInstructions, CallUpdateStatus, CreateCall, HttpMethod, UpdateCall};

use super::DialerError;
use super::outcome::{self, Written};
use super::settings::DialerSettings;
use super::twiml::{AGENT_STATUS_PATH, agent_room, session_url};
use crate::airtable::AirtableError;
use crate::calls::CallError;
use crate::calls::agent_leg::TwilioFailure;
use crate::destinations::Use;
use crate::domain::CallMode;
use crate::state::AppState;
use crate::store::{Agent, Campaign, DialerSession, SessionJoin, SessionState, WrapUp};

/// Characters of wrap-up notes: a paragraph, and what an Airtable long text takes at ease.
pub const MAX_NOTES_CHARS: usize = 5000;

/// Every state but `left`: where an agent can leave from.
const PRESENT: &[SessionState] = &[
    SessionState::Joining,
    SessionState::Ready,
    SessionState::Ringing,
    SessionState::Talking,
    SessionState::WrapUp,
    SessionState::Paused,
];

/// What stands for the agent's leg while the join that dials it waits for Twilio's SID.
const DIALLING: &str = "dialling:";

/// The agent's leg at Twilio, if Twilio has given one.
fn twilio_leg(session: &DialerSession) -> Option<&str> {
    session
        .agent_call_sid
        .as_deref()
        .filter(|sid| !sid.starts_with(DIALLING))
}

/// `phone` or `browser`.
pub fn mode(raw: Option<&str>) -> Result<CallMode, DialerError> {
    match raw.map(str::trim) {
        None | Some("" | "phone") => Ok(CallMode::Phone),
        Some("browser") => Ok(CallMode::Browser),
        Some(_) => Err(DialerError::Mode),
    }
}

/// The agent's session of the campaign (a new one, or the one it has not left), with the
/// agent's phone dialled into it unless the agent is already there. A browser session dials
/// nothing: the browser calls the TwiML App with the session's id (`device.connect({params:
/// {Session: id}})`), and the App's Voice URL puts that call in the session's conference.
pub async fn join(
    state: &AppState,
    agent: &Agent,
    campaign: &Campaign,
    mode: CallMode,
) -> Result<DialerSession, AirtableError> {
    if campaign.status != crate::store::CampaignStatus::Running {
        return Err(DialerError::NotRunning.into());
    }
    let phone = if mode == CallMode::Browser {
        let missing = crate::browser::missing_settings(&state.settings);
        if !missing.is_empty() {
            return Err(DialerError::BrowserUnavailable(missing.join(", ")).into());
        }
        None
    } else {
        let phone = agent.phone.clone().ok_or(DialerError::NoPhone)?;
        state
            .settings
            .destinations
            .check(&phone, Use::Call)
            .map_err(|why| CallError::Refused(format!("your phone cannot be called: {why}")))?;
        Some(phone)
    };
    let conference = format!("cb-s-{}", uuid::Uuid::now_v7());
    let session = state
        .store
        .join_session(SessionJoin {
            campaign_id: &campaign.id,
            agent_id: agent.id,
            mode,
            conference: &conference,
        })
        .await?;
    let Some(phone) = phone else {
        return Ok(session);
    };
    let room = agent_room(&session.conference)
        .map_err(|e| CallError::Internal(format!("could not write TwiML: {e}")))?;
    let marker = format!("{DIALLING}{}", uuid::Uuid::now_v7());
    if session.state != SessionState::Joining
        || !state
            .store
            .claim_session_agent_leg(&session.id, &marker)
            .await?
    {
        // The agent is there, or their phone is ringing already (another join dials it).
        return Ok(session);
    }
    let mut create = CreateCall::new(
        phone.as_str(),
        state.settings.caller_id.as_str(),
        CallInstructions::Twiml(room),
    );
    create.status_callback = Some(session_url(
        &state.settings,
        AGENT_STATUS_PATH,
        &session.id,
        None,
    ));
    create.status_callback_method = Some(HttpMethod::Post);
    create.status_callback_event = twilio::CallEvent::ALL.to_vec();
    let created = match state.twilio.create_call(&create).await {
        Ok(created) => created,
        Err(err) => {
            // The next join dials again.
            state.store.set_session_agent_leg(&session.id, None).await?;
            return Err(TwilioFailure::of(&err).to_error(&err).into());
        }
    };
    state
        .store
        .set_session_agent_leg(&session.id, Some(&created.sid))
        .await?;
    tracing::info!(session = %session.id, campaign = %campaign.id, "agent dialled into the session");
    Ok(state
        .store
        .session_by_id(&session.id)
        .await?
        .unwrap_or(session))
}

/// What the App's Voice URL answers a browser's call that names a session: the session's room,
/// or why not, in words the agent hears.
pub async fn browser_joined(
    state: &AppState,
    agent: &Agent,
    session_id: &str,
    call_sid: &str,
) -> Result<Result<String, &'static str>, AirtableError> {
    let Some(session) = state.store.session_by_id(session_id).await? else {
        return Ok(Err("This campaign session is unknown."));
    };
    if session.agent_id != agent.id {
        return Ok(Err("This campaign session is someone else's."));
    }
    if session.state == SessionState::Left {
        return Ok(Err(
            "You left this campaign session. Join it again from the page.",
        ));
    }
    let rejoined = session.agent_call_sid.as_deref() == Some(call_sid);
    if !rejoined {
        if session.state != SessionState::Joining {
            return Ok(Err("You are in this campaign session already."));
        }
        state
            .store
            .set_session_agent_leg(&session.id, Some(call_sid))
            .await?;
    }
    // The browser's call is answered by this TwiML: the agent is there from now on.
    state
        .store
        .move_session(&session.id, &[SessionState::Joining], SessionState::Ready)
        .await?;
    tracing::info!(session = %session.id, "agent joined the session from the browser");
    let room = agent_room(&session.conference)
        .map_err(|e| CallError::Internal(format!("could not write TwiML: {e}")))?;
    Ok(Ok(room))
}

/// The agent's session of the campaign that it has not left.
pub async fn current(
    state: &AppState,
    agent: &Agent,
    campaign: &Campaign,
) -> Result<DialerSession, AirtableError> {
    state
        .store
        .campaign_sessions(&campaign.id)
        .await?
        .into_iter()
        .find(|s| s.agent_id == agent.id && s.state != SessionState::Left)
        .ok_or_else(|| DialerError::NotInSession.into())
}

/// No new record for the agent until they resume; a call in progress goes on.
pub async fn pause(state: &AppState, session: &DialerSession) -> Result<(), AirtableError> {
    if !state
        .store
        .move_session(&session.id, &[SessionState::Ready], SessionState::Paused)
        .await?
    {
        return Err(cannot(state, session, "pause: pause while ready").await?);
    }
    Ok(())
}

pub async fn resume(state: &AppState, session: &DialerSession) -> Result<(), AirtableError> {
    if !state
        .store
        .move_session(&session.id, &[SessionState::Paused], SessionState::Ready)
        .await?
    {
        return Err(cannot(state, session, "resume: it is not paused").await?);
    }
    Ok(())
}

async fn cannot(
    state: &AppState,
    session: &DialerSession,
    what: &'static str,
) -> Result<AirtableError, AirtableError> {
    let now = state
        .store
        .session_by_id(&session.id)
        .await?
        .map_or(session.state, |s| s.state);
    Ok(DialerError::CannotNow { now, what }.into())
}

/// What the agent said of the record they just talked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    pub outcome: String,
    pub notes: Option<String>,
}

/// Checks an agent's wrap-up against the campaign's outcomes.
pub fn disposition(
    settings: &DialerSettings,
    outcome: Option<&str>,
    notes: Option<&str>,
) -> Result<Disposition, DialerError> {
    let asked = outcome
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| DialerError::NoOutcome(settings.dispositions.clone()))?;
    let outcome = settings
        .disposition(asked)
        .ok_or_else(|| DialerError::UnknownOutcome {
            asked: asked.to_owned(),
            known: settings.dispositions.clone(),
        })?
        .to_owned();
    let notes = notes.map(str::trim).filter(|n| !n.is_empty());
    if notes.is_some_and(|n| n.chars().count() > MAX_NOTES_CHARS) {
        return Err(DialerError::NotesTooLong(MAX_NOTES_CHARS));
    }
    Ok(Disposition {
        outcome,
        notes: notes.map(str::to_owned),
    })
}

/// Ends the session's wrap-up with what the agent said (or nothing, when time ran out): the
/// record is written with its call's outcome, once. False when the session was not wrapping up.
pub async fn end_wrap_up(
    state: &AppState,
    session: &DialerSession,
    said: Option<&Disposition>,
) -> Result<bool, AirtableError> {
    let Some(airtable) = state.airtable.as_ref() else {
        return Ok(false);
    };
    let Some(now) = state.store.session_by_id(&session.id).await? else {
        return Ok(false);
    };
    let Some(item_id) = now.current_item.as_deref() else {
        return Ok(false);
    };
    let items = state.store.campaign_items(&now.campaign_id).await?;
    let outcomes = state.store.item_outcomes(&now.campaign_id).await?;
    let (Some(item), Some(known)) = (
        items.iter().find(|i| i.id == item_id),
        outcomes.iter().find(|o| o.item_id == item_id),
    ) else {
        return Ok(false);
    };
    let agent = state.store.agent_by_id(now.agent_id).await?;
    let write = outcome::write(
        &airtable.fields,
        &Written {
            record_id: &item.record_id,
            outcome: known.outcome.as_deref().unwrap_or(outcome::HUMAN),
            answered_by: known.answered_by.as_deref(),
            talk_secs: known.talk_secs,
            disposition: said.map(|d| d.outcome.as_str()),
            notes: said.and_then(|d| d.notes.as_deref()),
            agent_email: agent.as_ref().map(|a| a.email.as_str()),
            dialled: true,
        },
    );
    Ok(state
        .store
        .end_wrap_up(WrapUp {
            session_id: &session.id,
            disposition: said.map(|d| d.outcome.as_str()),
            notes: said.and_then(|d| d.notes.as_deref()),
            write: Some(write),
        })
        .await?)
}

/// The agent's wrap-up, asked for over the API.
pub async fn wrap_up(
    state: &AppState,
    settings: &DialerSettings,
    session: &DialerSession,
    outcome: Option<&str>,
    notes: Option<&str>,
) -> Result<(), AirtableError> {
    let said = disposition(settings, outcome, notes)?;
    if !end_wrap_up(state, session, Some(&said)).await? {
        return Err(cannot(
            state,
            session,
            "wrap up: no call is waiting for its outcome",
        )
        .await?);
    }
    Ok(())
}

/// The agent leaves: a pending wrap-up is written without an outcome, a customer still ringing
/// for them is let go before anyone answers to nobody, and the agent's leg is hung up.
pub async fn leave(state: &AppState, session: &DialerSession) -> Result<(), AirtableError> {
    end_wrap_up(state, session, None).await?;
    let now = state.store.session_by_id(&session.id).await?;
    if let Some(now) = now.filter(|s| s.state == SessionState::Ringing) {
        hang_up_customer(state, &now).await?;
    }
    if !state
        .store
        .move_session(&session.id, PRESENT, SessionState::Left)
        .await?
    {
        // Letting the customer go may have ended the campaign's last record, and the campaign,
        // ending, closes its sessions: this one left as asked, the moment before.
        let now = state.store.session_by_id(&session.id).await?;
        if !now.is_some_and(|now| now.state == SessionState::Left) {
            return Err(cannot(state, session, "leave: it already left").await?);
        }
    }
    if let Some(sid) = twilio_leg(session) {
        hang_up(state, sid).await;
    }
    tracing::info!(session = %session.id, "agent left the session");
    Ok(())
}

/// Hangs up the customer the session is dialling, if Twilio has their leg already.
async fn hang_up_customer(state: &AppState, session: &DialerSession) -> Result<(), AirtableError> {
    let Some(item) = session.current_item.as_deref() else {
        return Ok(());
    };
    let outcomes = state.store.item_outcomes(&session.campaign_id).await?;
    let ringing = outcomes
        .iter()
        .find(|o| o.item_id == item && o.answered_by.is_none())
        .and_then(|o| o.call_sid.as_deref());
    if let Some(sid) = ringing {
        hang_up(state, sid).await;
    }
    Ok(())
}

/// Ends a leg, as a courtesy: a leg already over is no error.
pub async fn hang_up(state: &AppState, call_sid: &str) {
    let update = UpdateCall {
        status: Some(CallUpdateStatus::Completed),
        ..UpdateCall::default()
    };
    if let Err(error) = state.twilio.update_call(call_sid, &update).await {
        tracing::debug!(%error, "could not hang up a session leg");
    }
}

/// Runs new TwiML on a customer's leg; a leg that already ended is no error.
pub async fn redirect(state: &AppState, call_sid: &str, xml: Result<String, ::twiml::Error>) {
    let Ok(xml) = xml else {
        tracing::error!("could not write the TwiML of a customer leg");
        return;
    };
    let update = UpdateCall {
        twiml: Some(xml),
        ..UpdateCall::default()
    };
    if let Err(error) = state.twilio.update_call(call_sid, &update).await {
        tracing::debug!(%error, "could not redirect a customer leg");
    }
}

/// What the agent's leg said. Answered: the agent is there. Over: the session waits for the
/// agent to join again (a call being wrapped up is written without an outcome).
pub async fn agent_leg(
    state: &AppState,
    session_id: &str,
    call_sid: &str,
    status: &str,
) -> Result<(), AirtableError> {
    let Some(session) = state.store.session_by_id(session_id).await? else {
        return Ok(());
    };
    if session.agent_call_sid.as_deref() != Some(call_sid) {
        // An older leg of a session that was joined again.
        return Ok(());
    }
    match status {
        "in-progress" => {
            state
                .store
                .move_session(&session.id, &[SessionState::Joining], SessionState::Ready)
                .await?;
        }
        "completed" | "busy" | "no-answer" | "failed" | "canceled" => {
            end_wrap_up(state, &session, None).await?;
            state.store.set_session_agent_leg(&session.id, None).await?;
            let moved = state
                .store
                .move_session(
                    &session.id,
                    &[
                        SessionState::Ready,
                        SessionState::Ringing,
                        SessionState::Talking,
                        SessionState::WrapUp,
                        SessionState::Paused,
                    ],
                    SessionState::Joining,
                )
                .await?;
            if moved {
                tracing::info!(session = %session.id, "the agent's leg dropped; the session waits for a rejoin");
            }
        }
        _ => {}
    }
    Ok(())
}

/// Hangs up every agent still in a session of the campaign, which is over.
pub async fn close_all(state: &AppState, campaign: &str) -> Result<(), AirtableError> {
    for session in state.store.campaign_sessions(campaign).await? {
        if session.state == SessionState::Left {
            continue;
        }
        if state
            .store
            .move_session(&session.id, PRESENT, SessionState::Left)
            .await?
            && let Some(sid) = twilio_leg(&session)
        {
            hang_up(state, sid).await;
        }
    }
    Ok(())
}
