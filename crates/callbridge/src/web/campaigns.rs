//! `/campaigns`: the agent's Airtable campaigns with their progress, and the buttons that start,
//! pause, resume and cancel them through the campaign API. Only when Airtable is configured.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::session::SignedIn;
use super::sign_in::see_other;
use super::{Me, SIGN_IN_PATH, html, render};
use crate::state::AppState;
use crate::store::ItemState;

const SHOWN: u32 = 50;

struct CampaignRow {
    id: String,
    view: String,
    status: &'static str,
    total: usize,
    done: usize,
    counts: String,
    created: String,
    /// The outcomes of a session campaign, which the agent works from the session panel; empty
    /// for a per-record campaign.
    dispositions: Vec<String>,
    /// Whether the agent started it, and so may pause, resume or cancel it.
    own: bool,
}

impl CampaignRow {
    fn session(&self) -> bool {
        !self.dispositions.is_empty()
    }
}

#[derive(Template)]
#[template(path = "web/campaigns.html")]
struct CampaignsPage {
    me: Option<Me>,
    page: &'static str,
    csrf: String,
    agent_email: String,
    campaigns: Vec<CampaignRow>,
    /// Where the page loads the Voice SDK from, to join a session from the browser.
    voice_sdk_url: String,
    /// Whether browser calling is set up, so that a session can be joined from the page.
    browser_calling: bool,
}

/// The agent's campaigns.
#[utoipa::path(get, path = "/campaigns", tag = super::WEB_TAG,
    responses((status = 200, description = "The campaigns.", content_type = "text/html", body = String),
              (status = 303, description = "Not signed in: to the sign-in page."),
              (status = 404, description = "The Airtable integration is off.", content_type = "text/html", body = String)))]
pub(super) async fn page(
    State(state): State<AppState>,
    signed_in: Option<Extension<SignedIn>>,
) -> Response {
    let Some(Extension(signed_in)) = signed_in else {
        return see_other(SIGN_IN_PATH, None);
    };
    if state.airtable.is_none() {
        return super::message(
            &state,
            StatusCode::NOT_FOUND,
            super::me(&state, &signed_in).await,
            "campaigns",
            ("Campaigns", "Airtable is not configured here."),
            ("/", "Back to calling"),
        );
    }
    let campaigns = match state
        .store
        .campaigns_for_agent(signed_in.agent.id, SHOWN)
        .await
    {
        Ok(campaigns) => campaigns,
        Err(err) => {
            return axum::response::IntoResponse::into_response(crate::http::ApiError::from(err));
        }
    };
    let mut campaigns = campaigns;
    // A team works one list: the session campaigns other agents started are theirs to join.
    let others = state
        .store
        .running_dialer_campaigns()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.agent_id != signed_in.agent.id);
    campaigns.extend(others);
    let mut rows = Vec::with_capacity(campaigns.len());
    for campaign in campaigns {
        let own = campaign.agent_id == signed_in.agent.id;
        let items = state
            .store
            .campaign_items(&campaign.id)
            .await
            .unwrap_or_default();
        let count =
            |wanted: &[ItemState]| items.iter().filter(|i| wanted.contains(&i.state)).count();
        let pending = count(&[ItemState::Pending]);
        let open = count(&[ItemState::Starting])
            + items
                .iter()
                .filter(|i| {
                    i.state == ItemState::Called && !i.call_state.is_some_and(|s| s.is_final())
                })
                .count();
        let mut done = items.len() - pending - open;
        let dispositions =
            crate::airtable::session_dispositions(state.store.as_ref(), &campaign.id)
                .await
                .unwrap_or_default();
        if !dispositions.is_empty() {
            // A session campaign's record is done once its outcome was written.
            done = state
                .store
                .item_outcomes(&campaign.id)
                .await
                .unwrap_or_default()
                .iter()
                .filter(|o| o.written)
                .count()
                + count(&[ItemState::Failed, ItemState::Canceled]);
        }
        rows.push(CampaignRow {
            id: campaign.id.clone(),
            view: campaign.view.clone(),
            status: campaign.status.as_str(),
            total: items.len(),
            done,
            counts: format!("{pending} waiting, {open} in progress"),
            created: campaign.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            dispositions,
            own,
        });
    }
    let page = CampaignsPage {
        me: Some(super::me(&state, &signed_in).await),
        page: "campaigns",
        csrf: signed_in.csrf_token.clone(),
        agent_email: signed_in.agent.email.as_str().to_owned(),
        campaigns: rows,
        voice_sdk_url: state.settings.browser.voice_sdk_url.clone(),
        browser_calling: crate::browser::missing_settings(&state.settings).is_empty(),
    };
    html(&state, StatusCode::OK, render(&page))
}
