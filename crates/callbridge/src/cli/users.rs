//! `callbridge users list|show EMAIL|revoke EMAIL|invite EMAIL|promote EMAIL`: who is onboarded, what happened
//! to them, the off switch for every call token of one agent, and sign-up for one email outside
//! the allowed domains.

use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Subcommand;

use super::EXIT_CONFIG;
use crate::audit::{self, AuditKind, Entry};
use crate::domain::EmailAddress;
use crate::store::{Agent, Store, StoreError};

/// How many audit events `show` prints (the newest).
const SHOWN_EVENTS: u32 = 50;

#[derive(Debug, clap::Args)]
pub struct UsersArgs {
    /// sqlite://path or postgres://… [default: sqlite://callbridge.db]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Every agent: email, phone, and whether it may place calls.
    List,
    /// One agent and its audit log (codes sent, verifications, failures, tokens, revocations).
    Show {
        /// The agent's email.
        email: String,
    },
    /// Refuse every call token issued to the agent so far. Verifying the phone again gives
    /// the agent a new token.
    Revoke {
        /// The agent's email.
        email: String,
    },
    /// Let one email sign up whatever ALLOWED_EMAIL_DOMAINS says (it still proves the address
    /// and a phone).
    Invite {
        /// The email to invite.
        email: String,
    },
    /// Let the agent administer the others in the web app (the first agent always does).
    Promote {
        /// The agent's email.
        email: String,
    },
}

pub async fn run(args: UsersArgs) -> ExitCode {
    let url = match crate::config::database_url(args.database_url) {
        Ok(url) => url,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let store = match crate::store::open(&url).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match args.command {
        UsersCommand::List => list(store.as_ref()).await,
        UsersCommand::Show { email } => show(store.as_ref(), &email).await,
        UsersCommand::Revoke { email } => revoke(store.as_ref(), &email).await,
        UsersCommand::Invite { email } => invite(store.as_ref(), &email).await,
        UsersCommand::Promote { email } => promote(store.as_ref(), &email).await,
    };
    store.close().await;
    match outcome {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum UsersError {
    #[error("{0}")]
    BadEmail(#[from] crate::domain::DomainError),
    #[error("no agent has the email {0}: `callbridge users list` shows who is onboarded")]
    Unknown(EmailAddress),
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn find(store: &dyn Store, email: &str) -> Result<Agent, UsersError> {
    let email = EmailAddress::parse(email)?;
    store
        .agent_by_email(&email)
        .await?
        .ok_or(UsersError::Unknown(email))
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

fn status(agent: &Agent) -> &'static str {
    if agent.revoked_at.is_some() {
        "revoked"
    } else if agent.phone_verified_at.is_some() {
        "active"
    } else {
        "email-only"
    }
}

async fn list(store: &dyn Store) -> Result<String, UsersError> {
    let agents = store.list_agents().await?;
    if agents.is_empty() {
        return Ok("no agents yet: they onboard through /setup\n".to_owned());
    }
    let width = agents
        .iter()
        .map(|a| a.email.as_str().len())
        .max()
        .unwrap_or(0)
        .max("EMAIL".len());
    let mut out = format!(
        "{:<width$}  {:<16}  {:<10}  CREATED\n",
        "EMAIL", "PHONE", "STATUS"
    );
    for agent in &agents {
        let phone = agent.phone.as_ref().map_or("-", |p| p.as_str());
        out.push_str(&format!(
            "{:<width$}  {:<16}  {:<10}  {}\n",
            agent.email.as_str(),
            phone,
            status(agent),
            when(Some(agent.created_at)),
        ));
    }
    Ok(out)
}

async fn show(store: &dyn Store, email: &str) -> Result<String, UsersError> {
    let agent = find(store, email).await?;
    let mut out = String::new();
    let phone = agent.phone.as_ref().map_or("-", |p| p.as_str());
    for (label, value) in [
        ("id", agent.id.to_string()),
        ("email", agent.email.to_string()),
        ("email verified", when(agent.email_verified_at)),
        ("phone", phone.to_owned()),
        ("phone verified", when(agent.phone_verified_at)),
        ("status", status(&agent).to_owned()),
        ("token version", agent.token_version.to_string()),
        ("revoked", when(agent.revoked_at)),
        ("created", when(Some(agent.created_at))),
    ] {
        out.push_str(&format!("{label:<15} {value}\n"));
    }
    let events = store
        .audit_for_agent(agent.id, agent.email.as_str(), SHOWN_EVENTS)
        .await?;
    out.push_str(&format!("\naudit events ({}):\n", events.len()));
    for event in events {
        out.push_str(&format!(
            "{}  {:<12}  {:<18}  by {:<12}  from {:<15}  {}\n",
            when(Some(event.created_at)),
            event.kind,
            event.subject,
            event.actor,
            event.client_ip.as_deref().unwrap_or("-"),
            event.detail.as_deref().unwrap_or(""),
        ));
    }
    Ok(out)
}

/// `cli:` and the operator's login, for the audit log and invitations.
fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    )
}

async fn invite(store: &dyn Store, email: &str) -> Result<String, UsersError> {
    let email = EmailAddress::parse(email)?;
    let new = store.invite(&email, &cli_actor(), Utc::now()).await?;
    let already = if new { "" } else { " (already invited)" };
    Ok(format!(
        "invited {email}{already}: it may sign up through /setup whatever ALLOWED_EMAIL_DOMAINS \
         says\n"
    ))
}

async fn promote(store: &dyn Store, email: &str) -> Result<String, UsersError> {
    let agent = find(store, email).await?;
    let new = store.promote(agent.id, &cli_actor(), Utc::now()).await?;
    let already = if new {
        ""
    } else {
        " (already an administrator)"
    };
    Ok(format!(
        "promoted {}{already}: the web app's Agents page lets it invite and revoke agents\n",
        agent.email
    ))
}

async fn revoke(store: &dyn Store, email: &str) -> Result<String, UsersError> {
    let agent = find(store, email).await?;
    let revoked = store.revoke_agent(agent.id, Utc::now()).await?;
    let actor = cli_actor();
    audit::record_strict(
        store,
        Entry {
            kind: AuditKind::Revoked,
            actor: &actor,
            subject: revoked.email.as_str(),
            agent: Some(revoked.id),
            client_ip: None,
            detail: Some(format!("token version now {}", revoked.token_version)),
        },
    )
    .await?;
    Ok(format!(
        "revoked {}: every call token issued so far is refused; verifying the phone again \
         issues a new one\n",
        revoked.email
    ))
}
