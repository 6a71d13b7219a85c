//! Sync v1 Documents: create (unique names are unique: 54301), fetch by SID or unique name, update
//! (with If-Match revisions), delete, list.

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use chrono::Duration;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Req, method_not_allowed, page, reply};
use crate::clock::iso8601;
use crate::model::{DocumentRec, Model};
use crate::state::Shared;

pub(super) fn route(shared: &Shared, req: &Req<'_>, service: &str, rest: &[&str]) -> ApiResult {
    match (rest, req.method) {
        (["Documents"], &Method::GET) => list(shared, req, service),
        (["Documents"], &Method::POST) => create(shared, req, service),
        (["Documents", key], &Method::GET) => fetch(shared, req, service, key),
        (["Documents", key], &Method::POST) => update(shared, req, service, key),
        (["Documents", key], &Method::DELETE) => delete(shared, req, service, key),
        (["Documents"] | ["Documents", _], _) => Err(method_not_allowed(req)),
        _ => Err(ApiError::not_found(req.path)),
    }
}

fn data(req: &Req<'_>) -> Result<Option<Value>, ApiError> {
    match req.form.get("Data") {
        None => Ok(None),
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(v @ Value::Object(_)) => Ok(Some(v)),
            _ => Err(ApiError::bad_request(
                54008,
                "Invalid Data: must be a JSON object",
            )),
        },
    }
}

fn expiry(
    shared: &Shared,
    req: &Req<'_>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    Ok(req
        .form
        .uint("Ttl")?
        .filter(|t| *t > 0)
        .map(|t| shared.clock.now() + Duration::seconds(t as i64)))
}

fn live(shared: &Shared, d: &DocumentRec) -> bool {
    d.date_expires.is_none_or(|e| e > shared.clock.now())
}

fn find(shared: &Shared, model: &Model, service: &str, key: &str) -> Option<String> {
    model
        .document_order
        .iter()
        .filter_map(|sid| model.documents.get(sid))
        .find(|d| {
            d.service_sid == service
                && (d.sid == key || d.unique_name.as_deref() == Some(key))
                && live(shared, d)
        })
        .map(|d| d.sid.clone())
}

fn create(shared: &Shared, req: &Req<'_>, service: &str) -> ApiResult {
    let unique_name = req.form.non_empty("UniqueName");
    let data = data(req)?.unwrap_or_else(|| json!({}));
    let date_expires = expiry(shared, req)?;
    let mut model = shared.model();
    if let Some(name) = &unique_name
        && find(shared, &model, service, name).is_some()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            54301,
            format!("Unique name already exists: {name}"),
        ));
    }
    let now = shared.clock.now();
    let sid = crate::sid::new_sid("ET");
    model.documents.insert(
        sid.clone(),
        DocumentRec {
            sid: sid.clone(),
            service_sid: service.to_owned(),
            unique_name,
            data,
            revision: 0,
            date_created: now,
            date_updated: now,
            date_expires,
        },
    );
    model.document_order.push(sid.clone());
    reply(
        StatusCode::CREATED,
        document_json(shared, &model.documents[&sid]),
    )
}

fn fetch(shared: &Shared, req: &Req<'_>, service: &str, key: &str) -> ApiResult {
    let model = shared.model();
    let sid = find(shared, &model, service, key).ok_or_else(|| ApiError::not_found(req.path))?;
    reply(
        StatusCode::OK,
        document_json(shared, &model.documents[&sid]),
    )
}

fn update(shared: &Shared, req: &Req<'_>, service: &str, key: &str) -> ApiResult {
    let data = data(req)?;
    let date_expires = expiry(shared, req)?;
    let if_match = req
        .headers
        .get("If-Match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut model = shared.model();
    let sid = find(shared, &model, service, key).ok_or_else(|| ApiError::not_found(req.path))?;
    let now = shared.clock.now();
    let doc = model.documents.get_mut(&sid).expect("found above");
    if let Some(expected) = if_match.filter(|e| e != "*")
        && expected != doc.revision.to_string()
    {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            54103,
            "The revision of the Document does not match the expected revision",
        ));
    }
    if let Some(d) = data {
        doc.data = d;
    }
    if date_expires.is_some() {
        doc.date_expires = date_expires;
    }
    doc.revision += 1;
    doc.date_updated = now;
    reply(StatusCode::OK, document_json(shared, doc))
}

fn delete(shared: &Shared, req: &Req<'_>, service: &str, key: &str) -> ApiResult {
    let mut model = shared.model();
    let sid = find(shared, &model, service, key).ok_or_else(|| ApiError::not_found(req.path))?;
    model.documents.remove(&sid);
    model.document_order.retain(|s| *s != sid);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn list(shared: &Shared, req: &Req<'_>, service: &str) -> ApiResult {
    let model = shared.model();
    let items = model
        .document_order
        .iter()
        .filter_map(|sid| model.documents.get(sid))
        .filter(|d| d.service_sid == service && live(shared, d))
        .map(|d| document_json(shared, d))
        .collect();
    let url = shared.absolute(&format!("/v1/Services/{service}/Documents"));
    reply(
        StatusCode::OK,
        page::meta(&url, "documents", items, &req.query),
    )
}

fn document_json(shared: &Shared, d: &DocumentRec) -> Value {
    let url = shared.absolute(&format!(
        "/v1/Services/{}/Documents/{}",
        d.service_sid, d.sid
    ));
    json!({
        "sid": d.sid,
        "unique_name": d.unique_name,
        "account_sid": shared.config.account_sid,
        "service_sid": d.service_sid,
        "url": url,
        "links": {"permissions": format!("{url}/Permissions")},
        "revision": d.revision.to_string(),
        "data": d.data,
        "date_expires": d.date_expires.map(iso8601),
        "date_created": iso8601(d.date_created),
        "date_updated": iso8601(d.date_updated),
        "created_by": "system",
    })
}
