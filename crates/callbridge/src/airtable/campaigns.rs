//! Campaigns: every record of a view, called one after another for one agent. The list lives in
//! the store; a runner on whichever instance holds the campaign's lease starts the next call
//! once the previous one is over, no faster than `CALLS_PER_SECOND` across all instances.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api::{caller, configured};
use super::lead::{INVALID_PHONE, failure_status, mark, phone_text, write_first_status};
use super::{Airtable, AirtableError};
use crate::calls::CallError;
use crate::calls::start::start_for_record;
use crate::domain::{CallId, CallState, PhoneNumber};
use crate::http::openapi::AIRTABLE_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, Success, SuccessBody, success};
use crate::state::AppState;
use crate::store::{
    Agent, Campaign, CampaignItem, CampaignStatus, ItemState, NewCampaignItem, RecordLink, Store,
    StoreError,
};

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCampaign {
    /// The Airtable view whose records are called, in the view's order.
    #[schema(required = true, value_type = String)]
    pub view: Option<String>,
    /// The agent's email; a campaign calls for the agent who asks for it.
    #[schema(required = true, value_type = String, format = Email)]
    pub agent: Option<String>,
    /// The call token, for clients that cannot send the Authorization header.
    pub token: Option<String>,
}

/// The body of the pause, resume and cancel endpoints; may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenOnly {
    /// The call token, for clients that cannot send the Authorization header.
    pub token: Option<String>,
}

/// `GET /airtable/campaigns/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub view: String,
    pub agent: String,
    pub status: CampaignStatus,
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

fn view_of(campaign: &Campaign, agent: &str, items: &[CampaignItem]) -> CampaignView {
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
        total: items.len(),
        counts,
        current,
        created_at: campaign.created_at,
    }
}

/// Queue a campaign: every record of a view, called one after another for the agent.
#[utoipa::path(
    post,
    path = "/airtable/campaigns",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    request_body = NewCampaign,
    responses(
        (status = 200, description = "The campaign is queued; it starts at once.", body = SuccessBody<CampaignView>),
        (status = 400, description = "`view` or `agent` is missing.", body = ErrorBody),
        (status = 403, description = "`agent` is not the caller's own email.", body = ErrorBody),
        (status = 404, description = "The Airtable integration is off.", body = ErrorBody),
        (status = 422, description = "Airtable refused the view.", body = ErrorBody),
        (status = 502, description = "Airtable failed.", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<NewCampaign>,
) -> Result<Success<CampaignView>, ApiError> {
    let airtable = configured(&state)?;
    let agent = caller(&state, &headers, body.token.as_deref()).await?;
    let view = body
        .view
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::BadRequest("view is required".into()))?;
    let asked = body
        .agent
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::BadRequest("agent (the agent's email) is required".into()))?;
    let queued = queue(&state, airtable, &agent, &view, &asked).await?;
    Ok(success(
        format!("Campaign queued with {} records", queued.total),
        queued,
    ))
}

/// Queues a campaign of every record of `view` for `agent`, who must be the agent `asked`
/// names: a campaign calls for the agent who starts it.
async fn queue(
    state: &AppState,
    airtable: &Airtable,
    agent: &Agent,
    view: &str,
    asked: &str,
) -> Result<CampaignView, AirtableError> {
    if !asked.eq_ignore_ascii_case(agent.email.as_str()) {
        return Err(AirtableError::NotYourCampaign);
    }
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
    let campaign = state.store.create_campaign(agent.id, view, &items).await?;
    tracing::info!(campaign = %campaign.id, records = items.len(), "campaign queued");
    let items = state.store.campaign_items(&campaign.id).await?;
    Ok(view_of(&campaign, agent.email.as_str(), &items))
}

/// The campaign, if it is the caller's.
async fn own_campaign(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
    id: &str,
) -> Result<(Campaign, String), ApiError> {
    configured(state)?;
    let agent = caller(state, headers, token).await?;
    let campaign = agents_campaign(state.store.as_ref(), &agent, id).await?;
    Ok((campaign, agent.email.as_str().to_owned()))
}

