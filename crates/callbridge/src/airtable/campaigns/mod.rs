//! Campaigns: every record of a view, called one after another for one agent. The list lives in
//! the store; a runner on whichever instance holds the campaign's lease starts the next call
//! once the previous one is over, no faster than `CALLS_PER_SECOND` across all instances.

pub(super) mod events;
pub(super) mod http;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::dialer::progress::DialerProgress;
use super::dialer::{self, CampaignMode, DialerSettings, RawSettings};
use super::lead::{INVALID_PHONE, failure_status, mark, phone_text, write_first_status};
use super::{Airtable, AirtableError};
use crate::calls::CallError;
use crate::calls::start::start_for_record;
use crate::domain::{CallId, CallState, PhoneNumber};
use crate::state::AppState;
use crate::store::{
    Agent, Campaign, CampaignItem, CampaignStatus, ItemState, NewCampaignItem, RecordLink, Store,
    StoreError,
};

/// `GET /airtable/campaigns/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub view: String,
    pub agent: String,
    pub status: CampaignStatus,
    pub mode: CampaignMode,
    /// How a session campaign works its records; absent for a per-record one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<DialerSettings>,
    /// A session campaign's outcomes, pace and agents; absent for a per-record one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialer: Option<DialerProgress>,
    pub total: usize,
    /// Items per outcome: pending, starting, in_progress, completed, failed, canceled.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub counts: BTreeMap<&'static str, usize>,
    pub current: Option<CurrentItem>,
    pub created_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentItem {
    pub position: i64,
    pub record_id: String,
    pub call_id: Option<CallId>,
    pub call_state: Option<CallState>,
}

/// Where an item stands, for people: a called item's outcome is its call's.
fn outcome(item: &CampaignItem) -> &'static str {
    match (item.state, item.call_state) {
        (ItemState::Pending, _) => "pending",
        (ItemState::Starting, _) => "starting",
        (ItemState::Called, Some(CallState::Completed)) => "completed",
        (ItemState::Called, Some(CallState::Failed)) | (ItemState::Failed, _) => "failed",
        (ItemState::Called, _) => "in_progress",
        (ItemState::Canceled, _) => "canceled",
    }
}

pub(super) fn view_of(
    campaign: &Campaign,
    agent: &str,
    items: &[CampaignItem],
    settings: Option<DialerSettings>,
) -> CampaignView {
    let mut counts: BTreeMap<&'static str, usize> = [
        "pending",
        "starting",
        "in_progress",
        "completed",
        "failed",
        "canceled",
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect();
    for item in items {
        *counts.entry(outcome(item)).or_default() += 1;
    }
    let current = items
        .iter()
        .find(|i| matches!(outcome(i), "starting" | "in_progress"))
        .map(|i| CurrentItem {
            position: i.position,
            record_id: i.record_id.clone(),
            call_id: i.call_id,
            call_state: i.call_state,
        });
    CampaignView {
        id: campaign.id.clone(),
        view: campaign.view.clone(),
        agent: agent.to_owned(),
        status: campaign.status,
        mode: if settings.is_some() {
            CampaignMode::Session
        } else {
            CampaignMode::PerRecord
        },
        settings,
        dialer: None,
        total: items.len(),
        counts,
        current,
        created_at: campaign.created_at,
    }
}

/// The campaign's view, with a session campaign's progress.
pub(super) async fn full_view(
    state: &AppState,
    campaign: &Campaign,
    agent: &str,
) -> Result<CampaignView, StoreError> {
    let items = state.store.campaign_items(&campaign.id).await?;
    let settings = settings_of(state.store.as_ref(), &campaign.id).await?;
    let session = settings.is_some();
    let mut view = view_of(campaign, agent, &items, settings);
    if session {
        view.dialer = Some(dialer::progress::of(state, &campaign.id, &items).await?);
        // The per-record counts say nothing of a session campaign's items.
        view.current = None;
    }
    Ok(view)
}

