//! Request fields, checked in the seed's order and with its messages.

use crate::config::Settings;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::http::{ApiError, ClientIp};
use crate::ratelimit::{self, Limit};
use crate::state::AppState;

/// The field's value, or 400 with `message` (the seed's "Email is required" and the like) when it
/// is missing or blank.
pub(super) fn required(value: Option<String>, message: &str) -> Result<String, ApiError> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::BadRequest(message.to_owned()))
}

/// A well-formed email (400) from an allowed domain (422).
pub(super) fn email(settings: &Settings, raw: &str) -> Result<EmailAddress, ApiError> {
    let email = EmailAddress::parse(raw)
        .map_err(|e| ApiError::BadRequest(format!("Invalid email format: {e}")))?;
    if !settings.email_domain_allowed(&email) {
        return Err(ApiError::Unprocessable(domain_refusal(
            &settings.allowed_email_domains,
        )));
    }
    Ok(email)
}

fn domain_refusal(allowed: &[String]) -> String {
    match allowed {
        [one] => format!("Email must be from @{one} domain"),
        many => format!(
            "Email must be from one of these domains: {}",
            many.iter()
                .map(|d| format!("@{d}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A phone number in E.164 (400 otherwise).
pub(super) fn phone(raw: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(raw).map_err(ApiError::from)
}

/// One code sent: counted per client, then per address.
pub(super) async fn limit_send(
    state: &AppState,
    ip: ClientIp,
    addresses: &[&str],
) -> Result<(), ApiError> {
    limit(
        state,
        ip,
        addresses,
        ratelimit::OTP_SENDS_PER_IP,
        ratelimit::OTP_SENDS_PER_ADDRESS,
    )
    .await
}

/// One code checked: counted per client, then per address.
pub(super) async fn limit_check(
    state: &AppState,
    ip: ClientIp,
    addresses: &[&str],
) -> Result<(), ApiError> {
    limit(
        state,
        ip,
        addresses,
        ratelimit::OTP_CHECKS_PER_IP,
        ratelimit::OTP_CHECKS_PER_ADDRESS,
    )
    .await
}

async fn limit(
    state: &AppState,
    ip: ClientIp,
    addresses: &[&str],
    per_ip: Limit,
    per_address: Limit,
) -> Result<(), ApiError> {
    ratelimit::check_limit(state, per_ip, &ip.label()).await?;
    for address in addresses {
        ratelimit::check_limit(state, per_address, address).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_fields_count_as_missing() {
        assert!(required(None, "Email is required").is_err());
        let err = required(Some("  ".into()), "Email is required").unwrap_err();
        assert_eq!(err.to_string(), "Email is required");
        assert_eq!(required(Some(" a ".into()), "x").unwrap(), "a");
    }

    #[test]
    fn the_domain_refusal_reads_like_the_seed() {
        assert_eq!(
            domain_refusal(&["twilio.com".into()]),
            "Email must be from @twilio.com domain"
        );
        assert_eq!(
            domain_refusal(&["a.com".into(), "b.org".into()]),
            "Email must be from one of these domains: @a.com, @b.org"
        );
    }
}
