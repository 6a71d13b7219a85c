//! The call log: `GET /calls` (the agent's calls, newest first, a page at a time) and
//! `GET /calls/{id}`.

use axum::extract::{Path, Query, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthAgent;
use crate::calls::lookup;
use crate::calls::view::CallView;
use crate::domain::{CallId, CallState};
use crate::http::openapi::CALLS_TAG;
use crate::http::{ApiError, ErrorBody, Success, SuccessBody, success};
use crate::state::AppState;
use crate::store::CallCursor;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// Calls per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Where the page starts: from the previous page's `next`.
    cursor: Option<String>,
    /// One state or several, comma-separated (`connected,completed`).
    state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CallPage {
    calls: Vec<CallView>,
    /// The URL of the next (older) page; `null` on the last one.
    next: Option<String>,
}

/// The agent's calls, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/calls",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of calls; `data.next` is the next page's URL.", body = SuccessBody<CallPage>),
        (status = 400, description = "A bad limit, cursor or state.", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    agent: AuthAgent,
    Query(params): Query<ListParams>,
) -> Result<Success<CallPage>, ApiError> {
    let limit = match params.limit {
        None => DEFAULT_PAGE_SIZE,
        Some(n @ 1..=MAX_PAGE_SIZE) => n,
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_PAGE_SIZE} (got {n})"
            )));
        }
    };
    let states = parse_states(params.state.as_deref())?;
    let before = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = lookup::page(state.store.as_ref(), &agent.0, states, before, limit).await?;
    let next = page
        .next
        .map(|cursor| next_link(limit, params.state.as_deref(), &encode_cursor(&cursor)));
    Ok(success(
        "Calls",
        CallPage {
            calls: page.calls,
            next,
        },
    ))
}

/// One call: its legs, conference, events and recording.
#[utoipa::path(
    get,
    path = "/calls/{id}",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    params(("id" = CallId, Path, description = "The call's id.")),
    responses(
        (status = 200, description = "The call.", body = SuccessBody<CallView>),
        (status = 404, description = "No such call of this agent's.", body = ErrorBody),
    )
)]
pub(super) async fn detail(
    State(state): State<AppState>,
    agent: AuthAgent,
    Path(id): Path<String>,
) -> Result<Success<CallView>, ApiError> {
    let view = lookup::owned_view(state.store.as_ref(), &agent.0, &id).await?;
    Ok(success("Call", view))
}

fn parse_states(raw: Option<&str>) -> Result<Vec<CallState>, ApiError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<CallState>().map_err(|_| {
                let known: Vec<_> = CallState::ALL.iter().map(CallState::as_str).collect();
                ApiError::BadRequest(format!(
                    "unknown state {s:?}: use one of {}",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

fn next_link(limit: u32, states: Option<&str>, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("limit", &limit.to_string());
    if let Some(states) = states.filter(|s| !s.trim().is_empty()) {
        query.append_pair("state", states);
    }
    query.append_pair("cursor", cursor);
    format!("/calls?{}", query.finish())
}

/// Opaque to clients: the sort key of the last call shown.
fn encode_cursor(cursor: &CallCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        cursor.created_at.timestamp_millis(),
        cursor.id
    ))
}

fn decode_cursor(raw: &str) -> Result<CallCursor, ApiError> {
    let bad = || ApiError::BadRequest("invalid cursor: use the `next` link as given".into());
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ms, id) = text.split_once('.').ok_or_else(bad)?;
    let created_at = ms
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(bad)?;
    Ok(CallCursor {
        created_at,
        id: id.parse().map_err(|_| bad())?,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn cursors_round_trip(ms in 0i64..4_102_444_800_000, n in any::<u128>()) {
            let cursor = CallCursor {
                created_at: DateTime::from_timestamp_millis(ms).unwrap(),
                id: uuid::Uuid::from_u128(n).to_string().parse().unwrap(),
            };
            prop_assert_eq!(decode_cursor(&encode_cursor(&cursor)).unwrap(), cursor);
        }

        #[test]
        fn any_text_is_a_cursor_or_a_400(raw in ".{0,64}") {
            if let Err(err) = decode_cursor(&raw) {
                prop_assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
            }
        }
    }

    #[test]
    fn states_are_a_comma_separated_list_of_known_ones() {
        assert_eq!(
            parse_states(Some("completed, failed")).unwrap(),
            [CallState::Completed, CallState::Failed]
        );
        assert!(parse_states(None).unwrap().is_empty());
        let err = parse_states(Some("ringing")).unwrap_err();
        assert!(err.to_string().contains("agent_ringing"), "{err}");
    }

    #[test]
    fn the_next_link_keeps_the_filter_and_escapes_it() {
        assert_eq!(
            next_link(5, Some("failed,completed"), "abc"),
            "/calls?limit=5&state=failed%2Ccompleted&cursor=abc"
        );
        assert_eq!(next_link(5, None, "abc"), "/calls?limit=5&cursor=abc");
    }
}
