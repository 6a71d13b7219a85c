//! A customer's leg, from detection's verdict to its end: a person goes to the agent (or hears
//! an apology when the agent is gone), a machine gets the voicemail message, and the record is
//! written once its leg is over (after the agent's wrap-up, for a person who talked).

use super::outcome::{self, Written};
use super::session::redirect;
use super::settings::{Detected, DialerSettings};
use super::twiml;
use crate::airtable::AirtableError;
use crate::airtable::campaigns::settings_of;
use crate::state::AppState;
use crate::store::{DialerSession, FinishedItem, ItemOutcome, SessionState};

/// What detection's verdict sends the customer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Agent,
    Voicemail,
    HangUp,
}

/// Where a verdict goes, by the campaign's settings for faxes and for legs it could not tell.
pub fn route(settings: &DialerSettings, answered_by: &str) -> Route {
    let by_setting = |d: Detected| match d {
        Detected::Agent => Route::Agent,
        Detected::Voicemail => Route::Voicemail,
        Detected::HangUp => Route::HangUp,
    };
    match answered_by {
        "human" => Route::Agent,
        "fax" => by_setting(settings.fax),
        "unknown" => by_setting(settings.unknown),
        _ => Route::Voicemail,
    }
}

struct Context {
    session: DialerSession,
    settings: DialerSettings,
}

async fn context(state: &AppState, session_id: &str) -> Result<Option<Context>, AirtableError> {
    let Some(session) = state.store.session_by_id(session_id).await? else {
        return Ok(None);
    };
    let Some(settings) = settings_of(state.store.as_ref(), &session.campaign_id).await? else {
        return Ok(None);
    };
    Ok(Some(Context { session, settings }))
}

/// Detection's verdict on the customer of `item`, dialled for `session_id`.
pub async fn detected(
    state: &AppState,
    session_id: &str,
    item: &str,
    call_sid: &str,
    answered_by: &str,
) -> Result<(), AirtableError> {
    let Some(Context { session, settings }) = context(state, session_id).await? else {
        return Ok(());
    };
    let store = &state.store;
    if !store.set_item_answered_by(item, answered_by).await? {
        // A retried callback: the first one routed the leg.
        return Ok(());
    }
    let kept = |name: &'static str| async move { store.set_item_outcome(item, name).await };
    match route(&settings, answered_by) {
        Route::Agent => {
            let ours = session.state == SessionState::Ringing
                && session.current_item.as_deref() == Some(item);
            if ours
                && store
                    .move_session(&session.id, &[SessionState::Ringing], SessionState::Talking)
                    .await?
            {
                kept(outcome::HUMAN).await?;
                redirect(state, call_sid, twiml::to_agent(&session.conference)).await;
            } else {
                kept(outcome::ABANDONED).await?;
                tracing::warn!(session = %session.id, "a person answered with no agent there");
                redirect(state, call_sid, twiml::apology()).await;
            }
        }
        Route::Voicemail => {
            kept(outcome::VOICEMAIL).await?;
            store.release_session(&session.id, item).await?;
            redirect(state, call_sid, twiml::voicemail(&settings.voicemail)).await;
        }
        Route::HangUp => {
            let name = if answered_by == "fax" {
                outcome::FAX
            } else {
                outcome::UNKNOWN
            };
            kept(name).await?;
            store.release_session(&session.id, item).await?;
            redirect(state, call_sid, twiml::hang_up()).await;
        }
    }
    Ok(())
}

/// What a customer's leg that ended without a verdict became.
fn unanswered(status: &str) -> &'static str {
    match status {
        "busy" => outcome::BUSY,
        "no-answer" | "canceled" => outcome::NO_ANSWER,
        "failed" => outcome::FAILED,
        _ => outcome::HUNG_UP,
    }
}

