//! `POST /airtable/call`: call the lead of one record.

use async_trait::async_trait;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Airtable;
use super::records::{MARK, write_row};
use super::writeback::sync_link;
use crate::auth::{authenticate, bearer_token};
use crate::calls::CallError;
use crate::calls::http::start::{AfterStart, Answer, start_for_record_request};
use crate::calls::view::CallView;
use crate::domain::PhoneNumber;
use crate::http::openapi::AIRTABLE_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, SuccessBody};
use crate::idempotency;
use crate::state::AppState;
use crate::store::{Agent, StoreError};

/// What a record says when it cannot be called.
pub const INVALID_PHONE: &str = "failed: invalid phone number";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CallFromRecord {
    /// The record whose phone field is called (`record_id` and `record` are accepted too).
    #[serde(rename = "recordId", alias = "record_id", alias = "record")]
    #[schema(required = true, value_type = String, example = "recXXXXXXXXXXXXXX")]
    pub record_id: Option<String>,
    /// Stands in for the `Authorization` header, as on the start endpoints.
    pub token: Option<String>,
}

/// Call the lead of one Airtable record; the record's status follows the call.
#[utoipa::path(
    post,
    path = "/airtable/call",
    tag = AIRTABLE_TAG,
    security(("callToken" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe, as on the start endpoints."),
    ),
    request_body = CallFromRecord,
    responses(
        (status = 200, description = "Twilio is ringing the agent; or the call already ended.", body = SuccessBody<CallView>),
        (status = 202, description = "The call is stored, Twilio has not confirmed yet.", body = SuccessBody<CallView>),
        (status = 400, description = "`recordId` is missing or malformed.", body = ErrorBody),
        (status = 404, description = "No such record, or the Airtable integration is off.", body = ErrorBody),
        (status = 409, description = "The record already has a call in progress (`data.id` names it).", body = ErrorBody),
        (status = 422, description = "The record has no valid phone number (the record is marked), or the destination policy refuses it.", body = ErrorBody),
        (status = 429, description = "Too many starts by this agent; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio or Airtable failed.", body = ErrorBody),
    )
)]
pub async fn call(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<CallFromRecord>,
) -> Result<Response, ApiError> {
    let airtable = configured(&state)?;
    let key = idempotency::http::key(&headers)?;
    let agent = caller(&state, &headers, body.token.as_deref()).await?;
    let record_id = record_id(body.record_id.as_deref())?;
    let record = airtable.get_record(&record_id).await?;
    let Some(phone) = phone_of(&record.fields, &airtable.fields.phone) else {
        mark(airtable, &record_id, INVALID_PHONE).await?;
        return Err(ApiError::Unprocessable(format!(
            "record {record_id} has no valid phone number in its {:?} field (E.164, e.g. \
             +14155550100); the record is marked",
            airtable.fields.phone
        )));
    };
    let after = Box::new(RecordFollowUp {
        record_id: record_id.clone(),
    });
    Ok(start_for_record_request(state.clone(), agent, &phone, record_id, key, after).await)
}

/// What the record shows of a start from `POST /airtable/call`, written from the start's task.
struct RecordFollowUp {
    record_id: String,
}

#[async_trait]
impl AfterStart for RecordFollowUp {
    async fn after(&self, state: &AppState, result: &Result<Answer, CallError>) {
        let Some(airtable) = state.airtable.as_ref() else {
            return;
        };
        let written = match result {
            Ok(answer) => {
                let view = answer.view();
                tracing::info!(call = %view.id, record = %self.record_id, "call started from Airtable");
                write_first_status(airtable, view).await
            }
            Err(error) => match failure_status(error) {
                Some(status) => mark(airtable, &self.record_id, &status).await,
                None => Ok(()),
            },
        };
        if let Err(err) = written {
            // The background scan writes the call's state to the record anyway.
            tracing::warn!(record = %self.record_id, %err, "could not queue the record's status");
        }
    }
}

pub(super) fn configured(state: &AppState) -> Result<&Airtable, ApiError> {
    state.airtable.as_ref().ok_or_else(|| {
        ApiError::NotFound(
            "the Airtable integration is off: set AIRTABLE_TOKEN, AIRTABLE_BASE_ID and \
             AIRTABLE_TABLE"
                .into(),
        )
    })
}

