//! Steps every running session campaign: ends wrap-ups whose time ran out, gives each free
//! agent the next record (within the abandonment guard and `CALLS_PER_SECOND` across every
//! instance), and ends the campaign once every record has its outcome. Items are claimed in the
//! store, so several instances may step one campaign at once without dialling anyone twice.

use std::time::Duration;

use chrono::Utc;
use twilio::{CallInstructions, CreateCall, HttpMethod, MachineDetection};

use super::guard::{self, Tally};
use super::outcome::{self, Written};
use super::session::{close_all, end_wrap_up};
use super::settings::DialerSettings;
use super::twiml::{self, CUSTOMER_STATUS_PATH, DETECTION_PATH, session_url};
use crate::airtable::AirtableError;
use crate::airtable::campaigns::settings_of;
use crate::calls::agent_leg::TwilioFailure;
use crate::destinations::{CallingHours, Use, Window};
use crate::domain::PhoneNumber;
use crate::state::AppState;
use crate::store::{
    Campaign, CampaignItem, CampaignStatus, DialerSession, FinishedItem, ItemOutcome, ItemState,
    SessionState,
};

/// A record whose do-not-call field could not be read is tried again this much later.
const UNREADABLE_RETRY: Duration = Duration::from_secs(30);
/// Twilio busy or down: the record waits this long before its next try.
const TWILIO_RETRY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Runner {
    state: AppState,
}

/// Counts of a campaign's outcomes that the guard reads.
pub fn tally(outcomes: &[ItemOutcome], sessions: &[DialerSession]) -> Tally {
    let count = |name: &str| {
        outcomes
            .iter()
            .filter(|o| o.outcome.as_deref() == Some(name))
            .count() as u64
    };
    let abandoned = count(outcome::ABANDONED);
    let in_state = |state: SessionState| sessions.iter().filter(|s| s.state == state).count();
    let ringing = in_state(SessionState::Ringing);
    Tally {
        answered: count(outcome::HUMAN) + abandoned,
        abandoned,
        free_agents: in_state(SessionState::Ready) + ringing,
        ringing,
    }
}

/// Whether every record has its outcome: none waits, none is being dialled, every dialled one
/// was written.
fn all_done(items: &[CampaignItem], outcomes: &[ItemOutcome]) -> bool {
    items.iter().all(|item| match item.state {
        ItemState::Pending | ItemState::Starting => false,
        ItemState::Called => outcomes
            .iter()
            .find(|o| o.item_id == item.id)
            .is_some_and(|o| o.written),
        ItemState::Failed | ItemState::Canceled => true,
    })
}

impl Runner {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// One step of every running session campaign; true when a customer was dialled.
    pub async fn step(&self) -> Result<bool, AirtableError> {
        let mut dialled = false;
        for campaign in self.state.store.running_dialer_campaigns().await? {
            dialled |= self.step_campaign(&campaign).await?;
        }
        Ok(dialled)
    }

    async fn step_campaign(&self, campaign: &Campaign) -> Result<bool, AirtableError> {
        let store = &self.state.store;
        let Some(settings) = settings_of(store.as_ref(), &campaign.id).await? else {
            return Ok(false);
        };
        let sessions = store.campaign_sessions(&campaign.id).await?;
        let limit = chrono::Duration::seconds(settings.wrap_up_secs.into());
        for late in sessions
            .iter()
            .filter(|s| s.state == SessionState::WrapUp && Utc::now() - s.updated_at >= limit)
        {
            if end_wrap_up(&self.state, late, None).await? {
                tracing::info!(session = %late.id, "wrap-up time ran out; written without an outcome");
            }
        }
        let items = store.campaign_items(&campaign.id).await?;
        let outcomes = store.item_outcomes(&campaign.id).await?;
        if all_done(&items, &outcomes) {
            if store
                .set_campaign_status(
                    &campaign.id,
                    &[CampaignStatus::Running],
                    CampaignStatus::Completed,
                )
                .await?
            {
                tracing::info!(campaign = %campaign.id, "session campaign completed");
            }
            close_all(&self.state, &campaign.id).await?;
            return Ok(false);
        }
        let allowance = guard::allowance(tally(&outcomes, &sessions));
        let mut dialled = false;
        let ready = sessions.iter().filter(|s| s.state == SessionState::Ready);
        for session in ready.take(allowance.dials) {
            if let Some(spacing) = allowance.spacing {
                self.wait_for_slot(&format!("dialer:{}", campaign.id), spacing)
                    .await?;
            }
            let Some(item) = store
                .claim_item_for_session(&session.id, Utc::now())
                .await?
            else {
                break;
            };
            dialled |= self.dial(&settings, session, &item).await?;
        }
        Ok(dialled)
    }

