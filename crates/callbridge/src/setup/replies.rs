//! The `data` of each setup answer, in the seed's field names.

use serde::Serialize;
use twilio::{Verification, VerificationCheck, VerificationStatus, VerifyChannel};
use utoipa::ToSchema;

use crate::auth::iso_millis;
use crate::domain::{AgentId, CallMode, ClientIdentity};
use crate::store::Agent;

/// The seed's summary of a Verification: a code went out.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// Where the code went, as Twilio has it.
    to: Option<String>,
    #[schema(value_type = Option<String>, example = "email")]
    channel: Option<VerifyChannel>,
    #[schema(value_type = Option<String>, example = "pending")]
    status: Option<VerificationStatus>,
    valid: Option<bool>,
    /// The Verification's SID (`VE…`).
    sid: String,
}

impl From<&Verification> for CodeSent {
    fn from(v: &Verification) -> Self {
        Self {
            to: v.to.clone(),
            channel: v.channel,
            status: v.status,
            valid: v.valid,
            sid: v.sid.clone(),
        }
    }
}

/// The seed's summary of a VerificationCheck: a code was proven.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeChecked {
    #[schema(value_type = Option<String>, example = "approved")]
    status: Option<VerificationStatus>,
    valid: Option<bool>,
    sid: String,
}

impl From<&VerificationCheck> for CodeChecked {
    fn from(c: &VerificationCheck) -> Self {
        Self {
            status: c.status,
            valid: c.valid,
            sid: c.sid.clone(),
        }
    }
}

/// `POST /setup/email/validate`: the email is proven; `token` is the setup token for the
/// phone step.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailVerified {
    pub email: String,
    /// The setup token (a JWT), for `POST /setup/phone/init` and `/validate`.
    pub token: String,
    /// ISO 8601 with milliseconds.
    pub verified_at: String,
    pub verification: CodeChecked,
}

/// `POST /setup/phone/validate`: the agent is onboarded; `token` is their call token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneVerified {
    pub email: String,
    pub phone: String,
    /// The call token (a JWT): `Authorization: Bearer <token>` on the call endpoints.
    pub token: String,
    pub verified_at: String,
    pub verification: CodeChecked,
}

/// `POST /setup/init`: both codes went out.
#[derive(Debug, Serialize, ToSchema)]
pub struct BothCodesSent {
    pub email: CodeSent,
    pub phone: CodeSent,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BothCodesChecked {
    pub email: CodeChecked,
    pub phone: CodeChecked,
}

/// `POST /setup/validate`: both codes proven; `token` is the call token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BothVerified {
    pub email: String,
    pub phone: String,
    pub verified_at: String,
    pub token: String,
    pub verification: BothCodesChecked,
}

/// `GET` and `PATCH /setup/me`: the agent a call token names.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    id: AgentId,
    email: String,
    phone: Option<String>,
    phone_verified_at: Option<String>,
    /// Where the agent talks from unless a call says otherwise.
    default_mode: CallMode,
    /// The agent's Voice SDK client name: browser calls come `From=client:<browserIdentity>`.
    browser_identity: String,
}

impl From<&Agent> for Me {
    fn from(agent: &Agent) -> Self {
        Self {
            id: agent.id,
            email: agent.email.as_str().to_owned(),
            phone: agent.phone.as_ref().map(|p| p.as_str().to_owned()),
            phone_verified_at: agent.phone_verified_at.map(iso_millis),
            default_mode: agent.default_mode,
            browser_identity: ClientIdentity::for_agent(agent.id).as_str().to_owned(),
        }
    }
}
