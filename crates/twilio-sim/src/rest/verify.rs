//! Verify v2: Verifications and VerificationCheck, with Twilio's limits: a code lives 10 minutes, five
//! wrong checks lock the verification (60202), more than five sends to one address in 10 minutes are
//! refused (60203).

use axum::http::{Method, StatusCode};
use chrono::Duration;
use rand::Rng as _;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Req, method_not_allowed, reply};
use crate::clock::iso8601;
use crate::model::{Model, VerificationRec};
use crate::state::{Shared, SimEvent};

const LIFETIME_MIN: i64 = 10;
const MAX_CHECKS: u32 = 5;
const MAX_SENDS: usize = 5;
const CHANNELS: [&str; 4] = ["sms", "call", "email", "whatsapp"];

pub(super) fn route(shared: &Shared, req: &Req<'_>, service: &str, rest: &[&str]) -> ApiResult {
    match (rest, req.method) {
        (["Verifications"], &Method::POST) => create(shared, req, service),
        (["Verifications", sid], &Method::GET) => fetch(shared, req, service, sid),
        (["Verifications", sid], &Method::POST) => update(shared, req, service, sid),
        (["VerificationCheck"], &Method::POST) => check(shared, req, service),
        (["Verifications"] | ["Verifications", _] | ["VerificationCheck"], _) => {
            Err(method_not_allowed(req))
        }
        _ => Err(ApiError::not_found(req.path)),
    }
}

fn invalid(param: &str) -> ApiError {
    ApiError::bad_request(60200, format!("Invalid parameter: {param}"))
}

fn expire(shared: &Shared, model: &mut Model) {
    let cutoff = shared.clock.now() - Duration::minutes(LIFETIME_MIN);
    for v in &mut model.verifications {
        if matches!(v.status, "pending" | "max_attempts_reached") && v.date_created < cutoff {
            v.status = "expired";
        }
    }
}

fn create(shared: &Shared, req: &Req<'_>, service: &str) -> ApiResult {
    let f = &req.form;
    let to = f.non_empty("To").ok_or_else(|| invalid("To"))?;
    let channel = f.non_empty("Channel").ok_or_else(|| invalid("Channel"))?;
    if !CHANNELS.contains(&channel.as_str()) {
        return Err(invalid("Channel"));
    }
    let address_ok = if channel == "email" {
        to.split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
    } else {
        super::voice::valid_address(&to) && to.starts_with('+')
    };
    if !address_ok {
        return Err(invalid("To"));
    }
    let digits = super::services::code_length(shared, service);
    let now = shared.clock.now();
    let mut model = shared.model();
    expire(shared, &mut model);
    let window_start = now - Duration::minutes(LIFETIME_MIN);
    let recent_sends: usize = model
        .verifications
        .iter()
        .filter(|v| v.service_sid == service && v.to == to)
        .map(|v| v.sends.iter().filter(|(_, _, t)| *t > window_start).count())
        .sum();
    if recent_sends >= MAX_SENDS {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            60203,
            "Max send attempts reached",
        ));
    }
    let attempt = (crate::sid::new_sid("VL"), channel.clone(), now);
    let idx = match model
        .verifications
        .iter()
        .rposition(|v| v.service_sid == service && v.to == to && v.status == "pending")
    {
        Some(i) => {
            let v = &mut model.verifications[i];
            v.channel = channel;
            v.date_updated = now;
            v.sends.push(attempt);
            i
        }
        None => {
            let code = match f.non_empty("CustomCode") {
                Some(c) => c,
                None => {
                    let code: u64 = rand::rng().random_range(0..10u64.pow(digits));
                    format!("{code:0width$}", width = digits as usize)
                }
            };
            model.verifications.push(VerificationRec {
                sid: crate::sid::new_sid("VE"),
                service_sid: service.to_owned(),
                to: to.clone(),
                channel,
                code,
                status: "pending",
                date_created: now,
                date_updated: now,
                failed_checks: 0,
                sends: vec![attempt],
            });
            model.verifications.len() - 1
        }
    };
    let v = &model.verifications[idx];
    tracing::info!(target: "twilio_sim::verify", "{} code for {} by {}: {}", v.sid, v.to, v.channel, v.code);
    let _ = shared.events.send(SimEvent::Verification {
        at: shared.now_rfc3339(),
        to: v.to.clone(),
        channel: v.channel.clone(),
        code: v.code.clone(),
    });
    reply(StatusCode::CREATED, verification_json(shared, v))
}

