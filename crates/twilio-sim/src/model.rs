//! The simulator's state: every resource it has created, kept behind one mutex that is never held
//! across an await.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::NumberBehaviour;
use crate::engine::Signal;
use crate::engine::twiml::Callback;

#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) calls: HashMap<String, CallRec>,
    pub(crate) call_order: Vec<String>,
    pub(crate) conferences: HashMap<String, ConfRec>,
    pub(crate) conf_order: Vec<String>,
    pub(crate) recordings: HashMap<String, RecordingRec>,
    pub(crate) recording_order: Vec<String>,
    /// Oldest first.
    pub(crate) verifications: Vec<VerificationRec>,
    pub(crate) documents: HashMap<String, DocumentRec>,
    pub(crate) document_order: Vec<String>,
    /// Oldest first, at most `SimConfig::webhook_log_limit` of them.
    pub(crate) webhooks: VecDeque<WebhookRecord>,
    /// Webhooks forgotten to keep `webhooks` within its limit.
    pub(crate) webhooks_forgotten: u64,
    pub(crate) numbers: HashMap<String, NumberBehaviour>,
    /// Verify and Sync services created through the API, by SID.
    pub(crate) services: HashMap<String, ServiceRec>,
    /// IncomingPhoneNumbers updates, by number; a number never updated has the defaults.
    pub(crate) number_settings: HashMap<String, NumberSettings>,
    /// When the next API call may be dialed, under a calls-per-second limit.
    pub(crate) next_dial_at: Option<Instant>,
    pub(crate) applications: HashMap<String, ApplicationRec>,
    pub(crate) application_order: Vec<String>,
    /// API keys, the configured ones first: they authenticate REST requests and sign Access Tokens.
    pub(crate) keys: HashMap<String, KeyRec>,
    pub(crate) key_order: Vec<String>,
    pub(crate) devices: HashMap<String, crate::devices::DeviceRec>,
    /// Oldest first: the order calls ring them in.
    pub(crate) device_order: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
}

impl CallStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Ringing => "ringing",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::Failed => "failed",
            Self::NoAnswer => "no-answer",
            Self::Canceled => "canceled",
        }
    }

    pub(crate) fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Ringing | Self::InProgress)
    }
}

/// A verb an answering machine heard: `whole` when its greeting was over before the verb began.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct VoicemailEntry {
    pub(crate) what: String,
    pub(crate) whole: bool,
}

/// One entry of a call's human-readable history.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct TimelineEntry {
    pub(crate) at: String,
    pub(crate) event: String,
}

#[derive(Debug)]
pub(crate) struct CallRec {
    pub(crate) sid: String,
    pub(crate) parent_call_sid: Option<String>,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) status: CallStatus,
    pub(crate) direction: &'static str,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
    pub(crate) start_time: Option<DateTime<Utc>>,
    pub(crate) end_time: Option<DateTime<Utc>>,
    pub(crate) duration: Option<u64>,
    pub(crate) answered_at: Option<Instant>,
    pub(crate) answered_by: Option<String>,
    /// How long answering machine detection took, once it decided.
    pub(crate) machine_detection_ms: Option<u64>,
    /// Simulated milliseconds the call waits `queued` for its turn under the CPS limit.
    pub(crate) queue_time_ms: u64,
    /// What an answering machine recorded of the call.
    pub(crate) voicemail: Vec<VoicemailEntry>,
    pub(crate) status_callback: Option<Callback>,
    pub(crate) seq: u32,
    /// The conference the call is in, or was last in.
    pub(crate) conference_sid: Option<String>,
    pub(crate) in_gather: bool,
    pub(crate) error_code: Option<u32>,
    pub(crate) timeline: Vec<TimelineEntry>,
    pub(crate) signals: mpsc::UnboundedSender<Signal>,
    /// `Record=true` on create: the call's own recording, and where to report it.
    pub(crate) record: Option<Option<Callback>>,
    /// The recording `Record=true` made, once the call was answered.
    pub(crate) recording_sid: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfStatus {
    Init,
    InProgress,
    Completed,
}

impl ConfStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
        }
    }
}

#[derive(Debug)]
pub(crate) struct ConfRec {
    pub(crate) sid: String,
    pub(crate) friendly_name: String,
    pub(crate) status: ConfStatus,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
    pub(crate) reason_ended: Option<String>,
    pub(crate) call_sid_ending: Option<String>,
    /// Participants not yet gone: queued/ringing ones added through the API, and connected ones.
    pub(crate) participants: Vec<ParticipantRec>,
    pub(crate) status_callback: Option<Callback>,
    pub(crate) seq: u32,
    /// Record from start: who asked (call sid) and where the recording is reported.
    pub(crate) record: Option<(String, Option<Callback>)>,
    pub(crate) recording: Option<ActiveRecording>,
}

#[derive(Debug)]
pub(crate) struct ActiveRecording {
    pub(crate) sid: String,
    pub(crate) started: Instant,
}

#[derive(Clone, Debug)]
pub(crate) struct ParticipantRec {
    pub(crate) call_sid: String,
    pub(crate) label: Option<String>,
    pub(crate) muted: bool,
    pub(crate) hold: bool,
    pub(crate) start_on_enter: bool,
    pub(crate) end_on_exit: bool,
    pub(crate) coaching: bool,
    pub(crate) call_sid_to_coach: Option<String>,
    pub(crate) beep_on_exit: bool,
    /// queued | ringing | connected
    pub(crate) status: &'static str,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
}

