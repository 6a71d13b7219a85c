//! Calls: `/2010-04-01/Accounts/{AccountSid}/Calls`.

use std::{collections::BTreeMap, fmt};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{HttpMethod, Listed, Page, rfc2822};
use crate::{
    Client, Error,
    form::{Form, ToForm},
};

/// A call's status as Twilio reports it (REST resources and status callbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    /// Waiting to be placed.
    Queued,
    /// Dialling has begun (seen in status callbacks only).
    Initiated,
    /// The destination is ringing.
    Ringing,
    /// Answered.
    InProgress,
    /// Ended normally.
    Completed,
    /// The destination was busy.
    Busy,
    /// Could not be placed.
    Failed,
    /// Not answered.
    NoAnswer,
    /// Ended before it was answered, by an API request.
    Canceled,
    /// A status this client does not know yet.
    #[serde(other)]
    Unknown,
}

impl CallStatus {
    /// Twilio's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::Failed => "failed",
            Self::NoAnswer => "no-answer",
            Self::Canceled => "canceled",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the call is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::Failed | Self::NoAnswer | Self::Canceled
        )
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Call progress events a status callback can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallEvent {
    /// Dialling began.
    Initiated,
    /// The destination rings.
    Ringing,
    /// Answered.
    Answered,
    /// Ended, however it ended.
    Completed,
}

impl CallEvent {
    /// All four, the usual request.
    pub const ALL: [Self; 4] = [
        Self::Initiated,
        Self::Ringing,
        Self::Answered,
        Self::Completed,
    ];
}

impl fmt::Display for CallEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Completed => "completed",
        })
    }
}

/// Recording progress events a recording status callback can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordingEvent {
    /// Recording started.
    InProgress,
    /// Recording is ready.
    Completed,
    /// Nothing was recorded.
    Absent,
}

impl fmt::Display for RecordingEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Absent => "absent",
        })
    }
}

/// Answering machine detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineDetection {
    /// Decide human or machine as soon as possible.
    Enable,
    /// Wait for the end of a machine's greeting.
    DetectMessageEnd,
}

impl fmt::Display for MachineDetection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Enable => "Enable",
            Self::DetectMessageEnd => "DetectMessageEnd",
        })
    }
}

/// What the call runs once answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInstructions {
    /// Fetch TwiML from this URL.
    Url(String),
    /// Run this TwiML document.
    Twiml(String),
}

/// `POST Calls.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCall {
    /// Destination (E.164, `client:name`, or SIP URI).
    pub to: String,
    /// Caller ID: a Twilio number or verified caller ID.
    pub from: String,
    /// TwiML URL or inline TwiML.
    pub instructions: CallInstructions,
    /// Method for the TwiML URL.
    pub method: Option<HttpMethod>,
    /// Where call progress is reported.
    pub status_callback: Option<String>,
    /// Method for the status callback.
    pub status_callback_method: Option<HttpMethod>,
    /// Which progress events are reported.
    pub status_callback_event: Vec<CallEvent>,
    /// Seconds to let it ring.
    pub timeout: Option<u32>,
    /// Answering machine detection.
    pub machine_detection: Option<MachineDetection>,
    /// Seconds detection may take before answering `unknown` (3 to 59).
    pub machine_detection_timeout: Option<u32>,
    /// Detect while the call runs its TwiML, and report to `async_amd_status_callback`.
    pub async_amd: Option<bool>,
    /// Where asynchronous detection reports its result.
    pub async_amd_status_callback: Option<String>,
    /// Method for `async_amd_status_callback`.
    pub async_amd_status_callback_method: Option<HttpMethod>,
    /// Record the whole call.
    pub record: Option<bool>,
    /// Where recording progress is reported.
    pub recording_status_callback: Option<String>,
    /// Which recording events are reported.
    pub recording_status_callback_event: Vec<RecordingEvent>,
}

impl CreateCall {
    /// A call from `from` to `to` running `instructions`, everything else left to Twilio.
    pub fn new(
        to: impl Into<String>,
        from: impl Into<String>,
        instructions: CallInstructions,
    ) -> Self {
        Self {
            to: to.into(),
            from: from.into(),
            instructions,
            method: None,
            status_callback: None,
            status_callback_method: None,
            status_callback_event: Vec::new(),
            timeout: None,
            machine_detection: None,
            machine_detection_timeout: None,
            async_amd: None,
            async_amd_status_callback: None,
            async_amd_status_callback_method: None,
            record: None,
            recording_status_callback: None,
            recording_status_callback_event: Vec::new(),
        }
    }
}

