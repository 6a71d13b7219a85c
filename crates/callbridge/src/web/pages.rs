//! The pages of a signed-in agent: the dialer with its live call panel, the call log, and a
//! call's own page. Without a session each sends the browser to sign in.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::session::SignedIn;
use super::sign_in::see_other;
use super::{Me, SIGN_IN_PATH, render, words};
use crate::calls::view::{self, CallView};
use crate::domain::{CallId, CallState};
use crate::state::AppState;
use crate::store::{CallCursor, CallPageQuery};

const PAGE_SIZE: u32 = 20;
const RECENT_NUMBERS: usize = 5;

fn page(state: &AppState, status: StatusCode, body: String) -> Response {
    super::html(state, status, body)
}

#[derive(Template)]
#[template(path = "web/dialer.html")]
struct DialerPage {
    me: Option<Me>,
    page: &'static str,
    csrf: String,
    default_mode: &'static str,
    recent: Vec<String>,
    /// Who a call can be transferred to by email: the other agents who take calls.
    colleagues: Vec<String>,
    reasons_json: String,
    states_json: String,
    voice_sdk_url: String,
}

/// The dialer and the live call panel.
#[utoipa::path(get, path = "/", tag = super::WEB_TAG,
    responses((status = 200, description = "The dialer.", content_type = "text/html", body = String),
              (status = 303, description = "Not signed in: to the sign-in page.")))]
