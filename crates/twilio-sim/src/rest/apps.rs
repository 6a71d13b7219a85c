//! The 2010-04-01 account resources browser calling needs: Applications (TwiML Apps) and Keys.

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use super::voice::{json_sid, valid_url};
use super::{ApiError, ApiResult, Form, Req, method_not_allowed, page, reply};
use crate::clock::rfc2822;
use crate::model::{ApplicationRec, KeyRec};
use crate::state::Shared;

/// Twilio's limit of applications per account.
const MAX_APPLICATIONS: usize = 1000;

pub(super) fn route(shared: &Shared, req: &Req<'_>, rest: &[&str]) -> ApiResult {
    let m = req.method;
    match rest {
        ["Applications.json"] => match *m {
            Method::GET => list_applications(shared, req),
            Method::POST => create_application(shared, req),
            _ => Err(method_not_allowed(req)),
        },
        ["Applications", file] => {
            let sid = json_sid(file, req)?;
            match *m {
                Method::GET => fetch_application(shared, req, sid),
                Method::POST => update_application(shared, req, sid),
                Method::DELETE => delete_application(shared, req, sid),
                _ => Err(method_not_allowed(req)),
            }
        }
        ["Keys.json"] => match *m {
            Method::GET => list_keys(shared, req),
            Method::POST => create_key(shared, req),
            _ => Err(method_not_allowed(req)),
        },
        ["Keys", file] => {
            let sid = json_sid(file, req)?;
            match *m {
                Method::GET => fetch_key(shared, req, sid),
                Method::POST => update_key(shared, req, sid),
                Method::DELETE => delete_key(shared, req, sid),
                _ => Err(method_not_allowed(req)),
            }
        }
        _ => Err(ApiError::not_found(req.path)),
    }
}

// ---- applications ----

/// A `…Url` parameter: `Some(None)` when given empty, which clears it.
pub(super) fn url_param(f: &Form, key: &str) -> Result<Option<Option<String>>, ApiError> {
    let Some(v) = f.get(key) else {
        return Ok(None);
    };
    let v = v.trim();
    if v.is_empty() {
        return Ok(Some(None));
    }
    if !valid_url(v) {
        return Err(ApiError::bad_request(
            21502,
            format!("{key} is not a valid URL: {v}"),
        ));
    }
    Ok(Some(Some(v.to_owned())))
}

pub(super) fn method_param(f: &Form, key: &str) -> Result<Option<String>, ApiError> {
    match f.get(key) {
        None => Ok(None),
        Some(m) if m.eq_ignore_ascii_case("GET") => Ok(Some("GET".to_owned())),
        Some(m) if m.eq_ignore_ascii_case("POST") => Ok(Some("POST".to_owned())),
        Some(m) => Err(ApiError::bad_request(
            20001,
            format!("Invalid {key}: {m} must be GET or POST"),
        )),
    }
}

