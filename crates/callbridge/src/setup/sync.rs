//! The seed kept verified emails in Twilio Sync; with `SYNC_SERVICE_SID` set we mirror them the
//! same way, so tools built on those documents keep working.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use twilio::{CreateDocument, ErrorCode, UpdateDocument};

use super::SetupError;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::state::AppState;

/// What mirroring did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mirrored {
    /// Sync is not configured.
    Off,
    Created,
    /// The document existed (the email was verified before) and was updated: where the seed
    /// failed, validating an email twice works.
    Updated,
}

/// The seed's document name: `verified_email_` and the email in standard base64.
pub(super) fn unique_name(email: &EmailAddress) -> String {
    format!("verified_email_{}", STANDARD.encode(email.as_str()))
}

/// Writes `{email, verifiedAt}` (and the phone, once verified) to the email's document.
pub(super) async fn mirror(
    state: &AppState,
    email: &EmailAddress,
    verified_at: &str,
    phone: Option<&PhoneNumber>,
) -> Result<Mirrored, SetupError> {
    let Some(service) = state.settings.twilio.sync_service_sid.as_deref() else {
        return Ok(Mirrored::Off);
    };
    let mut data = json!({"email": email.as_str(), "verifiedAt": verified_at});
    if let Some(phone) = phone {
        data["phone"] = json!(phone.as_str());
    }
    let name = unique_name(email);
    let create = CreateDocument {
        unique_name: Some(name.clone()),
        data: Some(data.clone()),
        ttl: None,
    };
    match state.twilio.create_document(service, &create).await {
        Ok(_) => Ok(Mirrored::Created),
        Err(e) if e.known_code() == Some(ErrorCode::SyncUniqueNameExists) => {
            let update = UpdateDocument {
                data: Some(data),
                ttl: None,
            };
            state
                .twilio
                .update_document(service, &name, &update)
                .await
                .map(|_| Mirrored::Updated)
                .map_err(|e| failed(&e))
        }
        Err(e) => Err(failed(&e)),
    }
}

fn failed(err: &twilio::Error) -> SetupError {
    SetupError::Twilio {
        message: format!("Could not save the verified email to Twilio Sync: {err}"),
        twilio_code: err.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_the_seeds() {
        let email = EmailAddress::parse("user@twilio.com").unwrap();
        // Buffer.from("user@twilio.com").toString("base64") in the seed.
        assert_eq!(unique_name(&email), "verified_email_dXNlckB0d2lsaW8uY29t");
    }
}