/// The agent behind the call token (header or `token` field).
pub(super) async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    field: Option<&str>,
) -> Result<Agent, ApiError> {
    let token = bearer_token(headers)
        .or(field.filter(|t| !t.trim().is_empty()))
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "Missing call token: send it as Authorization: Bearer <token> or a token field"
                    .into(),
            )
        })?;
    authenticate(state, &token).await
}

/// Airtable record ids are `rec` and 14 letters or digits.
fn record_id(raw: Option<&str>) -> Result<String, ApiError> {
    let id = raw.map(str::trim).unwrap_or_default();
    if id.is_empty() {
        return Err(ApiError::BadRequest("recordId is required".into()));
    }
    let valid =
        id.starts_with("rec") && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid {
        return Err(ApiError::BadRequest(format!(
            "recordId must be an Airtable record id like recXXXXXXXXXXXXXX (got {id:?})"
        )));
    }
    Ok(id.to_owned())
}

/// The phone in `field`, if it holds one in E.164 (a phone, text or number cell).
pub(super) fn phone_of(fields: &Map<String, Value>, field: &str) -> Option<PhoneNumber> {
    let text = match fields.get(field)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => format!("+{n}"),
        _ => return None,
    };
    PhoneNumber::parse(&text).ok()
}

/// The text of the phone field as listed, for a campaign item (checked when its turn comes).
pub(super) fn phone_text(fields: &Map<String, Value>, field: &str) -> Option<String> {
    match fields.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(format!("+{n}")),
        _ => None,
    }
}

/// The status to leave on a record whose call could not be started; `None` when the refusal
/// says nothing about the record (the caller's token, a rate limit, our own failure).
pub(super) fn failure_status(error: &CallError) -> Option<String> {
    match error {
        CallError::Invalid(_) => Some(INVALID_PHONE.to_owned()),
        CallError::Refused(_) => Some("failed: destination not allowed".to_owned()),
        CallError::Twilio {
            retry_after_secs: None,
            ..
        } => Some("failed: twilio_error".to_owned()),
        CallError::Twilio {
            retry_after_secs: Some(_),
            ..
        } => Some("failed: twilio_unavailable".to_owned()),
        _ => None,
    }
}

/// Queues an error status for the record; marks are written once and never retried as calls.
pub(super) async fn mark(
    airtable: &Airtable,
    record_id: &str,
    status: &str,
) -> Result<(), StoreError> {
    let names = &airtable.fields;
    let mut fields = Map::new();
    fields.insert(names.status.clone(), json!(status));
    fields.insert(
        names.last_called_at.clone(),
        json!(super::snapshot::iso8601(Utc::now())),
    );
    airtable
        .store
        .enqueue(write_row(MARK, record_id, fields))
        .await?;
    Ok(())
}

/// Queues the first write of a just-started call's record at once, rather than at the next scan.
pub(super) async fn write_first_status(
    airtable: &Airtable,
    view: &CallView,
) -> Result<(), StoreError> {
    let store = airtable.store.as_ref();
    if let Some(linked) = store.link_for_call(view.id).await? {
        sync_link(store, &airtable.fields, &linked, Utc::now()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_are_checked_before_any_request() {
        assert_eq!(record_id(Some(" recAbc123 ")).unwrap(), "recAbc123");
        for bad in [
            None,
            Some(""),
            Some("abc"),
            Some("rec/../x"),
            Some("rec?x=1"),
        ] {
            assert!(
                matches!(record_id(bad), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn phones_are_read_from_text_or_number_cells() {
        let fields = json!({"Phone": "+14155550100", "Num": 14155550100_u64, "Bad": "call me",
                            "List": ["+14155550100"]});
        let fields = fields.as_object().unwrap();
        assert_eq!(phone_of(fields, "Phone").unwrap().as_str(), "+14155550100");
        assert_eq!(phone_of(fields, "Num").unwrap().as_str(), "+14155550100");
        assert!(phone_of(fields, "Bad").is_none());
        assert!(phone_of(fields, "List").is_none());
        assert!(phone_of(fields, "Missing").is_none());
    }

    #[test]
    fn only_refusals_about_the_record_mark_it() {
        assert_eq!(
            failure_status(&CallError::Invalid("x".into())).as_deref(),
            Some(INVALID_PHONE)
        );
        assert!(failure_status(&CallError::Forbidden("x".into())).is_none());
        assert!(
            failure_status(&CallError::RateLimited {
                retry_after_secs: 3
            })
            .is_none()
        );
    }
}