    /// Writes a record that is not dialled (or whose dial failed), and frees its session.
    async fn give_up(
        &self,
        session: &DialerSession,
        item: &CampaignItem,
        name: &str,
        dialled: bool,
    ) -> Result<(), AirtableError> {
        let Some(airtable) = self.state.airtable.as_ref() else {
            return Ok(());
        };
        self.state.store.set_item_outcome(&item.id, name).await?;
        let write = outcome::write(
            &airtable.fields,
            &Written {
                record_id: &item.record_id,
                outcome: name,
                dialled,
                ..Written::default()
            },
        );
        self.state
            .store
            .finish_item(FinishedItem {
                item_id: &item.id,
                moves: Some((ItemState::Starting, ItemState::Failed)),
                talk_secs: None,
                write,
                session_id: Some(&session.id),
            })
            .await?;
        Ok(())
    }

    async fn later(
        &self,
        session: &DialerSession,
        item: &CampaignItem,
        wait: Duration,
    ) -> Result<(), AirtableError> {
        let until = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        self.state
            .store
            .defer_item(&item.id, &session.id, until)
            .await?;
        Ok(())
    }

    /// Dials the record claimed for the session, after the checks every dial passes: a valid
    /// number the destination policy allows, inside its calling hours, not marked do-not-call
    /// (read again now, since it may have been ticked since the campaign was queued).
    async fn dial(
        &self,
        settings: &DialerSettings,
        session: &DialerSession,
        item: &CampaignItem,
    ) -> Result<bool, AirtableError> {
        let state = &self.state;
        let Some(airtable) = state.airtable.as_ref() else {
            return Ok(false);
        };
        let Some(phone) = item
            .phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok())
        else {
            self.give_up(session, item, outcome::INVALID, false).await?;
            return Ok(false);
        };
        if state
            .settings
            .destinations
            .check(&phone, Use::Call)
            .is_err()
        {
            self.give_up(session, item, outcome::REFUSED, false).await?;
            return Ok(false);
        }
        match hours(settings).window(&phone, Utc::now()) {
            Window::Open { .. } => {}
            Window::Closed { opens } => {
                state.store.defer_item(&item.id, &session.id, opens).await?;
                return Ok(false);
            }
            Window::Never => {
                self.give_up(session, item, outcome::OUT_OF_HOURS, false)
                    .await?;
                return Ok(false);
            }
        }
        match airtable.get_record(&item.record_id).await {
            Ok(record) => {
                if outcome::do_not_call(record.fields.get(&airtable.fields.do_not_call)) {
                    self.give_up(session, item, outcome::DNC, false).await?;
                    return Ok(false);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not read a record before dialling it; later");
                self.later(session, item, UNREADABLE_RETRY).await?;
                return Ok(false);
            }
        }
        self.wait_for_call_slot().await?;
        let now = state.store.session_by_id(&session.id).await?;
        if !now.is_some_and(|s| {
            s.state == SessionState::Ringing && s.current_item.as_deref() == Some(&item.id)
        }) {
            // The agent left or dropped while the checks ran: nobody would take this call.
            self.later(session, item, Duration::ZERO).await?;
            return Ok(false);
        }
        let create = customer_call(state, session, item, &phone)?;
        match state.twilio.create_call(&create).await {
            Ok(created) => {
                state
                    .store
                    .move_item(&item.id, ItemState::Starting, ItemState::Called, None, None)
                    .await?;
                state
                    .store
                    .set_item_call_sid(&item.id, &created.sid)
                    .await?;
                tracing::info!(session = %session.id, position = item.position, "customer dialled");
                Ok(true)
            }
            Err(err) => match TwilioFailure::of(&err) {
                TwilioFailure::RateLimited | TwilioFailure::Unavailable => {
                    self.later(session, item, TWILIO_RETRY).await?;
                    Ok(false)
                }
                // Someone may be ringing: the record is never dialled again.
                TwilioFailure::Uncertain | TwilioFailure::Refused => {
                    tracing::warn!(%err, "Twilio did not dial a customer");
                    self.give_up(session, item, outcome::FAILED, true).await?;
                    Ok(false)
                }
            },
        }
    }

