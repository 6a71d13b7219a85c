//! Why a token was refused or could not be made, in words a caller can be shown: each variant's
//! text is the message its HTTP answer carries (`http/error.rs` decides the status).

use crate::domain::AgentId;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "Call token has expired: verify your phone again (/setup/phone/validate) for a new one"
    )]
    CallTokenExpired,
    /// Signed by us, but for another purpose (a setup token, most likely).
    #[error(
        "This is not a call token: use data.token from /setup/phone/validate or /setup/validate"
    )]
    NotACallToken,
    #[error("Invalid call token")]
    InvalidCallToken,
    #[error("Call token's agent does not exist")]
    NoSuchAgent,
    /// The agent was revoked, or their token version moved on since the token was issued.
    #[error(
        "Call token has been revoked: verify your phone again (/setup/phone/validate) for a new one"
    )]
    Revoked,
    #[error(
        "Call token is for a phone this agent no longer uses: use the token from the latest \
         phone verification"
    )]
    PhoneChanged,
    #[error("This agent's phone is not verified: verify it at /setup/phone/init")]
    PhoneNotVerified,
    #[error("Setup token has expired: verify the email again at /setup/email/validate")]
    SetupTokenExpired,
    #[error("This is not a setup token: pass data.token from /setup/email/validate")]
    NotASetupToken,
    #[error("Invalid setup token: pass data.token from /setup/email/validate")]
    InvalidSetupToken,
    #[error("Invalid setup token: it names no email")]
    SetupTokenNamesNoEmail,
    /// A call token asked for an agent who has none to have: a bug of the caller's.
    #[error("call token asked for agent {0} without a verified phone")]
    NoVerifiedPhone(AgentId),
    #[error("cannot sign a token: {0}")]
    Signing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// The token itself is refused (as opposed to our failing to check or make one): the
    /// answer holds until the client gets a new token.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            Self::NoVerifiedPhone(_) | Self::Signing(_) | Self::Store(_)
        )
    }
}
