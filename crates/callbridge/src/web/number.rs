//! `GET /app/number`: what the dialer's number field holds, read as people type it and checked
//! against the destination policy, so the page can say at once whether it can be called.

use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::sign_in::caller_region;
use crate::auth::AuthAgent;
use crate::destinations::Use;
use crate::domain::PhoneNumber;
use crate::http::{ApiError, Success, SuccessBody, success};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Typed {
    /// The number as typed: `(415) 555-0100`, `+44 20 7183 8750`, `0044…`.
    raw: String,
}

/// The number the field holds, if it is one, and whether it may be dialled.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct NumberCheck {
    /// E.164, when the text is a valid number.
    e164: Option<String>,
    /// Whether the destination policy lets it be dialled.
    callable: bool,
    /// Why not, in words; `null` when it can be called.
    problem: Option<String>,
}

/// Read and check a number as the dialer's field holds it.
#[utoipa::path(get, path = "/app/number", tag = super::WEB_TAG,
    security(("callToken" = [])),
    params(Typed),
    responses((status = 200, description = "What the text is, and whether it can be called.", body = SuccessBody<NumberCheck>)))]
pub(super) async fn check(
    State(state): State<AppState>,
    _agent: AuthAgent,
    Query(typed): Query<Typed>,
) -> Result<Success<NumberCheck>, ApiError> {
    let answer = match PhoneNumber::parse_in(&typed.raw, &caller_region(&state)) {
        Err(err) => NumberCheck {
            e164: None,
            callable: false,
            problem: Some(err.to_string()),
        },
        Ok(number) => match state.settings.destinations.check(&number, Use::Call) {
            Ok(()) => NumberCheck {
                e164: Some(number.as_str().to_owned()),
                callable: true,
                problem: None,
            },
            Err(refusal) => NumberCheck {
                e164: Some(number.as_str().to_owned()),
                callable: false,
                problem: Some(format!("{number} cannot be called: {refusal}")),
            },
        },
    };
    Ok(success("Number read", answer))
}