    /// `CALLS_PER_SECOND` across every instance: one shared slot per call.
    async fn wait_for_call_slot(&self) -> Result<(), AirtableError> {
        let settings = &self.state.settings;
        let spacing = Duration::from_secs_f64(1.0 / settings.calls_per_second);
        self.wait_for_slot(&format!("calls:{}", settings.twilio.account_sid), spacing)
            .await
    }

    async fn wait_for_slot(&self, key: &str, spacing: Duration) -> Result<(), AirtableError> {
        let slot = self
            .state
            .store
            .take_pacing_slot(key, Utc::now(), spacing)
            .await?;
        if let Ok(wait) = (slot - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

/// The campaign's calling hours as the destination policy reads them.
fn hours(settings: &DialerSettings) -> CallingHours {
    let hours = settings.calling_hours;
    format!(
        "{}-{}",
        hours.start.format("%H:%M"),
        hours.end.format("%H:%M")
    )
    .parse()
    .unwrap_or_default()
}

/// `Calls.create` for a customer: silence while asynchronous detection listens to the end of
/// a machine's greeting, with its verdict and the leg's progress reported to the session.
fn customer_call(
    state: &AppState,
    session: &DialerSession,
    item: &CampaignItem,
    phone: &PhoneNumber,
) -> Result<CreateCall, AirtableError> {
    let wait = twiml::awaiting_detection()
        .map_err(|e| crate::calls::CallError::Internal(format!("could not write TwiML: {e}")))?;
    let settings = &state.settings;
    let mut create = CreateCall::new(
        phone.as_str(),
        settings.caller_id.as_str(),
        CallInstructions::Twiml(wait),
    );
    create.machine_detection = Some(MachineDetection::DetectMessageEnd);
    create.async_amd = Some(true);
    create.async_amd_status_callback = Some(session_url(
        settings,
        DETECTION_PATH,
        &session.id,
        Some(&item.id),
    ));
    create.async_amd_status_callback_method = Some(HttpMethod::Post);
    create.status_callback = Some(session_url(
        settings,
        CUSTOMER_STATUS_PATH,
        &session.id,
        Some(&item.id),
    ));
    create.status_callback_method = Some(HttpMethod::Post);
    create.status_callback_event = twilio::CallEvent::ALL.to_vec();
    Ok(create)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome_of(name: Option<&str>, written: bool) -> ItemOutcome {
        ItemOutcome {
            item_id: "i".into(),
            session_id: None,
            outcome: name.map(str::to_owned),
            answered_by: None,
            talk_secs: None,
            call_sid: None,
            disposition: None,
            notes: None,
            written,
            not_before: None,
        }
    }

    #[test]
    fn the_guard_counts_people_and_those_abandoned() {
        let outcomes = [
            outcome_of(Some(outcome::HUMAN), true),
            outcome_of(Some(outcome::ABANDONED), true),
            outcome_of(Some(outcome::VOICEMAIL), true),
            outcome_of(None, false),
        ];
        let tally = tally(&outcomes, &[]);
        assert_eq!(tally.answered, 2);
        assert_eq!(tally.abandoned, 1);
        assert_eq!(tally.free_agents, 0);
    }

    #[test]
    fn default_hours_read_as_the_policy_reads_them() {
        let settings = crate::airtable::dialer::settings::CallingHours::default();
        let text = format!(
            "{}-{}",
            settings.start.format("%H:%M"),
            settings.end.format("%H:%M")
        );
        assert_eq!(
            text.parse::<CallingHours>().unwrap(),
            CallingHours::default()
        );
    }
}