/// Applies every parameter of a create or update, after validating them all, so that a refused
/// update changes nothing.
fn apply(f: &Form, app: &mut ApplicationRec) -> Result<(), ApiError> {
    let urls = [
        ("VoiceUrl", url_param(f, "VoiceUrl")?),
        ("VoiceFallbackUrl", url_param(f, "VoiceFallbackUrl")?),
        ("StatusCallback", url_param(f, "StatusCallback")?),
        ("SmsUrl", url_param(f, "SmsUrl")?),
        ("SmsFallbackUrl", url_param(f, "SmsFallbackUrl")?),
        ("SmsStatusCallback", url_param(f, "SmsStatusCallback")?),
        (
            "MessageStatusCallback",
            url_param(f, "MessageStatusCallback")?,
        ),
    ];
    let methods = [
        ("VoiceMethod", method_param(f, "VoiceMethod")?),
        (
            "VoiceFallbackMethod",
            method_param(f, "VoiceFallbackMethod")?,
        ),
        (
            "StatusCallbackMethod",
            method_param(f, "StatusCallbackMethod")?,
        ),
        ("SmsMethod", method_param(f, "SmsMethod")?),
        ("SmsFallbackMethod", method_param(f, "SmsFallbackMethod")?),
    ];
    let lookup = f.bool("VoiceCallerIdLookup")?;
    let connect = f.bool("PublicApplicationConnectEnabled")?;
    for (key, value) in urls {
        let Some(value) = value else { continue };
        let slot = match key {
            "VoiceUrl" => &mut app.voice_url,
            "VoiceFallbackUrl" => &mut app.voice_fallback_url,
            "StatusCallback" => &mut app.status_callback,
            "SmsUrl" => &mut app.sms_url,
            "SmsFallbackUrl" => &mut app.sms_fallback_url,
            "SmsStatusCallback" => &mut app.sms_status_callback,
            _ => &mut app.message_status_callback,
        };
        *slot = value;
    }
    for (key, value) in methods {
        let Some(value) = value else { continue };
        let slot = match key {
            "VoiceMethod" => &mut app.voice_method,
            "VoiceFallbackMethod" => &mut app.voice_fallback_method,
            "StatusCallbackMethod" => &mut app.status_callback_method,
            "SmsMethod" => &mut app.sms_method,
            _ => &mut app.sms_fallback_method,
        };
        *slot = value;
    }
    if let Some(v) = lookup {
        app.voice_caller_id_lookup = v;
    }
    if let Some(v) = connect {
        app.public_application_connect_enabled = v;
    }
    if let Some(name) = f.get("FriendlyName") {
        app.friendly_name = Some(name.to_owned());
    }
    if let Some(v) = f.non_empty("ApiVersion") {
        app.api_version = v;
    }
    Ok(())
}

fn create_application(shared: &Shared, req: &Req<'_>) -> ApiResult {
    let now = shared.clock.now();
    let mut app = ApplicationRec {
        sid: crate::sid::new_sid("AP"),
        api_version: "2010-04-01".to_owned(),
        voice_method: "POST".to_owned(),
        voice_fallback_method: "POST".to_owned(),
        status_callback_method: "POST".to_owned(),
        sms_method: "POST".to_owned(),
        sms_fallback_method: "POST".to_owned(),
        date_created: now,
        date_updated: now,
        ..ApplicationRec::default()
    };
    apply(&req.form, &mut app)?;
    let mut model = shared.model();
    if model.applications.len() >= MAX_APPLICATIONS {
        return Err(ApiError::bad_request(
            20001,
            format!("An account may have at most {MAX_APPLICATIONS} applications"),
        ));
    }
    let body = application_json(shared, &app);
    model.application_order.push(app.sid.clone());
    model.applications.insert(app.sid.clone(), app);
    reply(StatusCode::CREATED, body)
}

fn fetch_application(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let model = shared.model();
    let app = model
        .applications
        .get(sid)
        .ok_or_else(|| ApiError::not_found(req.path))?;
    reply(StatusCode::OK, application_json(shared, app))
}

fn list_applications(shared: &Shared, req: &Req<'_>) -> ApiResult {
    let q = &req.query;
    let model = shared.model();
    let items = model
        .application_order
        .iter()
        .rev()
        .filter_map(|sid| model.applications.get(sid))
        .filter(|a| {
            q.get("FriendlyName")
                .is_none_or(|v| a.friendly_name.as_deref() == Some(v))
        })
        .map(|a| application_json(shared, a))
        .collect();
    reply(
        StatusCode::OK,
        page::classic(
            &format!("{}/Applications.json", shared.account_path()),
            "applications",
            items,
            q,
        ),
    )
}

fn update_application(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let mut model = shared.model();
    let app = model
        .applications
        .get_mut(sid)
        .ok_or_else(|| ApiError::not_found(req.path))?;
    let mut updated = app.clone();
    apply(&req.form, &mut updated)?;
    updated.date_updated = shared.clock.now();
    *app = updated;
    reply(StatusCode::OK, application_json(shared, app))
}

