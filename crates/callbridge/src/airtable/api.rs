//! `POST /airtable/call`: call the lead of one record.

use async_trait::async_trait;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::Airtable;
use super::lead::{self, failure_status, mark, write_first_status};
use crate::auth::{authenticate, bearer_token};
use crate::calls::CallError;
use crate::calls::http::start::{AfterStart, Answer, start_for_record_request};
use crate::calls::view::CallView;
use crate::http::openapi::AIRTABLE_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, SuccessBody};
use crate::idempotency;
use crate::state::AppState;
use crate::store::Agent;

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
    let phone = lead::phone(airtable, &record_id).await?;
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
    Ok(authenticate(state, &token).await?)
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
}