/// The customer's leg ended (`status` is Twilio's final one).
pub async fn ended(
    state: &AppState,
    session_id: &str,
    item: &str,
    status: &str,
    talk_secs: Option<i64>,
) -> Result<(), AirtableError> {
    let Some(Context { session, .. }) = context(state, session_id).await? else {
        return Ok(());
    };
    let store = &state.store;
    store.set_item_outcome(item, unanswered(status)).await?;
    if let Some(secs) = talk_secs {
        store.set_item_talk_secs(item, secs).await?;
    }
    let outcomes = store.item_outcomes(&session.campaign_id).await?;
    let Some(known) = outcomes.into_iter().find(|o| o.item_id == item) else {
        return Ok(());
    };
    if known.written {
        return Ok(());
    }
    let talked = known.outcome.as_deref() == Some(outcome::HUMAN);
    if talked
        && session.current_item.as_deref() == Some(item)
        && store
            .move_session(&session.id, &[SessionState::Talking], SessionState::WrapUp)
            .await?
    {
        // Written when the agent wraps up, or when the wrap-up's time runs out.
        return Ok(());
    }
    if talked
        && session.state == SessionState::WrapUp
        && session.current_item.as_deref() == Some(item)
    {
        // A callback retried after the wrap-up began.
        return Ok(());
    }
    finish(state, &session, item, &known).await
}

/// Writes the record of a leg that needs no wrap-up, once, and frees its session.
async fn finish(
    state: &AppState,
    session: &DialerSession,
    item: &str,
    known: &ItemOutcome,
) -> Result<(), AirtableError> {
    let Some(airtable) = state.airtable.as_ref() else {
        return Ok(());
    };
    let items = state.store.campaign_items(&session.campaign_id).await?;
    let Some(record) = items.iter().find(|i| i.id == item) else {
        return Ok(());
    };
    let agent = state.store.agent_by_id(session.agent_id).await?;
    let write = outcome::write(
        &airtable.fields,
        &Written {
            record_id: &record.record_id,
            outcome: known.outcome.as_deref().unwrap_or(outcome::HUNG_UP),
            answered_by: known.answered_by.as_deref(),
            talk_secs: known.talk_secs,
            agent_email: agent.as_ref().map(|a| a.email.as_str()),
            dialled: true,
            ..Written::default()
        },
    );
    state
        .store
        .finish_item(FinishedItem {
            item_id: item,
            moves: None,
            talk_secs: known.talk_secs,
            write,
            session_id: Some(&session.id),
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::airtable::dialer::settings::{RawSettings, parse};

    fn settings(fax: &str, unknown: &str) -> DialerSettings {
        parse(&RawSettings {
            mode: Some(json!("session")),
            voicemail: Some(json!({"say": "hi"})),
            dispositions: Some(json!(["Sale"])),
            fax: Some(json!(fax)),
            unknown: Some(json!(unknown)),
            ..RawSettings::default()
        })
        .unwrap()
        .1
        .unwrap()
    }

    #[test]
    fn only_people_reach_the_agent_and_machines_get_the_message() {
        let s = settings("hang_up", "agent");
        assert_eq!(route(&s, "human"), Route::Agent);
        for machine in [
            "machine_start",
            "machine_end_beep",
            "machine_end_silence",
            "machine_end_other",
        ] {
            assert_eq!(route(&s, machine), Route::Voicemail, "{machine}");
        }
        assert_eq!(route(&s, "fax"), Route::HangUp);
        assert_eq!(route(&s, "unknown"), Route::Agent);
        let other = settings("voicemail", "hang_up");
        assert_eq!(route(&other, "fax"), Route::Voicemail);
        assert_eq!(route(&other, "unknown"), Route::HangUp);
    }

    #[test]
    fn a_leg_that_ended_unanswered_says_how() {
        assert_eq!(unanswered("busy"), outcome::BUSY);
        assert_eq!(unanswered("no-answer"), outcome::NO_ANSWER);
        assert_eq!(unanswered("failed"), outcome::FAILED);
        assert_eq!(unanswered("completed"), outcome::HUNG_UP);
    }
}