pub(super) async fn dialer(
    State(state): State<AppState>,
    signed_in: Option<Extension<SignedIn>>,
) -> Response {
    let Some(Extension(signed_in)) = signed_in else {
        return see_other(SIGN_IN_PATH, None);
    };
    let mut recent: Vec<String> = Vec::new();
    match state.store.calls_for_agent(signed_in.agent.id, 50).await {
        Ok(calls) => {
            for call in calls {
                let number = call.recipient.as_str().to_owned();
                if !recent.contains(&number) {
                    recent.push(number);
                }
                if recent.len() == RECENT_NUMBERS {
                    break;
                }
            }
        }
        Err(err) => tracing::warn!(%err, "recent numbers unavailable"),
    }
    let colleagues = match state.store.list_agents().await {
        Ok(agents) => agents
            .into_iter()
            .filter(|a| a.id != signed_in.agent.id && a.revoked_at.is_none())
            .filter(|a| a.phone_verified_at.is_some())
            .map(|a| a.email.as_str().to_owned())
            .collect(),
        Err(err) => {
            tracing::warn!(%err, "the agents to transfer to are unavailable");
            Vec::new()
        }
    };
    let (reasons_json, states_json) = words::for_the_page();
    let html = render(&DialerPage {
        me: Some(super::me(&state, &signed_in).await),
        page: "dialer",
        csrf: signed_in.csrf_token.clone(),
        default_mode: signed_in.agent.default_mode.as_str(),
        recent,
        colleagues,
        reasons_json,
        states_json,
        voice_sdk_url: state.settings.browser.voice_sdk_url.clone(),
    });
    page(&state, StatusCode::OK, html)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LogFilters {
    /// A call state, or empty for any.
    #[serde(default)]
    state: String,
    /// `YYYY-MM-DD`: calls from that day on.
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`: calls up to that day.
    #[serde(default)]
    to: String,
    /// Digits the customer's number contains.
    #[serde(default)]
    number: String,
    /// Where the page starts (from the previous page's link).
    #[serde(default)]
    before: String,
}

struct Row {
    id: String,
    when: String,
    number: String,
    label: String,
    state: &'static str,
    words: String,
    duration: String,
    recorded: bool,
}

#[derive(Template)]
#[template(path = "web/calls.html")]
struct CallsPage {
    me: Option<Me>,
    page: &'static str,
    rows: Vec<Row>,
    states: Vec<(&'static str, bool)>,
    from: String,
    to: String,
    number: String,
    next: Option<String>,
    problem: Option<String>,
}

fn day(raw: &str) -> Result<Option<DateTime<Utc>>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
        .map_err(|_| format!("{raw:?} is not a date (YYYY-MM-DD)"))
}

fn cursor(raw: &str) -> Option<CallCursor> {
    let (ms, id) = raw.split_once('.')?;
    Some(CallCursor {
        created_at: DateTime::from_timestamp_millis(ms.parse().ok()?)?,
        id: id.parse().ok()?,
    })
}

fn summarise(call: &CallView) -> Row {
    let words = match (&call.reason, call.state) {
        (Some(reason), _) => format!("{}: {}", words::state(call.state), words::reason(reason)),
        (None, state) => words::state(state).to_owned(),
    };
    Row {
        id: call.id.to_string(),
        when: call.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        number: call.recipient.clone(),
        label: call.label.clone().unwrap_or_default(),
        state: call.state.as_str(),
        words,
        duration: words::duration(call.duration_secs),
        recorded: call.recording.is_some(),
    }
}

/// The agent's calls, newest first, with filters.
#[utoipa::path(get, path = "/history", tag = super::WEB_TAG,
    params(LogFilters),
    responses((status = 200, description = "The call log.", content_type = "text/html", body = String),
              (status = 303, description = "Not signed in: to the sign-in page.")))]
pub(super) async fn history(
    State(state): State<AppState>,
    signed_in: Option<Extension<SignedIn>>,
    Query(filters): Query<LogFilters>,
) -> Response {
    let Some(Extension(signed_in)) = signed_in else {
        return see_other(SIGN_IN_PATH, None);
    };
    let chosen: Option<CallState> = filters.state.parse().ok();
    let mut view = CallsPage {
        me: Some(super::me(&state, &signed_in).await),
        page: "calls",
        rows: Vec::new(),
        states: CallState::ALL
            .iter()
            .map(|s| (s.as_str(), Some(*s) == chosen))
            .collect(),
        from: filters.from.clone(),
        to: filters.to.clone(),
        number: filters.number.clone(),
        next: None,
        problem: None,
    };
    let (since, until) = match (day(&filters.from), day(&filters.to)) {
        (Ok(since), Ok(until)) => (since, until.map(|u| u + chrono::Duration::days(1))),
        (Err(e), _) | (_, Err(e)) => {
            view.problem = Some(e);
            return page(&state, StatusCode::BAD_REQUEST, render(&view));
        }
    };
    let query = CallPageQuery {
        agent: signed_in.agent.id,
        states: chosen.into_iter().collect(),
        before: cursor(&filters.before),
        since,
        until,
        number_digits: Some(filters.number.clone()).filter(|n| !n.trim().is_empty()),
        limit: PAGE_SIZE + 1,
    };
    let calls = match state.store.calls_page(&query).await {
        Ok(calls) => calls,
        Err(err) => {
            view.problem = Some(crate::http::ApiError::from(err).to_string());
            return page(&state, StatusCode::SERVICE_UNAVAILABLE, render(&view));
        }
    };
    let more = calls.len() > PAGE_SIZE as usize;
    let calls: Vec<_> = calls.into_iter().take(PAGE_SIZE as usize).collect();
    let last = calls.last().map(|c| (c.created_at, c.id));
    match view::load_many(state.store.as_ref(), calls).await {
        Ok(views) => view.rows = views.iter().map(summarise).collect(),
        Err(err) => {
            view.problem = Some(err.to_string());
            return page(&state, StatusCode::SERVICE_UNAVAILABLE, render(&view));
        }
    }
    if more && let Some((at, id)) = last {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        next.append_pair("state", &filters.state)
            .append_pair("from", &filters.from)
            .append_pair("to", &filters.to)
            .append_pair("number", &filters.number)
            .append_pair("before", &format!("{}.{id}", at.timestamp_millis()));
        view.next = Some(format!("/history?{}", next.finish()));
    }
    page(&state, StatusCode::OK, render(&view))
}

struct LegRow {
    role: String,
    number: String,
    status: String,
    duration: String,
}

struct EventRow {
    at: String,
    source: String,
    kind: String,
    role: String,
}

#[derive(Template)]
#[template(path = "web/call.html")]
struct CallPage {
    me: Option<Me>,
    page: &'static str,
    summary: Row,
    conference: String,
    legs: Vec<LegRow>,
    events: Vec<EventRow>,
}

/// One call: its legs, its timeline and its recording.
#[utoipa::path(get, path = "/history/{id}", tag = super::WEB_TAG,
    params(("id" = CallId, Path, description = "The call's id.")),
    responses((status = 200, description = "The call's page.", content_type = "text/html", body = String),
              (status = 303, description = "Not signed in: to the sign-in page."),
              (status = 404, description = "No such call of this agent's.", content_type = "text/html", body = String)))]
pub(super) async fn call(
    State(state): State<AppState>,
    signed_in: Option<Extension<SignedIn>>,
    Path(id): Path<String>,
) -> Response {
    let Some(Extension(signed_in)) = signed_in else {
        return see_other(SIGN_IN_PATH, None);
    };
    let shown = super::me(&state, &signed_in).await;
    let not_found = || {
        super::message(
            &state,
            StatusCode::NOT_FOUND,
            shown.clone(),
            "calls",
            (
                "No such call",
                "This call does not exist, or it is not one of yours.",
            ),
            ("/history", "All calls"),
        )
    };
    let Ok(id) = id.parse::<CallId>() else {
        return not_found();
    };
    let call = match state.store.call_by_id(id).await {
        Ok(Some(call)) if call.agent_id == signed_in.agent.id => call,
        Ok(_) => return not_found(),
        Err(err) => return crate::http::ApiError::from(err).into_response(),
    };
    let view = match view::load_for(state.store.as_ref(), call).await {
        Ok(view) => view,
        Err(err) => return crate::http::ApiError::from(err).into_response(),
    };
    let html = render(&CallPage {
        me: Some(shown),
        page: "calls",
        summary: summarise(&view),
        conference: view.conference.name.clone(),
        legs: view
            .legs
            .iter()
            .map(|leg| LegRow {
                role: leg.role.as_str().to_owned(),
                number: leg.number.clone(),
                status: leg.status.clone(),
                duration: words::duration(leg.duration_secs),
            })
            .collect(),
        events: view
            .events
            .iter()
            .map(|event| EventRow {
                at: event.at.format("%H:%M:%S").to_string(),
                source: event.source.as_str().to_owned(),
                kind: event.kind.clone(),
                role: event
                    .role
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
    });
    page(&state, StatusCode::OK, html)
}