/// The settings a session campaign was created with; `None` for a per-record campaign.
pub(super) async fn settings_of(
    store: &dyn Store,
    campaign: &str,
) -> Result<Option<DialerSettings>, StoreError> {
    store
        .campaign_dialer(campaign)
        .await?
        .map(|stored| {
            serde_json::from_value(stored).map_err(|e| StoreError::Corrupt {
                table: "airtable_campaigns",
                detail: format!("dialer: {e}"),
            })
        })
        .transpose()
}

/// Queues a campaign of every record of `view` for `agent`, who must be the agent `asked`
/// names: a campaign calls for the agent who starts it. The settings are checked before
/// Airtable is asked for anything.
pub(super) async fn queue(
    state: &AppState,
    airtable: &Airtable,
    agent: &Agent,
    view: &str,
    asked: &str,
    raw: &RawSettings,
) -> Result<CampaignView, AirtableError> {
    if !asked.eq_ignore_ascii_case(agent.email.as_str()) {
        return Err(AirtableError::NotYourCampaign);
    }
    let (_, settings) = dialer::settings::parse(raw)?;
    let phone_field = airtable.fields.phone.clone();
    let records = airtable
        .list_view(view, std::slice::from_ref(&phone_field))
        .await
        .map_err(|e| match e {
            AirtableError::Airtable(a) if a.is_permanent() && a.status() == Some(422) => {
                AirtableError::ViewRefused {
                    view: view.to_owned(),
                    source: a,
                }
            }
            other => other,
        })?;
    let items: Vec<NewCampaignItem> = records
        .iter()
        .map(|r| NewCampaignItem {
            record_id: r.id.clone(),
            phone: phone_text(&r.fields, &phone_field),
        })
        .collect();
    let campaign = match &settings {
        None => state.store.create_campaign(agent.id, view, &items).await?,
        Some(settings) => {
            let stored = serde_json::to_value(settings).map_err(|e| StoreError::Corrupt {
                table: "airtable_campaigns",
                detail: format!("dialer: {e}"),
            })?;
            state
                .store
                .create_dialer_campaign(agent.id, view, &items, &stored)
                .await?
        }
    };
    tracing::info!(
        campaign = %campaign.id,
        records = items.len(),
        sessions = settings.is_some(),
        "campaign queued"
    );
    let items = state.store.campaign_items(&campaign.id).await?;
    Ok(view_of(&campaign, agent.email.as_str(), &items, settings))
}

/// The campaign `id`, if it is `agent`'s; anyone else's is not found either.
pub(super) async fn agents_campaign(
    store: &dyn Store,
    agent: &Agent,
    id: &str,
) -> Result<Campaign, AirtableError> {
    store
        .campaign_by_id(id)
        .await?
        .filter(|c| c.agent_id == agent.id)
        .ok_or_else(|| AirtableError::NoCampaign(id.to_owned()))
}

/// A campaign the agent may follow, with its creator's email: their own, or a campaign worked in
/// sessions, which any agent may join. Others' per-record campaigns are not found.
pub(super) async fn visible_campaign(
    store: &dyn Store,
    agent: &Agent,
    id: &str,
) -> Result<(Campaign, String), AirtableError> {
    let not_found = || AirtableError::NoCampaign(id.to_owned());
    let campaign = store.campaign_by_id(id).await?.ok_or_else(not_found)?;
    if campaign.agent_id == agent.id {
        return Ok((campaign, agent.email.as_str().to_owned()));
    }
    if settings_of(store, &campaign.id).await?.is_none() {
        return Err(not_found());
    }
    let creator = store
        .agent_by_id(campaign.agent_id)
        .await?
        .map(|a| a.email.as_str().to_owned())
        .unwrap_or_default();
    Ok((campaign, creator))
}

/// A move a person may ask of a campaign: from any of `from`, to `to`.
pub(super) struct StatusChange {
    pub(super) from: &'static [CampaignStatus],
    pub(super) to: CampaignStatus,
}

