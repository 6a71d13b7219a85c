//! `/admin`: for administrators (the first agent, and those `callbridge users promote` named),
//! every agent with its status, an invitation by email, and revocation.

use askama::Template;
use axum::Extension;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;

use super::session::{SignedIn, csrf_matches};
use super::sign_in::see_other;
use super::{ADMIN_PATH, Me, SIGN_IN_PATH, html, render, same_origin};
use crate::audit::{self, AuditKind, Entry};
use crate::domain::EmailAddress;
use crate::http::ApiError;
use crate::state::AppState;

struct AgentRow {
    email: String,
    phone: String,
    status: &'static str,
    since: String,
    admin: bool,
    can_revoke: bool,
}

#[derive(Template)]
#[template(path = "web/admin.html")]
struct AdminPage {
    me: Option<Me>,
    page: &'static str,
    csrf: String,
    agents: Vec<AgentRow>,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AgentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// The signed-in administrator, or the answer for anyone else.
async fn administrator(
    state: &AppState,
    signed_in: Option<Extension<SignedIn>>,
) -> Result<SignedIn, Response> {
    let Some(Extension(signed_in)) = signed_in else {
        return Err(see_other(SIGN_IN_PATH, None));
    };
    match state.store.is_admin(signed_in.agent.id).await {
        Ok(true) => Ok(signed_in),
        Ok(false) => Err(super::message(
            state,
            StatusCode::FORBIDDEN,
            super::me(state, &signed_in).await,
            "admin",
            ("Agents", "Only an administrator sees the agents."),
            ("/", "Back to calling"),
        )),
        Err(err) => Err(axum::response::IntoResponse::into_response(ApiError::from(
            err,
        ))),
    }
}

async fn show(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    error: Option<String>,
    done: Option<String>,
) -> Response {
    let agents = match state.store.list_agents().await {
        Ok(agents) => agents,
        Err(err) => return axum::response::IntoResponse::into_response(ApiError::from(err)),
    };
    let mut rows = Vec::with_capacity(agents.len());
    for agent in agents {
        let status = if agent.revoked_at.is_some() {
            "revoked"
        } else if agent.phone_verified_at.is_some() {
            "active"
        } else {
            "email only"
        };
        rows.push(AgentRow {
            email: agent.email.as_str().to_owned(),
            phone: agent
                .phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            status,
            since: agent.created_at.format("%Y-%m-%d").to_string(),
            admin: state.store.is_admin(agent.id).await.unwrap_or(false),
            can_revoke: agent.revoked_at.is_none() && agent.id != signed_in.agent.id,
        });
    }
    let page = AdminPage {
        me: Some(super::me(state, signed_in).await),
        page: "admin",
        csrf: signed_in.csrf_token.clone(),
        agents: rows,
        error,
        done,
    };
    html(state, status, render(&page))
}

/// Every agent, with invitation and revocation.
#[utoipa::path(get, path = ADMIN_PATH, tag = super::WEB_TAG,
    responses((status = 200, description = "The agents.", content_type = "text/html", body = String),
              (status = 303, description = "Not signed in: to the sign-in page."),
              (status = 403, description = "Not an administrator.", content_type = "text/html", body = String)))]
pub(super) async fn page(
    State(state): State<AppState>,
    signed_in: Option<Extension<SignedIn>>,
) -> Response {
    match administrator(&state, signed_in).await {
        Ok(admin) => show(&state, &admin, StatusCode::OK, None, None).await,
        Err(refused) => refused,
    }
}

fn checked_form(
    state: &AppState,
    headers: &HeaderMap,
    admin: &SignedIn,
    form: &AgentForm,
) -> Result<EmailAddress, String> {
    if same_origin(state, headers).is_err() || !csrf_matches(admin, Some(&form.csrf)) {
        return Err("This form did not come from your page: reload it and try again.".into());
    }
    EmailAddress::parse(&form.email).map_err(|e| e.to_string())
}

