//! Verify v2: `/v2/Services/{ServiceSid}/Verifications` and `/VerificationCheck`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Client, Error,
    client::Product,
    form::{Form, ToForm},
};

/// How the code is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyChannel {
    /// Text message.
    Sms,
    /// Voice call reading the code.
    Call,
    /// Email.
    Email,
    /// WhatsApp.
    Whatsapp,
    /// Silent network authentication.
    Sna,
    /// A channel this client does not know yet.
    #[serde(other)]
    Unknown,
}

impl fmt::Display for VerifyChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sms => "sms",
            Self::Call => "call",
            Self::Email => "email",
            Self::Whatsapp => "whatsapp",
            Self::Sna => "sna",
            Self::Unknown => "unknown",
        })
    }
}

/// A verification's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Code sent, not yet checked correctly.
    Pending,
    /// The right code was checked.
    Approved,
    /// Canceled.
    Canceled,
    /// Too many wrong checks.
    MaxAttemptsReached,
    /// Deleted.
    Deleted,
    /// Failed.
    Failed,
    /// Expired (10 minutes).
    Expired,
    /// A status this client does not know yet.
    #[serde(other)]
    Unknown,
}

/// `POST /v2/Services/{ServiceSid}/Verifications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateVerification {
    /// Phone number (E.164) or email address.
    pub to: String,
    /// Delivery channel.
    pub channel: VerifyChannel,
}

impl ToForm for CreateVerification {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.set("To", &self.to)
            .set("Channel", self.channel.to_string());
        form
    }
}

/// `POST /v2/Services/{ServiceSid}/VerificationCheck`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckVerification {
    /// The address the code was sent to.
    pub to: String,
    /// The code the person typed.
    pub code: String,
}

impl ToForm for CheckVerification {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.set("To", &self.to).set("Code", &self.code);
        form
    }
}

/// The Verification resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// `VE…`.
    pub sid: String,
    /// The Verify service.
    #[serde(default)]
    pub service_sid: Option<String>,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// Where the code went.
    #[serde(default)]
    pub to: Option<String>,
    /// How.
    #[serde(default)]
    pub channel: Option<VerifyChannel>,
    /// Current status.
    #[serde(default)]
    pub status: Option<VerificationStatus>,
    /// Whether the code was approved.
    #[serde(default)]
    pub valid: Option<bool>,
    /// Carrier lookup information.
    #[serde(default)]
    pub lookup: Option<serde_json::Value>,
    /// PSD2 amount.
    #[serde(default)]
    pub amount: Option<String>,
    /// PSD2 payee.
    #[serde(default)]
    pub payee: Option<String>,
    /// Each send attempt.
    #[serde(default)]
    pub send_code_attempts: Option<Vec<serde_json::Value>>,
    /// When created.
    #[serde(default)]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default)]
    pub date_updated: Option<DateTime<Utc>>,
    /// Silent network authentication details.
    #[serde(default)]
    pub sna: Option<serde_json::Value>,
    /// This resource's URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// The VerificationCheck resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationCheck {
    /// The verification checked (`VE…`).
    pub sid: String,
    /// The Verify service.
    #[serde(default)]
    pub service_sid: Option<String>,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// Where the code went.
    #[serde(default)]
    pub to: Option<String>,
    /// How.
    #[serde(default)]
    pub channel: Option<VerifyChannel>,
    /// `approved` when the code was right, `pending` when not.
    #[serde(default)]
    pub status: Option<VerificationStatus>,
    /// Whether the code was right.
    #[serde(default)]
    pub valid: Option<bool>,
    /// PSD2 amount.
    #[serde(default)]
    pub amount: Option<String>,
    /// PSD2 payee.
    #[serde(default)]
    pub payee: Option<String>,
    /// When created.
    #[serde(default)]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default)]
    pub date_updated: Option<DateTime<Utc>>,
    /// Silent network authentication errors.
    #[serde(default)]
    pub sna_attempts_error_codes: Option<Vec<serde_json::Value>>,
}

impl VerificationCheck {
    /// Whether the code was accepted.
    pub fn is_approved(&self) -> bool {
        self.status == Some(VerificationStatus::Approved)
    }
}

impl Client {
    /// A POST to `v2/Services/{service}/{resource}`, the shape of every Verify request we make.
    async fn post_to_verify_service<T: serde::de::DeserializeOwned>(
        &self,
        service_sid: &str,
        resource: &str,
        params: &impl ToForm,
    ) -> Result<T, Error> {
        let url = self.url(Product::Verify, &["v2", "Services", service_sid, resource]);
        self.post(url, &params.to_form()).await
    }

    /// Sends a one-time code.
    pub async fn create_verification(
        &self,
        service_sid: &str,
        params: &CreateVerification,
    ) -> Result<Verification, Error> {
        self.post_to_verify_service(service_sid, "Verifications", params)
            .await
    }

    /// Checks a code. A wrong code is not an error: the answer's status stays `pending`.
    pub async fn check_verification(
        &self,
        service_sid: &str,
        params: &CheckVerification,
    ) -> Result<VerificationCheck, Error> {
        self.post_to_verify_service(service_sid, "VerificationCheck", params)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_requests() {
        let create = CreateVerification {
            to: "agent@example.com".to_owned(),
            channel: VerifyChannel::Email,
        };
        assert_eq!(
            create.to_form().encode(),
            "To=agent%40example.com&Channel=email"
        );
        let check = CheckVerification {
            to: "+15551230000".to_owned(),
            code: "123456".to_owned(),
        };
        assert_eq!(check.to_form().encode(), "To=%2B15551230000&Code=123456");
    }

    #[test]
    fn decodes_the_openapi_examples() {
        let verification: Verification =
            serde_json::from_str(include_str!("../../fixtures/verification.json")).unwrap();
        assert_eq!(verification.status, Some(VerificationStatus::Pending));
        assert_eq!(verification.channel, Some(VerifyChannel::Sms));
        assert_eq!(
            verification.date_created.unwrap().to_rfc3339(),
            "2015-07-30T20:00:00+00:00"
        );
        let check: VerificationCheck =
            serde_json::from_str(include_str!("../../fixtures/verification_check.json")).unwrap();
        assert!(check.is_approved());
        assert_eq!(check.valid, Some(true));
    }
}
