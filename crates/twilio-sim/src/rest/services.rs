//! The Verify v2 and Sync v1 Service resources a set-up creates: Verify Services create, fetch
//! and list, Sync Services create and list. Verifications and Documents accept any well-formed service SID,
//! created here or not, so that an application configured with one works at once.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Req, method_not_allowed, page, reply};
use crate::clock::iso8601;
use crate::model::ServiceRec;
use crate::state::Shared;

/// The length of a Verify code when its service does not say (or was never created here).
pub(crate) const DEFAULT_CODE_LENGTH: u32 = 6;

/// The services of one product (`VA` or `IS`), oldest first, as the list endpoints page them.
fn listed(shared: &Shared, prefix: &str, json: fn(&Shared, &ServiceRec) -> Value) -> Vec<Value> {
    let mut services: Vec<ServiceRec> = shared
        .model()
        .services
        .values()
        .filter(|s| s.sid.starts_with(prefix))
        .cloned()
        .collect();
    services.sort_by(|a, b| (a.date_created, &a.sid).cmp(&(b.date_created, &b.sid)));
    services.iter().map(|s| json(shared, s)).collect()
}

/// `/v2/Services`.
pub(super) fn verify_collection(shared: &Shared, req: &Req<'_>) -> ApiResult {
    if *req.method == Method::GET {
        let items = listed(shared, "VA", verify_json);
        let url = shared.absolute("/v2/Services");
        return reply(
            StatusCode::OK,
            page::meta(&url, "services", items, &req.query),
        );
    }
    if *req.method != Method::POST {
        return Err(method_not_allowed(req));
    }
    let f = &req.form;
    let name = f.non_empty("FriendlyName").ok_or_else(|| {
        ApiError::bad_request(
            20001,
            "Missing required parameter FriendlyName in the post body",
        )
    })?;
    let code_length = match f.uint("CodeLength")? {
        None => DEFAULT_CODE_LENGTH,
        Some(n @ 4..=10) => n as u32,
        Some(n) => {
            return Err(ApiError::bad_request(
                60200,
                format!("Invalid parameter CodeLength: {n} is not between 4 and 10"),
            ));
        }
    };
    let service = create(shared, "VA", Some(name), code_length);
    reply(StatusCode::CREATED, verify_json(shared, &service))
}

/// `/v2/Services/{Sid}`.
pub(super) fn verify_instance(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    if *req.method != Method::GET {
        return Err(method_not_allowed(req));
    }
    let service = shared
        .model()
        .services
        .get(sid)
        .cloned()
        .ok_or_else(|| ApiError::not_found(req.path))?;
    reply(StatusCode::OK, verify_json(shared, &service))
}

/// `/v1/Services`.
pub(super) fn sync_collection(shared: &Shared, req: &Req<'_>) -> ApiResult {
    if *req.method == Method::GET {
        let items = listed(shared, "IS", sync_json);
        let url = shared.absolute("/v1/Services");
        return reply(
            StatusCode::OK,
            page::meta(&url, "services", items, &req.query),
        );
    }
    if *req.method != Method::POST {
        return Err(method_not_allowed(req));
    }
    let name = req.form.non_empty("FriendlyName");
    let service = create(shared, "IS", name, DEFAULT_CODE_LENGTH);
    reply(StatusCode::CREATED, sync_json(shared, &service))
}

/// How many digits a Verify service's codes have.
pub(crate) fn code_length(shared: &Shared, sid: &str) -> u32 {
    shared
        .model()
        .services
        .get(sid)
        .map_or(DEFAULT_CODE_LENGTH, |s| s.code_length)
}

fn create(shared: &Shared, prefix: &str, name: Option<String>, code_length: u32) -> ServiceRec {
    let now = shared.clock.now();
    let service = ServiceRec {
        sid: crate::sid::new_sid(prefix),
        friendly_name: name,
        code_length,
        date_created: now,
    };
    shared
        .model()
        .services
        .insert(service.sid.clone(), service.clone());
    service
}

fn verify_json(shared: &Shared, s: &ServiceRec) -> Value {
    let url = shared.absolute(&format!("/v2/Services/{}", s.sid));
    let link = |r: &str| format!("{url}/{r}");
    json!({
        "sid": s.sid,
        "account_sid": shared.config.account_sid,
        "friendly_name": s.friendly_name,
        "code_length": s.code_length,
        "lookup_enabled": false,
        "psd2_enabled": false,
        "skip_sms_to_landlines": false,
        "dtmf_input_required": true,
        "tts_name": Value::Null,
        "do_not_share_warning_enabled": false,
        "custom_code_enabled": true,
        "push": {"include_date": false, "apn_credential_sid": null, "fcm_credential_sid": null},
        "totp": {"issuer": null, "time_step": 30, "code_length": 6, "skew": 1},
        "default_template_sid": Value::Null,
        "whatsapp": {"msg_service_sid": null, "from": null},
        "verify_event_subscription_enabled": false,
        "date_created": iso8601(s.date_created),
        "date_updated": iso8601(s.date_created),
        "url": url,
        "links": {
            "verification_checks": link("VerificationCheck"),
            "verifications": link("Verifications"),
            "rate_limits": link("RateLimits"),
            "messaging_configurations": link("MessagingConfigurations"),
            "entities": link("Entities"),
            "webhooks": link("Webhooks"),
            "access_tokens": link("AccessTokens"),
        },
    })
}

fn sync_json(shared: &Shared, s: &ServiceRec) -> Value {
    let url = shared.absolute(&format!("/v1/Services/{}", s.sid));
    let link = |r: &str| format!("{url}/{r}");
    json!({
        "sid": s.sid,
        "unique_name": Value::Null,
        "account_sid": shared.config.account_sid,
        "friendly_name": s.friendly_name,
        "date_created": iso8601(s.date_created),
        "date_updated": iso8601(s.date_created),
        "url": url,
        "webhook_url": Value::Null,
        "webhooks_from_rest_enabled": false,
        "reachability_webhooks_enabled": false,
        "acl_enabled": false,
        "reachability_debouncing_enabled": false,
        "reachability_debouncing_window": 5000,
        "links": {
            "documents": link("Documents"),
            "lists": link("Lists"),
            "maps": link("Maps"),
            "streams": link("Streams"),
        },
    })
}