/// Lets one email sign up whatever the allowed domains say.
#[utoipa::path(post, path = "/admin/invite", tag = super::WEB_TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `email`"),
    responses((status = 200, description = "The agents, saying what was done.", content_type = "text/html", body = String),
              (status = 400, description = "Not an email, or not from the page.", content_type = "text/html", body = String),
              (status = 403, description = "Not an administrator.", content_type = "text/html", body = String)))]
pub(super) async fn invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<Extension<SignedIn>>,
    Form(form): Form<AgentForm>,
) -> Response {
    let admin = match administrator(&state, signed_in).await {
        Ok(admin) => admin,
        Err(refused) => return refused,
    };
    let email = match checked_form(&state, &headers, &admin, &form) {
        Ok(email) => email,
        Err(why) => return show(&state, &admin, StatusCode::BAD_REQUEST, Some(why), None).await,
    };
    let by = format!("web:{}", admin.agent.id);
    match state.store.invite(&email, &by, Utc::now()).await {
        Ok(true) => {
            show(
                &state,
                &admin,
                StatusCode::OK,
                None,
                Some(format!("Invited {email}.")),
            )
            .await
        }
        Ok(false) => {
            show(
                &state,
                &admin,
                StatusCode::OK,
                None,
                Some(format!("{email} was already invited.")),
            )
            .await
        }
        Err(err) => {
            show(
                &state,
                &admin,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(ApiError::from(err).to_string()),
                None,
            )
            .await
        }
    }
}

/// Refuses every call token (and session) of one agent.
#[utoipa::path(post, path = "/admin/revoke", tag = super::WEB_TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `email`"),
    responses((status = 200, description = "The agents, saying what was done.", content_type = "text/html", body = String),
              (status = 400, description = "No such agent, yourself, or not from the page.", content_type = "text/html", body = String),
              (status = 403, description = "Not an administrator.", content_type = "text/html", body = String)))]
pub(super) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<Extension<SignedIn>>,
    Form(form): Form<AgentForm>,
) -> Response {
    let admin = match administrator(&state, signed_in).await {
        Ok(admin) => admin,
        Err(refused) => return refused,
    };
    let email = match checked_form(&state, &headers, &admin, &form) {
        Ok(email) => email,
        Err(why) => return show(&state, &admin, StatusCode::BAD_REQUEST, Some(why), None).await,
    };
    let agent = match state.store.agent_by_email(&email).await {
        Ok(Some(agent)) if agent.id != admin.agent.id => agent,
        Ok(Some(_)) => {
            let why = "You cannot revoke yourself: another administrator can.".to_owned();
            return show(&state, &admin, StatusCode::BAD_REQUEST, Some(why), None).await;
        }
        Ok(None) => {
            return show(
                &state,
                &admin,
                StatusCode::BAD_REQUEST,
                Some(format!("No agent has the email {email}.")),
                None,
            )
            .await;
        }
        Err(err) => {
            return show(
                &state,
                &admin,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(ApiError::from(err).to_string()),
                None,
            )
            .await;
        }
    };
    let revoked = match state.store.revoke_agent(agent.id, Utc::now()).await {
        Ok(revoked) => revoked,
        Err(err) => {
            return show(
                &state,
                &admin,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(ApiError::from(err).to_string()),
                None,
            )
            .await;
        }
    };
    let actor = format!("web:{}", admin.agent.id);
    audit::record(
        &state,
        Entry {
            kind: AuditKind::Revoked,
            actor: &actor,
            subject: revoked.email.as_str(),
            agent: Some(revoked.id),
            client_ip: None,
            detail: Some(format!("token version now {}", revoked.token_version)),
        },
    )
    .await;
    show(
        &state,
        &admin,
        StatusCode::OK,
        None,
        Some(format!(
            "Revoked {email}: its calls and sessions are refused from now on."
        )),
    )
    .await
}