#[derive(Debug)]
pub(crate) struct RecordingRec {
    pub(crate) sid: String,
    pub(crate) call_sid: Option<String>,
    pub(crate) conference_sid: Option<String>,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
    pub(crate) start_time: DateTime<Utc>,
    pub(crate) duration: u64,
    pub(crate) status: &'static str,
    pub(crate) channels: u32,
    pub(crate) source: &'static str,
}

#[derive(Debug)]
pub(crate) struct VerificationRec {
    pub(crate) sid: String,
    pub(crate) service_sid: String,
    pub(crate) to: String,
    pub(crate) channel: String,
    pub(crate) code: String,
    /// pending | approved | canceled | expired | max_attempts_reached
    pub(crate) status: &'static str,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
    pub(crate) failed_checks: u32,
    /// (attempt sid, channel, time) of every send.
    pub(crate) sends: Vec<(String, String, DateTime<Utc>)>,
}

#[derive(Debug)]
pub(crate) struct DocumentRec {
    pub(crate) sid: String,
    pub(crate) service_sid: String,
    pub(crate) unique_name: Option<String>,
    pub(crate) data: serde_json::Value,
    pub(crate) revision: u64,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
    pub(crate) date_expires: Option<DateTime<Utc>>,
}

/// A TwiML App. Optional fields are `None` until set; Twilio answers them as empty strings or null.
#[derive(Clone, Debug, Default)]
pub(crate) struct ApplicationRec {
    pub(crate) sid: String,
    pub(crate) friendly_name: Option<String>,
    pub(crate) api_version: String,
    pub(crate) voice_url: Option<String>,
    pub(crate) voice_method: String,
    pub(crate) voice_fallback_url: Option<String>,
    pub(crate) voice_fallback_method: String,
    pub(crate) status_callback: Option<String>,
    pub(crate) status_callback_method: String,
    pub(crate) voice_caller_id_lookup: bool,
    pub(crate) sms_url: Option<String>,
    pub(crate) sms_method: String,
    pub(crate) sms_fallback_url: Option<String>,
    pub(crate) sms_fallback_method: String,
    pub(crate) sms_status_callback: Option<String>,
    pub(crate) message_status_callback: Option<String>,
    pub(crate) public_application_connect_enabled: bool,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(crate) struct KeyRec {
    pub(crate) sid: String,
    pub(crate) friendly_name: Option<String>,
    pub(crate) secret: String,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
}

/// Every webhook the simulator sent, as `GET /sim/webhooks` lists it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct WebhookRecord {
    /// twiml | status | conference-status | recording-status | action
    pub(crate) kind: &'static str,
    pub(crate) method: String,
    /// The URL the request was signed for.
    pub(crate) url: String,
    /// Where it was actually sent (differs behind simulated load balancing).
    pub(crate) delivered_to: String,
    pub(crate) params: serde_json::Map<String, serde_json::Value>,
    pub(crate) signature: String,
    pub(crate) idempotency_token: String,
    /// HTTP status of the answer; `None` when the request failed.
    pub(crate) status: Option<u16>,
    pub(crate) error: Option<String>,
    pub(crate) time: String,
}

impl Model {
    /// Remembers a webhook sent, forgetting the oldest beyond `limit`.
    pub(crate) fn remember_webhook(&mut self, record: WebhookRecord, limit: usize) {
        while self.webhooks.len() >= limit.max(1) {
            self.webhooks.pop_front();
            self.webhooks_forgotten += 1;
        }
        self.webhooks.push_back(record);
    }

    pub(crate) fn conference_by_name(&self, name: &str) -> Option<&ConfRec> {
        self.conf_order
            .iter()
            .rev()
            .filter_map(|sid| self.conferences.get(sid))
            .find(|c| c.friendly_name == name && c.status != ConfStatus::Completed)
    }
}

/// Where an owned number's calls would get their TwiML, as IncomingPhoneNumbers updates set it.
#[derive(Clone, Debug)]
pub(crate) struct NumberSettings {
    pub(crate) friendly_name: Option<String>,
    pub(crate) voice_url: Option<String>,
    pub(crate) voice_method: String,
    pub(crate) voice_fallback_url: Option<String>,
    pub(crate) voice_fallback_method: String,
    pub(crate) status_callback: Option<String>,
    pub(crate) status_callback_method: String,
    pub(crate) voice_application_sid: Option<String>,
    pub(crate) date_updated: Option<DateTime<Utc>>,
}

impl Default for NumberSettings {
    fn default() -> Self {
        Self {
            friendly_name: None,
            voice_url: None,
            voice_method: "POST".to_owned(),
            voice_fallback_url: None,
            voice_fallback_method: "POST".to_owned(),
            status_callback: None,
            status_callback_method: "POST".to_owned(),
            voice_application_sid: None,
            date_updated: None,
        }
    }
}

/// A Verify (`VA…`) or Sync (`IS…`) service.
#[derive(Clone, Debug)]
pub(crate) struct ServiceRec {
    pub(crate) sid: String,
    pub(crate) friendly_name: Option<String>,
    /// Verify only: the digits of its codes.
    pub(crate) code_length: u32,
    pub(crate) date_created: DateTime<Utc>,
}