pub(super) const PAUSE: StatusChange = StatusChange {
    from: &[CampaignStatus::Running],
    to: CampaignStatus::Paused,
};
pub(super) const RESUME: StatusChange = StatusChange {
    from: &[CampaignStatus::Paused],
    to: CampaignStatus::Running,
};
pub(super) const CANCEL: StatusChange = StatusChange {
    from: &[CampaignStatus::Running, CampaignStatus::Paused],
    to: CampaignStatus::Canceled,
};

/// The campaign after `change`, which only a campaign in one of its `from` states allows.
pub(super) async fn move_campaign(
    store: &dyn Store,
    campaign: Campaign,
    StatusChange { from, to }: StatusChange,
) -> Result<Campaign, AirtableError> {
    if !store.set_campaign_status(&campaign.id, from, to).await? {
        let now = store
            .campaign_by_id(&campaign.id)
            .await?
            .map_or(campaign.status, |c| c.status);
        return Err(AirtableError::CampaignCannotMove { now, to });
    }
    Ok(store
        .campaign_by_id(&campaign.id)
        .await?
        .unwrap_or(campaign))
}

/// Gives an item claimed for starting back to the queue: nobody was called for it.
async fn back_to_pending(store: &dyn Store, item: &CampaignItem) -> Result<(), StoreError> {
    store
        .move_item(
            &item.id,
            ItemState::Starting,
            ItemState::Pending,
            None,
            None,
        )
        .await?;
    Ok(())
}

/// Steps the running campaigns this instance holds the lease of.
#[derive(Debug, Clone)]
pub(super) struct Runner {
    state: AppState,
    worker: String,
}

impl Runner {
    pub(super) fn new(state: AppState) -> Self {
        Self {
            state,
            worker: crate::outbox::worker_name("campaign-runner"),
        }
    }

    /// One step of every campaign held; true when a call was started.
    pub(super) async fn step(&self) -> Result<bool, StoreError> {
        let Some(airtable) = self.state.airtable.as_ref() else {
            return Ok(false);
        };
        let campaigns = self
            .state
            .store
            .claim_campaigns(&self.worker, Utc::now(), airtable.tuning.lease)
            .await?;
        let mut started = false;
        for campaign in campaigns {
            started |= self.step_campaign(&campaign).await?;
        }
        Ok(started)
    }

    async fn step_campaign(&self, campaign: &Campaign) -> Result<bool, StoreError> {
        let store = &self.state.store;
        let items = store.campaign_items(&campaign.id).await?;
        for stuck in items.iter().filter(|i| i.state == ItemState::Starting) {
            // Left by a crash mid-start: the lead may have been called, so never again.
            store
                .move_item(
                    &stuck.id,
                    ItemState::Starting,
                    ItemState::Failed,
                    None,
                    Some("interrupted while starting the call; not retried"),
                )
                .await?;
        }
        let busy = items
            .iter()
            .any(|i| i.state == ItemState::Called && !i.call_state.is_some_and(|s| s.is_final()));
        if busy {
            return Ok(false);
        }
        let Some(next) = items.iter().find(|i| i.state == ItemState::Pending) else {
            store
                .set_campaign_status(
                    &campaign.id,
                    &[CampaignStatus::Running],
                    CampaignStatus::Completed,
                )
                .await?;
            tracing::info!(campaign = %campaign.id, "campaign completed");
            return Ok(false);
        };
        if !store
            .move_item(
                &next.id,
                ItemState::Pending,
                ItemState::Starting,
                None,
                None,
            )
            .await?
        {
            return Ok(false);
        }
        self.wait_for_call_slot().await?;
        let status = store.campaign_by_id(&campaign.id).await?.map(|c| c.status);
        match status {
            Some(CampaignStatus::Running) => self.start_item(campaign, next).await,
            // Canceling took the pending items only: this one was claimed meanwhile.
            Some(CampaignStatus::Canceled) | None => {
                store
                    .move_item(
                        &next.id,
                        ItemState::Starting,
                        ItemState::Canceled,
                        None,
                        None,
                    )
                    .await?;
                Ok(false)
            }
            Some(CampaignStatus::Paused | CampaignStatus::Completed) => {
                back_to_pending(store.as_ref(), next).await?;
                Ok(false)
            }
        }
    }

