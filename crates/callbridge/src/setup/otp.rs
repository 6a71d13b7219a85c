//! One-time codes as every setup step uses them: sent and checked through Twilio Verify, with
//! the audit trail each step keeps (code sent, code refused and why, address verified).

use twilio::{Verification, VerificationCheck, VerifyChannel};

use super::{SetupError, verify};
use crate::audit::{self, AuditKind, Entry};
use crate::domain::AgentId;
use crate::domain::ClientAddress;
use crate::state::AppState;

/// Where a code goes, and who is asking: the audit log's subject, agent and client.
#[derive(Debug, Clone, Copy)]
pub(super) struct Address<'a> {
    pub(super) to: &'a str,
    pub(super) channel: VerifyChannel,
    /// The agent, once one exists (the phone steps); onboarding by email has none yet.
    pub(super) agent: Option<AgentId>,
    pub(super) ip: ClientAddress,
}

impl<'a> Address<'a> {
    fn entry(&self, kind: AuditKind) -> Entry<'a> {
        let entry = Entry::setup(kind, self.to, self.ip);
        match self.agent {
            Some(agent) => entry.agent(agent),
            None => entry,
        }
    }
}

/// Sends a code and notes it.
pub(super) async fn send(
    state: &AppState,
    address: Address<'_>,
) -> Result<Verification, SetupError> {
    let verification = verify::send_code(state, address.to, address.channel).await?;
    audit::record(
        state,
        address
            .entry(AuditKind::OtpSent)
            .detail(address.channel.to_string()),
    )
    .await;
    Ok(verification)
}

/// Checks a code; a refusal is noted with its reason before it is answered. `label` names the
/// code in that note when a step checks more than one.
pub(super) async fn check(
    state: &AppState,
    address: Address<'_>,
    code: &str,
    label: Option<&str>,
) -> Result<VerificationCheck, SetupError> {
    match verify::check_code(state, address.to, code).await {
        Ok(check) => Ok(check),
        Err(failed) => {
            let reason = match label {
                Some(label) => format!("{label}: {}", failed.reason),
                None => failed.reason,
            };
            audit::record(state, address.entry(AuditKind::Failed).detail(reason)).await;
            Err(failed.error)
        }
    }
}

/// Notes that the address is verified, for `agent`.
pub(super) async fn verified(state: &AppState, address: Address<'_>, agent: AgentId) {
    let address = Address {
        agent: Some(agent),
        ..address
    };
    audit::record(
        state,
        address
            .entry(AuditKind::Verified)
            .detail(address.channel.to_string()),
    )
    .await;
}
