//! Request fields, checked in the seed's order and with its messages.

use std::time::Duration;

use crate::destinations::Use;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::http::{ApiError, ClientIp};
use crate::metrics::SMS_REFUSED;
use crate::ratelimit::{self, Limit};
use crate::state::AppState;

/// The one key of the SMS budget: a single window for the whole deployment.
const SMS_BUDGET_KEY: &str = "sms-budget:all";
const HOUR: Duration = Duration::from_secs(60 * 60);

/// The field's value, or 400 with `message` (the seed's "Email is required" and the like) when it
/// is missing or blank.
pub(super) fn required(value: Option<String>, message: &str) -> Result<String, ApiError> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::BadRequest(message.to_owned()))
}

/// A well-formed email (400 otherwise).
pub(super) fn email(raw: &str) -> Result<EmailAddress, ApiError> {
    EmailAddress::parse(raw).map_err(|e| ApiError::BadRequest(format!("Invalid email format: {e}")))
}

/// 422 unless the email's domain is allowed or the email was invited. It looks the invitation
/// up, so it comes after the rate limits.
pub(super) async fn email_allowed(state: &AppState, email: &EmailAddress) -> Result<(), ApiError> {
    let settings = &state.settings;
    if settings.email_domain_allowed(email) || state.store.is_invited(email).await? {
        return Ok(());
    }
    Err(ApiError::Unprocessable(domain_refusal(
        &settings.allowed_email_domains,
    )))
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

/// A phone in E.164 (400) that setup codes may be texted to (422, saying why).
pub(super) fn sms_phone(state: &AppState, raw: &str) -> Result<PhoneNumber, ApiError> {
    let phone = phone(raw)?;
    if let Err(why) = state.settings.sms_regions.check(&phone, Use::Sms) {
        metrics::counter!(SMS_REFUSED, "reason" => "destination").increment(1);
        return Err(ApiError::Unprocessable(format!(
            "{phone} cannot receive a setup code: {why}"
        )));
    }
    Ok(phone)
}

/// One SMS out of the hourly budget every instance shares (`SMS_PER_HOUR`), taken last, right
/// before the code is sent, so that refused requests spend none of it.
pub(super) async fn sms_budget(state: &AppState) -> Result<(), ApiError> {
    let per_hour = state.settings.sms_per_hour;
    match ratelimit::check(state, SMS_BUDGET_KEY, per_hour, HOUR)
        .await
        .map_err(ApiError::from)
    {
        Err(ApiError::RateLimited { retry_after_secs }) => {
            metrics::counter!(SMS_REFUSED, "reason" => "budget").increment(1);
            tracing::warn!(
                per_hour,
                retry_after_secs,
                "SMS budget spent: setup codes are refused until the hour is over (SMS_PER_HOUR)"
            );
            Err(ApiError::RateLimited { retry_after_secs })
        }
        other => other,
    }
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
