//! Request fields, checked in the seed's order and with its messages.

use std::time::Duration;

use super::SetupError;
use crate::destinations::Use;
use crate::domain::ClientAddress;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::metrics::SMS_REFUSED;
use crate::ratelimit::{self, Limit};
use crate::state::AppState;

/// The one key of the SMS budget: a single window for the whole deployment.
const SMS_BUDGET_KEY: &str = "sms-budget:all";
const HOUR: Duration = Duration::from_secs(60 * 60);

/// The field's value, or [`SetupError::Invalid`] with `message` (the seed's "Email is
/// required" and the like) when it is missing or blank.
pub(super) fn required(value: Option<String>, message: &str) -> Result<String, SetupError> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SetupError::Invalid(message.to_owned()))
}

/// A well-formed email.
pub(super) fn email(raw: &str) -> Result<EmailAddress, SetupError> {
    EmailAddress::parse(raw).map_err(|e| SetupError::Invalid(format!("Invalid email format: {e}")))
}

/// Refused unless the email's domain is allowed or the email was invited. It looks the
/// invitation up, so it comes after the rate limits.
pub(super) async fn email_allowed(
    state: &AppState,
    email: &EmailAddress,
) -> Result<(), SetupError> {
    let settings = &state.settings;
    if settings.email_domain_allowed(email) || state.store.is_invited(email).await? {
        return Ok(());
    }
    Err(SetupError::DomainNotAllowed {
        allowed: settings.allowed_email_domains.clone(),
    })
}

/// A phone number in E.164.
pub(super) fn phone(raw: &str) -> Result<PhoneNumber, SetupError> {
    Ok(PhoneNumber::parse(raw)?)
}

/// A phone in E.164 that setup codes may be texted to (refused saying why otherwise).
pub(super) fn sms_phone(state: &AppState, raw: &str) -> Result<PhoneNumber, SetupError> {
    let phone = phone(raw)?;
    if let Err(why) = state.settings.sms_regions.check(&phone, Use::Sms) {
        metrics::counter!(SMS_REFUSED, "reason" => "destination").increment(1);
        return Err(SetupError::SmsRefused { phone, why });
    }
    Ok(phone)
}

/// One SMS out of the hourly budget every instance shares (`SMS_PER_HOUR`), taken last, right
/// before the code is sent, so that refused requests spend none of it.
pub(super) async fn sms_budget(state: &AppState) -> Result<(), SetupError> {
    let per_hour = state.settings.sms_per_hour;
    match ratelimit::check(state, SMS_BUDGET_KEY, per_hour, HOUR)
        .await
        .map_err(SetupError::from)
    {
        Err(SetupError::RateLimited { retry_after_secs }) => {
            metrics::counter!(SMS_REFUSED, "reason" => "budget").increment(1);
            tracing::warn!(
                per_hour,
                retry_after_secs,
                "SMS budget spent: setup codes are refused until the hour is over (SMS_PER_HOUR)"
            );
            Err(SetupError::RateLimited { retry_after_secs })
        }
        other => other,
    }
}

/// One code sent: counted per client, then per address.
pub(super) async fn limit_send(
    state: &AppState,
    ip: ClientAddress,
    addresses: &[&str],
) -> Result<(), SetupError> {
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
    ip: ClientAddress,
    addresses: &[&str],
) -> Result<(), SetupError> {
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
    ip: ClientAddress,
    addresses: &[&str],
    per_ip: Limit,
    per_address: Limit,
) -> Result<(), SetupError> {
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
}
