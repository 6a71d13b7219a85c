//! The agent's session routes of a session campaign: join, pause, resume, wrap up, leave.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session::{self, Disposition};
use super::{DialerError, settings::DialerSettings};
use crate::airtable::AirtableError;
use crate::airtable::api::{caller, configured};
use crate::airtable::campaigns::{agents_campaign, settings_of};
use crate::http::openapi::AIRTABLE_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, Success, SuccessBody, success};
use crate::state::AppState;
use crate::store::{Agent, Campaign, DialerSession, SessionState};

/// An agent's session, as the agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub campaign: String,
    /// `joining`, `ready`, `ringing`, `talking`, `wrap_up`, `paused` or `left`.
    #[schema(value_type = String)]
    pub state: SessionState,
    /// `phone` or `browser`.
    #[schema(value_type = String)]
    pub mode: crate::domain::CallMode,
    /// The record being dialled, talked to or wrapped up.
    pub current: Option<SessionRecord>,
    /// The outcomes to pick from at wrap-up.
    pub dispositions: Vec<String>,
    pub wrap_up_secs: u32,
    /// For a browser session: what the page passes to the Voice SDK's `device.connect()` to
    /// put the agent in the session (`{"params": {"Session": id}}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub connect: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub record_id: String,
    pub position: i64,
}

/// What a session answers with.
pub async fn view(
    state: &AppState,
    settings: &DialerSettings,
    session: &DialerSession,
) -> Result<SessionView, AirtableError> {
    let now = state
        .store
        .session_by_id(&session.id)
        .await?
        .unwrap_or_else(|| session.clone());
    let current = match now.current_item.as_deref() {
        Some(item) => state
            .store
            .campaign_items(&now.campaign_id)
            .await?
            .into_iter()
            .find(|i| i.id == item)
            .map(|i| SessionRecord {
                record_id: i.record_id,
                position: i.position,
            }),
        None => None,
    };
    Ok(SessionView {
        campaign: now.campaign_id,
        state: now.state,
        mode: now.mode,
        current,
        dispositions: settings.dispositions.clone(),
        wrap_up_secs: settings.wrap_up_secs,
        connect: (now.mode == crate::domain::CallMode::Browser && now.state != SessionState::Left)
            .then(|| serde_json::json!({"params": {"Session": now.id}})),
        id: now.id,
    })
}

/// The body of `join`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct JoinBody {
    /// `phone` (the default): the agent's verified phone is dialled into the session.
    /// `browser`: nothing is dialled; the answer's `connect` is what the page passes to the
    /// Voice SDK's `device.connect()`, and that call joins the session.
    pub mode: Option<String>,
    /// The call token, for clients that cannot send the Authorization header.
    pub token: Option<String>,
}

/// The body of `wrap-up`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct WrapUpBody {
    /// One of the campaign's dispositions.
    #[schema(required = true, value_type = String)]
    pub outcome: Option<String>,
    /// Up to 5000 characters.
    pub notes: Option<String>,
    pub token: Option<String>,
}

/// The body of the pause, resume and leave endpoints; may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionTokenOnly {
    pub token: Option<String>,
}

/// The caller, the campaign, and its session settings. Any agent may work a session campaign
/// (a team works one list); a per-record campaign is its creator's alone, and is not found
/// for anyone else.
async fn session_campaign(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
    id: &str,
) -> Result<(Agent, Campaign, DialerSettings), ApiError> {
    configured(state)?;
    let agent = caller(state, headers, token).await?;
    let store = state.store.as_ref();
    let campaign = store
        .campaign_by_id(id)
        .await?
        .ok_or_else(|| AirtableError::NoCampaign(id.to_owned()))?;
    let Some(settings) = settings_of(store, &campaign.id).await? else {
        agents_campaign(store, &agent, id).await?;
        return Err(AirtableError::Dialer(DialerError::NotASessionCampaign).into());
    };
    Ok((agent, campaign, settings))
}

/// Join the campaign's session: the agent's phone is dialled into it once, and each record is
/// dialled for the agent as soon as they are free. Joining again (after the phone dropped)
/// dials the phone into the same session.
#[utoipa::path(
    post,
    path = "/airtable/campaigns/{id}/join",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    request_body(content = Option<JoinBody>, description = "May be empty."),
    responses(
        (status = 200, description = "The agent's session.", body = SuccessBody<SessionView>),
        (status = 400, description = "`mode` is not `phone` or `browser`.", body = ErrorBody),
        (status = 404, description = "No such campaign of this agent's, or the Airtable integration is off.", body = ErrorBody),
        (status = 409, description = "The campaign is not a running session campaign.", body = ErrorBody),
        (status = 422, description = "The agent's phone cannot be dialled, or browser mode was asked for where browser calling is not set up.", body = ErrorBody),
        (status = 502, description = "Twilio failed.", body = ErrorBody),
    )
)]
pub async fn join(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<JoinBody>,
) -> Result<Success<SessionView>, ApiError> {
    let mode = session::mode(body.mode.as_deref()).map_err(AirtableError::from)?;
    let (agent, campaign, settings) =
        session_campaign(&state, &headers, body.token.as_deref(), &id).await?;
    let joined = session::join(&state, &agent, &campaign, mode).await?;
    Ok(success(
        "Joined the session",
        view(&state, &settings, &joined).await?,
    ))
}