fn delete_application(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let mut model = shared.model();
    if model.applications.remove(sid).is_none() {
        return Err(ApiError::not_found(req.path));
    }
    model.application_order.retain(|s| s != sid);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn application_json(shared: &Shared, a: &ApplicationRec) -> Value {
    let text = |v: &Option<String>| json!(v.clone().unwrap_or_default());
    json!({
        "account_sid": shared.config.account_sid,
        "api_version": a.api_version,
        "date_created": rfc2822(a.date_created),
        "date_updated": rfc2822(a.date_updated),
        "friendly_name": a.friendly_name,
        "message_status_callback": text(&a.message_status_callback),
        "sid": a.sid,
        "sms_fallback_method": a.sms_fallback_method,
        "sms_fallback_url": text(&a.sms_fallback_url),
        "sms_method": a.sms_method,
        "sms_status_callback": text(&a.sms_status_callback),
        "sms_url": text(&a.sms_url),
        "status_callback": text(&a.status_callback),
        "status_callback_method": a.status_callback_method,
        "uri": format!("{}/Applications/{}.json", shared.account_path(), a.sid),
        "voice_caller_id_lookup": a.voice_caller_id_lookup,
        "voice_fallback_method": a.voice_fallback_method,
        "voice_fallback_url": text(&a.voice_fallback_url),
        "voice_method": a.voice_method,
        "voice_url": text(&a.voice_url),
        "public_application_connect_enabled": a.public_application_connect_enabled,
    })
}

// ---- keys ----

fn new_secret() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

fn key_json(k: &KeyRec) -> Value {
    json!({
        "sid": k.sid,
        "friendly_name": k.friendly_name,
        "date_created": rfc2822(k.date_created),
        "date_updated": rfc2822(k.date_updated),
    })
}

fn create_key(shared: &Shared, req: &Req<'_>) -> ApiResult {
    let now = shared.clock.now();
    let key = KeyRec {
        sid: crate::sid::new_sid("SK"),
        friendly_name: req.form.get("FriendlyName").map(str::to_owned),
        secret: new_secret(),
        date_created: now,
        date_updated: now,
    };
    // The secret is told once, on creation; Twilio cannot tell it again.
    let mut body = key_json(&key);
    body["secret"] = json!(key.secret);
    let mut model = shared.model();
    model.key_order.push(key.sid.clone());
    model.keys.insert(key.sid.clone(), key);
    reply(StatusCode::CREATED, body)
}

fn fetch_key(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let model = shared.model();
    let key = model
        .keys
        .get(sid)
        .ok_or_else(|| ApiError::not_found(req.path))?;
    reply(StatusCode::OK, key_json(key))
}

fn list_keys(shared: &Shared, req: &Req<'_>) -> ApiResult {
    let model = shared.model();
    let items = model
        .key_order
        .iter()
        .rev()
        .filter_map(|sid| model.keys.get(sid))
        .map(key_json)
        .collect();
    reply(
        StatusCode::OK,
        page::classic(
            &format!("{}/Keys.json", shared.account_path()),
            "keys",
            items,
            &req.query,
        ),
    )
}

fn update_key(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let mut model = shared.model();
    let key = model
        .keys
        .get_mut(sid)
        .ok_or_else(|| ApiError::not_found(req.path))?;
    if let Some(name) = req.form.get("FriendlyName") {
        key.friendly_name = Some(name.to_owned());
    }
    key.date_updated = shared.clock.now();
    reply(StatusCode::OK, key_json(key))
}

fn delete_key(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let mut model = shared.model();
    if model.keys.remove(sid).is_none() {
        return Err(ApiError::not_found(req.path));
    }
    model.key_order.retain(|s| s != sid);
    Ok(StatusCode::NO_CONTENT.into_response())
}