    async fn start_item(
        &self,
        campaign: &Campaign,
        item: &CampaignItem,
    ) -> Result<bool, StoreError> {
        let store = &self.state.store;
        let Some(airtable) = self.state.airtable.as_ref() else {
            return Ok(false);
        };
        let fail = |error: String| async move {
            store
                .move_item(
                    &item.id,
                    ItemState::Starting,
                    ItemState::Failed,
                    None,
                    Some(&error),
                )
                .await
        };
        let Some(phone) = item
            .phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok())
        else {
            fail("invalid phone number".into()).await?;
            mark(airtable, &item.record_id, INVALID_PHONE).await?;
            return Ok(false);
        };
        let Some(agent) = store
            .agent_by_id(campaign.agent_id)
            .await?
            .filter(|a| a.revoked_at.is_none())
        else {
            back_to_pending(store.as_ref(), item).await?;
            store
                .set_campaign_status(
                    &campaign.id,
                    &[CampaignStatus::Running, CampaignStatus::Paused],
                    CampaignStatus::Canceled,
                )
                .await?;
            tracing::warn!(campaign = %campaign.id, "campaign canceled: its agent was revoked");
            return Ok(false);
        };
        let label = Some(format!("campaign {} #{}", campaign.view, item.position));
        let link = RecordLink {
            record_id: &item.record_id,
            campaign_id: Some(&campaign.id),
        };
        match start_for_record(&self.state, &agent, &phone, label, link).await {
            Ok(view) => {
                write_first_status(airtable, &view).await?;
                store
                    .move_item(
                        &item.id,
                        ItemState::Starting,
                        ItemState::Called,
                        Some(view.id),
                        None,
                    )
                    .await?;
                Ok(true)
            }
            Err(CallError::RateLimited { retry_after_secs }) => {
                // The agent's own start limit: the item waits for its turn again.
                back_to_pending(store.as_ref(), item).await?;
                tokio::time::sleep(Duration::from_secs(retry_after_secs.min(60))).await;
                Ok(false)
            }
            Err(error) => {
                fail(error.to_string()).await?;
                if let Some(status) = failure_status(&error) {
                    mark(airtable, &item.record_id, &status).await?;
                }
                Ok(false)
            }
        }
    }

    /// `CALLS_PER_SECOND` across every instance: one shared slot per call.
    async fn wait_for_call_slot(&self) -> Result<(), StoreError> {
        let settings = &self.state.settings;
        let spacing = Duration::from_secs_f64(1.0 / settings.calls_per_second);
        let key = format!("calls:{}", settings.twilio.account_sid);
        let slot = self
            .state
            .store
            .take_pacing_slot(&key, Utc::now(), spacing)
            .await?;
        if let Ok(wait) = (slot - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(state: ItemState, call_state: Option<CallState>) -> CampaignItem {
        CampaignItem {
            id: "i".into(),
            campaign_id: "c".into(),
            position: 1,
            record_id: "recA".into(),
            phone: None,
            state,
            call_id: None,
            call_state,
            error: None,
        }
    }

    #[test]
    fn a_called_items_outcome_is_its_calls() {
        assert_eq!(outcome(&item(ItemState::Pending, None)), "pending");
        assert_eq!(
            outcome(&item(ItemState::Called, Some(CallState::Connected))),
            "in_progress"
        );
        assert_eq!(
            outcome(&item(ItemState::Called, Some(CallState::Completed))),
            "completed"
        );
        assert_eq!(
            outcome(&item(ItemState::Called, Some(CallState::Failed))),
            "failed"
        );
        assert_eq!(outcome(&item(ItemState::Failed, None)), "failed");
        assert_eq!(outcome(&item(ItemState::Canceled, None)), "canceled");
    }
}