impl ToForm for CreateCall {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.set("To", &self.to).set("From", &self.from);
        match &self.instructions {
            CallInstructions::Url(url) => form.set("Url", url),
            CallInstructions::Twiml(twiml) => form.set("Twiml", twiml),
        };
        form.opt("Method", self.method)
            .opt("StatusCallback", self.status_callback.as_ref())
            .opt("StatusCallbackMethod", self.status_callback_method)
            .list("StatusCallbackEvent", &self.status_callback_event)
            .opt("Timeout", self.timeout)
            .opt("MachineDetection", self.machine_detection)
            .opt("MachineDetectionTimeout", self.machine_detection_timeout)
            .opt("AsyncAmd", self.async_amd)
            .opt(
                "AsyncAmdStatusCallback",
                self.async_amd_status_callback.as_ref(),
            )
            .opt(
                "AsyncAmdStatusCallbackMethod",
                self.async_amd_status_callback_method,
            )
            .opt("Record", self.record)
            .opt(
                "RecordingStatusCallback",
                self.recording_status_callback.as_ref(),
            )
            .list(
                "RecordingStatusCallbackEvent",
                &self.recording_status_callback_event,
            );
        form
    }
}

/// What an update may set a call's status to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallUpdateStatus {
    /// End a call that is queued or ringing.
    Canceled,
    /// End a call that is in progress.
    Completed,
}

impl fmt::Display for CallUpdateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Canceled => "canceled",
            Self::Completed => "completed",
        })
    }
}

/// `POST Calls/{Sid}.json`: redirect a live call or end it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateCall {
    /// New TwiML to run now.
    pub twiml: Option<String>,
    /// New TwiML URL to fetch and run now.
    pub url: Option<String>,
    /// Method for `url`.
    pub method: Option<HttpMethod>,
    /// End the call.
    pub status: Option<CallUpdateStatus>,
}

impl ToForm for UpdateCall {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("Twiml", self.twiml.as_ref())
            .opt("Url", self.url.as_ref())
            .opt("Method", self.method)
            .opt("Status", self.status);
        form
    }
}

/// `GET Calls.json` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCalls {
    /// Only calls to this number.
    pub to: Option<String>,
    /// Only calls from this number.
    pub from: Option<String>,
    /// Only calls in this status.
    pub status: Option<CallStatus>,
    /// Resources per page (Twilio's default is 50, maximum 1000).
    pub page_size: Option<u32>,
}

impl ToForm for ListCalls {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("To", self.to.as_ref())
            .opt("From", self.from.as_ref())
            .opt("Status", self.status)
            .opt("PageSize", self.page_size);
        form
    }
}

/// The Call resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// `CA…`.
    pub sid: String,
    /// When created.
    #[serde(default, with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default, with = "rfc2822")]
    pub date_updated: Option<DateTime<Utc>>,
    /// The call that created this one, if any.
    #[serde(default)]
    pub parent_call_sid: Option<String>,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// Destination.
    #[serde(default)]
    pub to: Option<String>,
    /// Destination, formatted for display.
    #[serde(default)]
    pub to_formatted: Option<String>,
    /// Caller.
    #[serde(default)]
    pub from: Option<String>,
    /// Caller, formatted for display.
    #[serde(default)]
    pub from_formatted: Option<String>,
    /// The incoming number resource used, if any.
    #[serde(default)]
    pub phone_number_sid: Option<String>,
    /// Current status.
    #[serde(default)]
    pub status: Option<CallStatus>,
    /// When answered or started.
    #[serde(default, with = "rfc2822")]
    pub start_time: Option<DateTime<Utc>>,
    /// When ended.
    #[serde(default, with = "rfc2822")]
    pub end_time: Option<DateTime<Utc>>,
    /// Seconds, as a string (Twilio's type).
    #[serde(default)]
    pub duration: Option<String>,
    /// Charge, as a decimal string.
    #[serde(default)]
    pub price: Option<String>,
    /// Currency of `price`.
    #[serde(default)]
    pub price_unit: Option<String>,
    /// `inbound`, `outbound-api` or `outbound-dial`.
    #[serde(default)]
    pub direction: Option<String>,
    /// `human`, `machine_start`, … when machine detection ran.
    #[serde(default)]
    pub answered_by: Option<String>,
    /// API version.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Forwarding number, when the carrier gives one.
    #[serde(default)]
    pub forwarded_from: Option<String>,
    /// Group SID.
    #[serde(default)]
    pub group_sid: Option<String>,
    /// Caller name lookup result.
    #[serde(default)]
    pub caller_name: Option<String>,
    /// Milliseconds queued before being placed, as a string.
    #[serde(default)]
    pub queue_time: Option<String>,
    /// SIP trunk used.
    #[serde(default)]
    pub trunk_sid: Option<String>,
    /// This resource's URI.
    #[serde(default)]
    pub uri: Option<String>,
    /// Related resources.
    #[serde(default)]
    pub subresource_uris: Option<BTreeMap<String, String>>,
}