/// The campaign `id`, if it is `agent`'s; anyone else's is not found either.
async fn agents_campaign(
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

/// A campaign's progress: items per outcome and the record being called.
#[utoipa::path(
    get,
    path = "/airtable/campaigns/{id}",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The campaign.", body = SuccessBody<CampaignView>),
        (status = 404, description = "No such campaign of this agent's, or the Airtable integration is off.", body = ErrorBody),
    )
)]
pub async fn progress(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Success<CampaignView>, ApiError> {
    let (campaign, agent) = own_campaign(&state, &headers, None, &id).await?;
    let items = state.store.campaign_items(&campaign.id).await?;
    Ok(success("Campaign", view_of(&campaign, &agent, &items)))
}

/// A move a person may ask of a campaign: from any of `from`, to `to`.
struct StatusChange {
    from: &'static [CampaignStatus],
    to: CampaignStatus,
}

const PAUSE: StatusChange = StatusChange {
    from: &[CampaignStatus::Running],
    to: CampaignStatus::Paused,
};
const RESUME: StatusChange = StatusChange {
    from: &[CampaignStatus::Paused],
    to: CampaignStatus::Running,
};
const CANCEL: StatusChange = StatusChange {
    from: &[CampaignStatus::Running, CampaignStatus::Paused],
    to: CampaignStatus::Canceled,
};

async fn change(
    state: AppState,
    headers: HeaderMap,
    id: String,
    token: Option<String>,
    change: StatusChange,
) -> Result<Success<CampaignView>, ApiError> {
    let to = change.to;
    let (campaign, agent) = own_campaign(&state, &headers, token.as_deref(), &id).await?;
    let campaign = move_campaign(state.store.as_ref(), campaign, change).await?;
    let items = state.store.campaign_items(&campaign.id).await?;
    Ok(success(
        format!("Campaign {}", to.as_str()),
        view_of(&campaign, &agent, &items),
    ))
}

/// The campaign after `change`, which only a campaign in one of its `from` states allows.
async fn move_campaign(
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

/// Pause a running campaign: the call in progress goes on, no next one starts.
#[utoipa::path(
    post,
    path = "/airtable/campaigns/{id}/pause",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    request_body(content = Option<TokenOnly>, description = "May be empty."),
    responses(
        (status = 200, description = "The campaign as it is now.", body = SuccessBody<CampaignView>),
        (status = 404, description = "No such campaign of this agent's, or the Airtable integration is off.", body = ErrorBody),
        (status = 409, description = "The campaign is not running.", body = ErrorBody),
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<TokenOnly>,
) -> Result<Success<CampaignView>, ApiError> {
    change(state, headers, id, body.token, PAUSE).await
}

/// Resume a paused campaign.
#[utoipa::path(
    post,
    path = "/airtable/campaigns/{id}/resume",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    request_body(content = Option<TokenOnly>, description = "May be empty."),
    responses(
        (status = 200, description = "The campaign as it is now.", body = SuccessBody<CampaignView>),
        (status = 404, description = "No such campaign of this agent's, or the Airtable integration is off.", body = ErrorBody),
        (status = 409, description = "The campaign is not paused.", body = ErrorBody),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<TokenOnly>,
) -> Result<Success<CampaignView>, ApiError> {
    change(state, headers, id, body.token, RESUME).await
}

/// Cancel a campaign: the records not called yet are left alone.
#[utoipa::path(
    post,
    path = "/airtable/campaigns/{id}/cancel",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    request_body(content = Option<TokenOnly>, description = "May be empty."),
    responses(
        (status = 200, description = "The campaign as it is now.", body = SuccessBody<CampaignView>),
        (status = 404, description = "No such campaign of this agent's, or the Airtable integration is off.", body = ErrorBody),
        (status = 409, description = "The campaign already ended.", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<TokenOnly>,
) -> Result<Success<CampaignView>, ApiError> {
    change(state, headers, id, body.token, CANCEL).await
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
