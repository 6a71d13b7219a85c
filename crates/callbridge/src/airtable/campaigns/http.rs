//! The campaign routes: queue one, follow it, pause, resume or cancel it.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    CANCEL, CampaignView, PAUSE, RESUME, StatusChange, agents_campaign, full_view, move_campaign,
    queue, visible_campaign,
};
use crate::airtable::api::{caller, configured};
use crate::airtable::dialer::RawSettings;
use crate::airtable::dialer::settings::{CallingHours, CampaignMode, Detected, Voicemail};
use crate::http::openapi::AIRTABLE_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, Success, SuccessBody, success};
use crate::state::AppState;
use crate::store::{Campaign, CampaignStatus};

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
    /// `per_record` (the default): the agent's phone rings for every record; `session`:
    /// agents join the campaign's session and customers are dialled into it.
    #[schema(value_type = Option<CampaignMode>)]
    pub mode: Option<Value>,
    /// Session campaigns, required: what an answering machine hears after its beep,
    /// `{"say": "text"}` or `{"play": "https://…"}`.
    #[schema(value_type = Option<Voicemail>)]
    pub voicemail: Option<Value>,
    /// Session campaigns, required: the outcomes an agent picks from at wrap-up (1 to 20
    /// distinct, 1 to 40 characters each).
    #[schema(value_type = Option<Vec<String>>)]
    pub dispositions: Option<Value>,
    /// Session campaigns: seconds an agent has to pick an outcome (5 to 600, default 60).
    #[schema(value_type = Option<u32>)]
    pub wrap_up_secs: Option<Value>,
    /// Session campaigns: a fax is `hang_up` (default), `voicemail` or `agent`.
    #[schema(value_type = Option<Detected>)]
    pub fax: Option<Value>,
    /// Session campaigns: a leg detection cannot tell is `agent` (default), `voicemail` or
    /// `hang_up`.
    #[schema(value_type = Option<Detected>)]
    pub unknown: Option<Value>,
    /// Session campaigns: the recipient's local hours when records are dialled (default
    /// 08:00 to 21:00).
    #[schema(value_type = Option<CallingHours>)]
    pub calling_hours: Option<Value>,
}

impl NewCampaign {
    fn settings(&self) -> RawSettings {
        RawSettings {
            mode: self.mode.clone(),
            voicemail: self.voicemail.clone(),
            dispositions: self.dispositions.clone(),
            wrap_up_secs: self.wrap_up_secs.clone(),
            fax: self.fax.clone(),
            unknown: self.unknown.clone(),
            calling_hours: self.calling_hours.clone(),
        }
    }
}

/// The body of the pause, resume and cancel endpoints; may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenOnly {
    /// The call token, for clients that cannot send the Authorization header.
    pub token: Option<String>,
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
        (status = 400, description = "`view` or `agent` is missing, or a session setting is wrong.", body = ErrorBody),
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
    let settings = body.settings();
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
    let queued = queue(&state, airtable, &agent, &view, &asked, &settings).await?;
    Ok(success(
        format!("Campaign queued with {} records", queued.total),
        queued,
    ))
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
    configured(&state)?;
    let caller = caller(&state, &headers, None).await?;
    let (campaign, agent) = visible_campaign(state.store.as_ref(), &caller, &id).await?;
    Ok(success(
        "Campaign",
        full_view(&state, &campaign, &agent).await?,
    ))
}

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
    if to == CampaignStatus::Canceled {
        // Nothing more is dialled for a canceled campaign: its agents are let go.
        crate::airtable::dialer::session::close_all(&state, &campaign.id).await?;
    }
    Ok(success(
        format!("Campaign {}", to.as_str()),
        full_view(&state, &campaign, &agent).await?,
    ))
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
