//! IncomingPhoneNumbers: the numbers the account owns, listed, fetched and updated (where their
//! calls' TwiML comes from). Each number's SID is derived from its digits, so it is stable.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::apps::{method_param, url_param};
use super::voice::{formatted, json_sid, owns, valid_address};
use super::{ApiError, ApiResult, Req, method_not_allowed, page, reply};
use crate::clock::rfc2822;
use crate::state::Shared;

/// `IncomingPhoneNumbers/{Sid}.json`: fetch and update.
pub(super) fn route(shared: &Shared, req: &Req<'_>, file: &str) -> ApiResult {
    let sid = json_sid(file, req)?;
    let number = number_of(shared, sid).ok_or_else(|| ApiError::not_found(req.path))?;
    match *req.method {
        Method::GET => reply(StatusCode::OK, number_json(shared, &number)),
        Method::POST => {
            update(shared, req, &number)?;
            reply(StatusCode::OK, number_json(shared, &number))
        }
        _ => Err(method_not_allowed(req)),
    }
}

/// The owned number a SID names.
fn number_of(shared: &Shared, sid: &str) -> Option<String> {
    let digits = sid.strip_prefix("PN").filter(|d| d.len() == 32)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = format!("+{}", digits.trim_start_matches('0'));
    (valid_address(&number) && owns(shared, &number)).then_some(number)
}

/// Applies every parameter after validating them all, so that a refused update changes nothing.
fn update(shared: &Shared, req: &Req<'_>, number: &str) -> Result<(), ApiError> {
    let f = &req.form;
    let voice_url = url_param(f, "VoiceUrl")?;
    let voice_fallback_url = url_param(f, "VoiceFallbackUrl")?;
    let status_callback = url_param(f, "StatusCallback")?;
    let voice_method = method_param(f, "VoiceMethod")?;
    let voice_fallback_method = method_param(f, "VoiceFallbackMethod")?;
    let status_callback_method = method_param(f, "StatusCallbackMethod")?;
    let mut model = shared.model();
    let application = match f.get("VoiceApplicationSid").map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(app) if model.applications.contains_key(app) => Some(Some(app.to_owned())),
        Some(app) => {
            return Err(ApiError::bad_request(
                21218,
                format!("Invalid VoiceApplicationSid: {app}"),
            ));
        }
    };
    let now = shared.clock.now();
    let s = model.number_settings.entry(number.to_owned()).or_default();
    if let Some(name) = f.get("FriendlyName") {
        s.friendly_name = Some(name.to_owned()).filter(|n| !n.is_empty());
    }
    if let Some(url) = voice_url {
        s.voice_url = url;
    }
    if let Some(url) = voice_fallback_url {
        s.voice_fallback_url = url;
    }
    if let Some(url) = status_callback {
        s.status_callback = url;
    }
    if let Some(m) = voice_method {
        s.voice_method = m;
    }
    if let Some(m) = voice_fallback_method {
        s.voice_fallback_method = m;
    }
    if let Some(m) = status_callback_method {
        s.status_callback_method = m;
    }
    if let Some(app) = application {
        s.voice_application_sid = app;
    }
    s.date_updated = Some(now);
    Ok(())
}

pub(super) fn phone_number_sid(number: &str, shared: &Shared) -> Value {
    if valid_address(number) && number.starts_with('+') && owns(shared, number) {
        json!(number_sid(number))
    } else {
        Value::Null
    }
}

/// A stable SID per owned number.
fn number_sid(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    format!("PN{digits:0>32}")
}

pub(super) fn list(shared: &Shared, req: &Req<'_>) -> ApiResult {
    let q = &req.query;
    let filter = q
        .get("PhoneNumber")
        .map(|p| p.chars().filter(|c| c.is_ascii_digit()).collect::<String>());
    let asked_for = q
        .get("PhoneNumber")
        .filter(|n| n.starts_with('+') && valid_address(n));
    let numbers: Vec<String> = if shared.config.incoming_numbers.is_empty() {
        // Permissive: the account owns every number, so an exact question finds its number.
        asked_for.map(str::to_owned).into_iter().collect()
    } else {
        shared.config.incoming_numbers.clone()
    };
    let items = numbers
        .iter()
        .filter(|n| {
            filter.as_ref().is_none_or(|f| {
                n.chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
                    .contains(f.as_str())
            })
        })
        .filter(|n| {
            q.get("FriendlyName")
                .is_none_or(|f| friendly_name(shared, n) == f)
        })
        .map(|n| number_json(shared, n))
        .collect();
    reply(
        StatusCode::OK,
        page::classic(
            &format!("{}/IncomingPhoneNumbers.json", shared.account_path()),
            "incoming_phone_numbers",
            items,
            q,
        ),
    )
}

/// The name an update gave the number, else Twilio's formatting of it.
fn friendly_name(shared: &Shared, number: &str) -> String {
    shared
        .model()
        .number_settings
        .get(number)
        .and_then(|s| s.friendly_name.clone())
        .unwrap_or_else(|| formatted(number))
}

fn number_json(shared: &Shared, number: &str) -> Value {
    let sid = number_sid(number);
    let settings = shared
        .model()
        .number_settings
        .get(number)
        .cloned()
        .unwrap_or_default();
    let created = rfc2822(shared.clock.now());
    let updated = settings
        .date_updated
        .map_or_else(|| created.clone(), rfc2822);
    json!({
        "account_sid": shared.config.account_sid,
        "address_sid": Value::Null,
        "address_requirements": "none",
        "api_version": "2010-04-01",
        "beta": false,
        "capabilities": {"voice": true, "sms": true, "mms": true, "fax": false},
        "date_created": created,
        "date_updated": updated,
        "friendly_name": friendly_name(shared, number),
        "identity_sid": Value::Null,
        "phone_number": number,
        "origin": "twilio",
        "sid": sid,
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": "",
        "status_callback": settings.status_callback.unwrap_or_default(),
        "status_callback_method": settings.status_callback_method,
        "trunk_sid": Value::Null,
        "uri": format!("{}/IncomingPhoneNumbers/{sid}.json", shared.account_path()),
        "voice_receive_mode": "voice",
        "voice_application_sid": settings.voice_application_sid,
        "voice_caller_id_lookup": false,
        "voice_fallback_method": settings.voice_fallback_method,
        "voice_fallback_url": settings.voice_fallback_url,
        "voice_method": settings.voice_method,
        "voice_url": settings.voice_url,
        "emergency_status": "Inactive",
        "emergency_address_sid": Value::Null,
        "emergency_address_status": "unregistered",
        "bundle_sid": Value::Null,
        "status": "in-use",
        "type": "local",
    })
}