impl Listed for Call {
    const LIST_KEY: &'static str = "calls";
}

impl Client {
    /// Places a call.
    pub async fn create_call(&self, params: &CreateCall) -> Result<Call, Error> {
        self.post(self.list_url("Calls"), &params.to_form()).await
    }

    /// Fetches a call.
    pub async fn fetch_call(&self, sid: &str) -> Result<Call, Error> {
        self.fetch_instance("Calls", sid).await
    }

    /// Redirects or ends a live call.
    pub async fn update_call(&self, sid: &str, params: &UpdateCall) -> Result<Call, Error> {
        self.post(self.instance_url("Calls", sid), &params.to_form())
            .await
    }

    /// Lists calls, newest first, one page at a time.
    pub async fn list_calls(&self, params: &ListCalls) -> Result<Page<Call>, Error> {
        self.get_page(self.list_url("Calls"), &params.to_form())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::common::decode_page;

    #[test]
    fn create_encodes_twilio_field_names_and_repeats_lists() {
        let mut params = CreateCall::new(
            "+15551230001",
            "+15551230000",
            CallInstructions::Twiml("<Response><Say>Hi</Say></Response>".to_owned()),
        );
        params.status_callback = Some("https://cb.example/status?call=1".to_owned());
        params.status_callback_method = Some(HttpMethod::Post);
        params.status_callback_event = CallEvent::ALL.to_vec();
        params.timeout = Some(25);
        params.machine_detection = Some(MachineDetection::Enable);
        params.record = Some(true);
        params.recording_status_callback = Some("https://cb.example/rec".to_owned());
        params.recording_status_callback_event =
            vec![RecordingEvent::InProgress, RecordingEvent::Completed];
        insta::assert_snapshot!(params.to_form().encoded_lines());
    }

    #[test]
    fn create_with_url_sends_url_and_method() {
        let mut params = CreateCall::new(
            "client:agent",
            "+15551230000",
            CallInstructions::Url("https://app.example/twiml".to_owned()),
        );
        params.method = Some(HttpMethod::Get);
        let form = params.to_form();
        assert_eq!(form.get("Url"), Some("https://app.example/twiml"));
        assert_eq!(form.get("Method"), Some("GET"));
        assert_eq!(form.get("Twiml"), None);
        assert_eq!(form.get("StatusCallbackEvent"), None);
    }

    #[test]
    fn update_and_list_fields() {
        let update = UpdateCall {
            status: Some(CallUpdateStatus::Completed),
            ..UpdateCall::default()
        };
        assert_eq!(update.to_form().encode(), "Status=completed");
        let list = ListCalls {
            to: Some("+15551230001".to_owned()),
            status: Some(CallStatus::InProgress),
            page_size: Some(20),
            ..ListCalls::default()
        };
        assert_eq!(
            list.to_form().encode(),
            "To=%2B15551230001&Status=in-progress&PageSize=20"
        );
    }

    #[test]
    fn decodes_the_openapi_example() {
        let call: Call = serde_json::from_str(include_str!("../../fixtures/call.json")).unwrap();
        assert_eq!(call.sid, "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(call.status, Some(CallStatus::Completed));
        assert_eq!(
            call.date_created.unwrap().to_rfc3339(),
            "2010-08-31T20:36:28+00:00"
        );
        assert_eq!(call.answered_by, None);
        assert_eq!(call.duration.as_deref(), Some("15"));
        assert!(call.subresource_uris.unwrap().contains_key("recordings"));
    }

    #[test]
    fn decodes_a_page() {
        let value = serde_json::from_str(include_str!("../../fixtures/calls_page.json")).unwrap();
        let page: Page<Call> = decode_page(&value).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.page, Some(0));
        assert!(page.next_page_uri.unwrap().contains("Page=1"));
    }

    #[test]
    fn round_trips_dates_in_twilios_format() {
        let call: Call = serde_json::from_str(include_str!("../../fixtures/call.json")).unwrap();
        let json = serde_json::to_value(&call).unwrap();
        assert_eq!(json["date_created"], "Tue, 31 Aug 2010 20:36:28 +0000");
        assert_eq!(json["status"], "completed");
    }

    #[test]
    fn unknown_statuses_do_not_break_decoding() {
        let call: Call = serde_json::from_str(r#"{"sid":"CA1","status":"teleported"}"#).unwrap();
        assert_eq!(call.status, Some(CallStatus::Unknown));
        assert_eq!(call.to, None);
    }
}
