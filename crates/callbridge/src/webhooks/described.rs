//! How the webhooks appear in the OpenAPI document: what Twilio sends them and what they
//! answer. Each route has its own annotated handler here, so a path the router answers is a
//! path the document lists.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::dial::{self, Twiml};
use super::signed::SignedForm;
use super::{browser, status};
use crate::calls::twiml::{
    CONFERENCE_STATUS_PATH, CONFERENCE_TWIML_PATH, DIAL_RECIPIENT_PATH, HOLD_MUSIC_PATH,
    RECORDING_STATUS_PATH, STATUS_PATH,
};
use crate::domain::{CallId, LegRole};
use crate::http::openapi::WEBHOOKS_TAG;
use crate::http::{ApiError, ErrorBody};
use crate::state::AppState;

/// The parameters Twilio posts that callbridge reads; Twilio sends more, which are stored with
/// the event. See Twilio's documentation of each callback for the full list.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(title = "Twilio's webhook parameters")]
#[allow(non_snake_case, dead_code)]
pub struct TwilioParameters {
    AccountSid: Option<String>,
    CallSid: Option<String>,
    /// `queued`, `ringing`, `in-progress`, `completed`, `busy`, `no-answer`, `canceled`, `failed`.
    CallStatus: Option<String>,
    CallDuration: Option<String>,
    From: Option<String>,
    To: Option<String>,
    /// The agent's key press, on the Gather action.
    Digits: Option<String>,
    /// A conference callback's event: `conference-start`, `participant-join`, …
    StatusCallbackEvent: Option<String>,
    ConferenceSid: Option<String>,
    SequenceNumber: Option<String>,
    RecordingSid: Option<String>,
    RecordingStatus: Option<String>,
    RecordingUrl: Option<String>,
    RecordingDuration: Option<String>,
    ErrorCode: Option<String>,
}

/// The query callbridge puts in the callback URLs it gives Twilio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CallbackQuery {
    /// The call the callback is about.
    call: CallId,
    /// The leg it is about (the seed's `CallerType` works too).
    leg: Option<LegRole>,
}

/// The seed's `{}`: Twilio reads nothing from a status callback's answer.
#[derive(Debug, ToSchema)]
#[schema(as = Empty)]
pub struct EmptyObject {}

/// What a held party hears unless `HOLD_MUSIC_URL` says otherwise: Twilio's classical hold
/// music, looped. Unsigned, like any audio Twilio fetches: it says nothing of any call.
#[utoipa::path(
    get,
    path = HOLD_MUSIC_PATH,
    tag = WEBHOOKS_TAG,
    responses(
        (status = 200, description = "TwiML that plays the hold music.", content_type = "text/xml", body = String),
    )
)]
pub(super) async fn hold_music() -> Result<Twiml, ApiError> {
    dial::render(crate::calls::twiml::hold_music())
}

/// The agent's Gather ended: the customer is dialled.
#[utoipa::path(
    post,
    path = DIAL_RECIPIENT_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    params(CallbackQuery),
    request_body(content = TwilioParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "TwiML that puts the agent in the conference, or says why not.", content_type = "text/xml", body = String),
        (status = 400, description = "The URL names no call.", body = ErrorBody),
        (status = 404, description = "No such call.", body = ErrorBody),
    )
)]
pub(super) async fn dial_recipient(
    state: State<AppState>,
    form: SignedForm,
) -> Result<Twiml, ApiError> {
    dial::dial_recipient(state, form).await
}

/// The conference TwiML a leg fetches when it answers.
#[utoipa::path(
    post,
    path = CONFERENCE_TWIML_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    params(CallbackQuery),
    request_body(content = TwilioParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`<Dial><Conference>` for the leg, or `<Hangup/>` when the call is over.", content_type = "text/xml", body = String),
        (status = 400, description = "The URL names no call.", body = ErrorBody),
        (status = 404, description = "No such call.", body = ErrorBody),
    )
)]
pub(super) async fn conference_twiml(
    state: State<AppState>,
    form: SignedForm,
) -> Result<Twiml, ApiError> {
    dial::conference_twiml(state, form).await
}

/// A leg's status callback.
#[utoipa::path(
    post,
    path = STATUS_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    params(CallbackQuery),
    request_body(content = TwilioParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Stored.", body = EmptyObject),
        (status = 400, description = "The URL names no call, or a parameter is missing.", body = ErrorBody),
        (status = 404, description = "No such call.", body = ErrorBody),
    )
)]
pub(super) async fn call_status(
    state: State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    status::status(state, form).await
}

/// The conference's status callback.
#[utoipa::path(
    post,
    path = CONFERENCE_STATUS_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    params(CallbackQuery),
    request_body(content = TwilioParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Stored.", body = EmptyObject),
        (status = 400, description = "The URL names no call, or a parameter is missing.", body = ErrorBody),
        (status = 404, description = "No such call.", body = ErrorBody),
    )
)]
pub(super) async fn conference_status(
    state: State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    status::status(state, form).await
}

/// The recording's status callback.
#[utoipa::path(
    post,
    path = RECORDING_STATUS_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    params(CallbackQuery),
    request_body(content = TwilioParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Stored.", body = EmptyObject),
        (status = 400, description = "The URL names no call, or a parameter is missing.", body = ErrorBody),
        (status = 404, description = "No such call.", body = ErrorBody),
    )
)]
pub(super) async fn recording_status(
    state: State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    status::status(state, form).await
}

/// The TwiML App's Voice URL: a browser agent's call arrives here.
///
/// `From` is `client:<identity>`; `To` (the customer, E.164) and `Record`, `Label` are the
/// parameters the page passed to `device.connect({params})`.
#[utoipa::path(
    post,
    path = crate::browser::VOICE_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    request_body(content = TwilioParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "TwiML that puts the agent in the call's conference, or says why the call is refused and hangs up.", content_type = "text/xml", body = String),
        (status = 400, description = "`CallSid` is missing.", body = ErrorBody),
    )
)]
pub(super) async fn browser_voice(
    state: State<AppState>,
    form: SignedForm,
) -> Result<Twiml, ApiError> {
    browser::voice(state, form).await
}

/// The TwiML App's Status Callback: how a browser's call ended.
#[utoipa::path(
    post,
    path = crate::browser::STATUS_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    request_body(content = TwilioParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Stored (or ignored: a call callbridge refused has no record).", body = EmptyObject),
        (status = 400, description = "`CallSid` is missing.", body = ErrorBody),
    )
)]
pub(super) async fn browser_status(
    state: State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    browser::status(state, form).await
}