/// Wrap up the record the agent just talked to: its outcome (one of the campaign's
/// dispositions) and notes are written to the record with the call's status, duration and
/// detection's verdict, and the agent is free for the next one.
#[utoipa::path(
    post,
    path = "/airtable/campaigns/{id}/wrap-up",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    request_body = WrapUpBody,
    responses(
        (status = 200, description = "The agent's session.", body = SuccessBody<SessionView>),
        (status = 400, description = "`outcome` is missing or not one of the campaign's, or the notes are too long.", body = ErrorBody),
        (status = 404, description = "No such campaign of this agent's, or the agent is not in its session.", body = ErrorBody),
        (status = 409, description = "No call is waiting for its outcome.", body = ErrorBody),
    )
)]
pub async fn wrap_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<WrapUpBody>,
) -> Result<Success<SessionView>, ApiError> {
    let (agent, campaign, settings) =
        session_campaign(&state, &headers, body.token.as_deref(), &id).await?;
    // Checked first: a bad outcome is refused whatever the session's state.
    let said: Disposition =
        session::disposition(&settings, body.outcome.as_deref(), body.notes.as_deref())
            .map_err(AirtableError::from)?;
    let current = session::current(&state, &agent, &campaign).await?;
    session::wrap_up(
        &state,
        &settings,
        &current,
        Some(said.outcome.as_str()),
        said.notes.as_deref(),
    )
    .await?;
    Ok(success(
        "Wrapped up",
        view(&state, &settings, &current).await?,
    ))
}

async fn act(
    state: AppState,
    headers: HeaderMap,
    id: String,
    token: Option<String>,
    what: Action,
) -> Result<Success<SessionView>, ApiError> {
    let (agent, campaign, settings) =
        session_campaign(&state, &headers, token.as_deref(), &id).await?;
    let current = session::current(&state, &agent, &campaign).await?;
    let message = match what {
        Action::Pause => {
            session::pause(&state, &current).await?;
            "Session paused"
        }
        Action::Resume => {
            session::resume(&state, &current).await?;
            "Session resumed"
        }
        Action::Leave => {
            session::leave(&state, &current).await?;
            "Left the session"
        }
    };
    Ok(success(message, view(&state, &settings, &current).await?))
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Leave,
}

/// Pause the agent's session: no new record is dialled for them until they resume.
#[utoipa::path(
    post,
    path = "/airtable/campaigns/{id}/pause-session",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    request_body(content = Option<SessionTokenOnly>, description = "May be empty."),
    responses(
        (status = 200, description = "The agent's session.", body = SuccessBody<SessionView>),
        (status = 404, description = "No such campaign of this agent's, or the agent is not in its session.", body = ErrorBody),
        (status = 409, description = "The session is not ready (on a call, wrapping up, joining).", body = ErrorBody),
    )
)]
pub async fn pause_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<SessionTokenOnly>,
) -> Result<Success<SessionView>, ApiError> {
    act(state, headers, id, body.token, Action::Pause).await
}

/// Resume the agent's paused session.
#[utoipa::path(
    post,
    path = "/airtable/campaigns/{id}/resume-session",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    request_body(content = Option<SessionTokenOnly>, description = "May be empty."),
    responses(
        (status = 200, description = "The agent's session.", body = SuccessBody<SessionView>),
        (status = 404, description = "No such campaign of this agent's, or the agent is not in its session.", body = ErrorBody),
        (status = 409, description = "The session is not paused.", body = ErrorBody),
    )
)]
pub async fn resume_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<SessionTokenOnly>,
) -> Result<Success<SessionView>, ApiError> {
    act(state, headers, id, body.token, Action::Resume).await
}

/// Leave the session: the agent's phone is hung up, and a record being wrapped up is written
/// without an outcome.
#[utoipa::path(
    post,
    path = "/airtable/campaigns/{id}/leave",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(("id" = String, Path, description = "The campaign's id.")),
    request_body(content = Option<SessionTokenOnly>, description = "May be empty."),
    responses(
        (status = 200, description = "The session, left.", body = SuccessBody<SessionView>),
        (status = 404, description = "No such campaign of this agent's, or the agent is not in its session.", body = ErrorBody),
    )
)]
pub async fn leave(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonOrForm(body): JsonOrForm<SessionTokenOnly>,
) -> Result<Success<SessionView>, ApiError> {
    act(state, headers, id, body.token, Action::Leave).await
}
