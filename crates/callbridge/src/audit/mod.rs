//! The audit log of onboarding and access: who got a code, who proved it, who failed, which
//! tokens were issued and revoked, from where.

use std::fmt;

use chrono::Utc;

use crate::domain::AgentId;
use crate::domain::ClientAddress;
use crate::state::AppState;
use crate::store::{NewAuditEvent, Store};

/// The actor of everything done through the public setup endpoints.
pub const SETUP_ACTOR: &str = "setup";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    OtpSent,
    Verified,
    Failed,
    TokenIssued,
    Revoked,
}

impl AuditKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OtpSent => "otp_sent",
            Self::Verified => "verified",
            Self::Failed => "failed",
            Self::TokenIssued => "token_issued",
            Self::Revoked => "revoked",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event to record; `subject` is the email or phone acted on.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub kind: AuditKind,
    pub actor: &'a str,
    pub subject: &'a str,
    pub agent: Option<AgentId>,
    pub client_ip: Option<ClientAddress>,
    pub detail: Option<String>,
}

impl<'a> Entry<'a> {
    /// An event of the public setup endpoints.
    pub fn setup(kind: AuditKind, subject: &'a str, client_ip: ClientAddress) -> Self {
        Self {
            kind,
            actor: SETUP_ACTOR,
            subject,
            agent: None,
            client_ip: Some(client_ip),
            detail: None,
        }
    }

    pub fn agent(mut self, agent: AgentId) -> Self {
        self.agent = Some(agent);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Stores the event. The audit log must not turn a success into a failure for the person
/// onboarding, so a store error is logged and swallowed here; [`record_strict`] reports it.
pub async fn record(state: &AppState, entry: Entry<'_>) {
    let kind = entry.kind;
    if let Err(err) = record_strict(state.store.as_ref(), entry).await {
        tracing::error!(%err, %kind, "could not store an audit event");
    }
}

/// Stores the event and says whether that worked (the command line reports it).
pub async fn record_strict(
    store: &dyn Store,
    entry: Entry<'_>,
) -> Result<(), crate::store::StoreError> {
    store
        .record_audit(NewAuditEvent {
            kind: entry.kind.as_str().to_owned(),
            actor: entry.actor.to_owned(),
            subject: entry.subject.to_owned(),
            agent_id: entry.agent,
            client_ip: entry.client_ip.map(|ip| ip.label()),
            detail: entry.detail,
            at: Utc::now(),
        })
        .await
        .map(drop)
}