fn fetch(shared: &Shared, req: &Req<'_>, service: &str, sid: &str) -> ApiResult {
    let mut model = shared.model();
    expire(shared, &mut model);
    let v = model
        .verifications
        .iter()
        .find(|v| v.sid == sid && v.service_sid == service && v.status == "pending")
        .ok_or_else(|| ApiError::not_found(req.path))?;
    reply(StatusCode::OK, verification_json(shared, v))
}

fn update(shared: &Shared, req: &Req<'_>, service: &str, sid: &str) -> ApiResult {
    let status = match req.form.get("Status") {
        Some("canceled") => "canceled",
        Some("approved") => "approved",
        _ => return Err(invalid("Status")),
    };
    let now = shared.clock.now();
    let mut model = shared.model();
    expire(shared, &mut model);
    let v = model
        .verifications
        .iter_mut()
        .find(|v| v.sid == sid && v.service_sid == service && v.status == "pending")
        .ok_or_else(|| ApiError::not_found(req.path))?;
    v.status = status;
    v.date_updated = now;
    let v = &*v;
    reply(StatusCode::OK, verification_json(shared, v))
}

fn check(shared: &Shared, req: &Req<'_>, service: &str) -> ApiResult {
    let f = &req.form;
    let code = f.non_empty("Code").ok_or_else(|| invalid("Code"))?;
    let to = f.non_empty("To");
    let sid = f.non_empty("VerificationSid");
    if to.is_none() && sid.is_none() {
        return Err(ApiError::bad_request(
            60200,
            "Either a 'To' or a 'VerificationSid' must be specified",
        ));
    }
    let now = shared.clock.now();
    let mut model = shared.model();
    expire(shared, &mut model);
    let v = model
        .verifications
        .iter_mut()
        .rev()
        .filter(|v| {
            v.service_sid == service && matches!(v.status, "pending" | "max_attempts_reached")
        })
        .find(|v| {
            sid.as_ref()
                .map_or_else(|| Some(&v.to) == to.as_ref(), |s| *s == v.sid)
        })
        .ok_or_else(|| ApiError::not_found(req.path))?;
    if v.failed_checks >= MAX_CHECKS {
        v.status = "max_attempts_reached";
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            60202,
            "Max check attempts reached",
        ));
    }
    if v.code == code {
        v.status = "approved";
    } else {
        v.failed_checks += 1;
    }
    v.date_updated = now;
    let v = &*v;
    reply(
        StatusCode::OK,
        json!({
            "sid": v.sid,
            "service_sid": v.service_sid,
            "account_sid": shared.config.account_sid,
            "to": v.to,
            "channel": v.channel,
            "status": v.status,
            "valid": v.status == "approved",
            "amount": Value::Null,
            "payee": Value::Null,
            "date_created": iso8601(v.date_created),
            "date_updated": iso8601(v.date_updated),
            "sna_attempts_error_codes": [],
        }),
    )
}

fn verification_json(shared: &Shared, v: &VerificationRec) -> Value {
    json!({
        "sid": v.sid,
        "service_sid": v.service_sid,
        "account_sid": shared.config.account_sid,
        "to": v.to,
        "channel": v.channel,
        "status": v.status,
        "valid": v.status == "approved",
        "lookup": {"carrier": Value::Null},
        "amount": Value::Null,
        "payee": Value::Null,
        "send_code_attempts": v.sends.iter().map(|(sid, channel, t)| json!({
            "attempt_sid": sid, "channel": channel, "time": iso8601(*t),
        })).collect::<Vec<_>>(),
        "date_created": iso8601(v.date_created),
        "date_updated": iso8601(v.date_updated),
        "sna": Value::Null,
        "url": shared.absolute(&format!("/v2/Services/{}/Verifications/{}", v.service_sid, v.sid)),
    })
}
