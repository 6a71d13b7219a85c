//! How the simulator is set up: credentials, time scale, per-number behaviour, webhook chaos.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use url::Url;

/// Everything a [`crate::Sim`] needs to start. See [`SimConfig::default`] for the defaults.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The one account this Twilio knows.
    pub account_sid: String,
    /// REST password for `account_sid` and the key every webhook is signed with.
    pub auth_token: String,
    /// API keys `(SK… sid, secret)` the account starts with: each authenticates REST requests, as
    /// the auth token does, and signs Access Tokens for browser devices. Keys created through the
    /// Keys resource join them.
    pub api_keys: Vec<(String, String)>,
    /// 1.0 = real time; 0.01 = 100x faster. Every wait (ring, Say, Pause, Gather timeout, talk) is scaled.
    pub time_scale: f64,
    /// How a number not listed in `numbers` behaves.
    pub default_behaviour: NumberBehaviour,
    /// E.164 -> behaviour.
    pub numbers: HashMap<String, NumberBehaviour>,
    /// Numbers the account owns (or has verified as caller IDs). If any are listed, a call or
    /// participant `From` another phone number is refused with Twilio's 21210, and
    /// IncomingPhoneNumbers lists exactly these. Empty (the default) is permissive: the account
    /// owns every number, so any `From` is accepted and IncomingPhoneNumbers finds whichever
    /// number it is asked for by `PhoneNumber`.
    pub incoming_numbers: Vec<String>,
    /// If non-empty: each webhook goes to a random one of these (scheme, host and port replaced) while
    /// still being signed for the original URL, as it would arrive behind a load balancer.
    pub webhook_targets: Vec<Url>,
    /// Chaos: probability that a webhook is delivered twice. Both copies carry the same
    /// `I-Twilio-Idempotency-Token`, parameters and signature, as Twilio's retries do.
    pub webhook_duplicate_rate: f64,
    /// Chaos: probability that a status callback is held back until the next webhook of its call
    /// has been delivered (or, if none follows within a second, delivered then), so that the two
    /// arrive swapped. SequenceNumber still tells their order.
    pub webhook_reorder_rate: f64,
    /// Chaos: random extra delay (0..=this, milliseconds, not scaled) per status callback, which
    /// reorders them (SequenceNumber still tells their order). At 0, each call's webhooks, TwiML
    /// requests included, are delivered one at a time in the order they happened, while other
    /// calls' are delivered beside them: a slow endpoint delays only its own call.
    pub webhook_jitter_ms: u64,
    /// The account's calls per second: calls created through the API (Calls and Participants)
    /// beyond it stay `queued` and are dialed at that rate, reporting their wait as `queue_time`.
    /// Twilio's default for an account is 1; `None` (this library's default, so that tests may
    /// start hundreds of calls at once) dials every call at once.
    pub calls_per_second: Option<f64>,
    /// How many webhooks `GET /sim/webhooks` remembers; beyond it the oldest are forgotten (and
    /// counted), so that a long load run does not grow the simulator without bound.
    pub webhook_log_limit: usize,
}

/// Webhooks remembered by default: every webhook of a few thousand calls.
pub const DEFAULT_WEBHOOK_LOG_LIMIT: usize = 50_000;

/// The account SID used when none is given.
pub const DEFAULT_ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
/// The auth token used when none is given.
pub const DEFAULT_AUTH_TOKEN: &str = "simulated-auth-token-0123456789ab";
/// The API key the default configuration has, so that Access Tokens can be minted without REST.
pub const DEFAULT_API_KEY_SID: &str = "SK00000000000000000000000000000000";
/// The secret of [`DEFAULT_API_KEY_SID`].
pub const DEFAULT_API_KEY_SECRET: &str = "simulated-api-key-secret-0123456";

impl Default for SimConfig {
    /// Account [`DEFAULT_ACCOUNT_SID`] with token [`DEFAULT_AUTH_TOKEN`], one API key
    /// ([`DEFAULT_API_KEY_SID`], [`DEFAULT_API_KEY_SECRET`]), real time, every
    /// number answering as a human after 1 s of ringing, pressing nothing and staying on the line, any
    /// `From` accepted (no `incoming_numbers`), webhooks delivered once, each call's in order, to their URL,
    /// no calls-per-second limit, the last [`DEFAULT_WEBHOOK_LOG_LIMIT`] webhooks remembered.
    fn default() -> Self {
        Self {
            account_sid: DEFAULT_ACCOUNT_SID.to_owned(),
            auth_token: DEFAULT_AUTH_TOKEN.to_owned(),
            api_keys: vec![(
                DEFAULT_API_KEY_SID.to_owned(),
                DEFAULT_API_KEY_SECRET.to_owned(),
            )],
            time_scale: 1.0,
            default_behaviour: NumberBehaviour::default(),
            numbers: HashMap::new(),
            incoming_numbers: Vec::new(),
            webhook_targets: Vec::new(),
            webhook_duplicate_rate: 0.0,
            webhook_reorder_rate: 0.0,
            webhook_jitter_ms: 0,
            calls_per_second: None,
            webhook_log_limit: DEFAULT_WEBHOOK_LOG_LIMIT,
        }
    }
}

/// What the phone at a number does when called. JSON shape of `PUT /sim/numbers/{e164}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NumberBehaviour {
    /// How the call is answered (or not).
    pub answer: Answer,
    /// How long it rings before answering (or before busy / failing), in simulated milliseconds.
    pub ring_ms: u64,
    /// Keys pressed once the call is in its first `<Gather>`.
    pub digits: Option<String>,
    /// How long after that Gather starts the keys are pressed, in simulated milliseconds.
    pub digits_after_ms: u64,
    /// The callee hangs up this long after answering; `None` = stays until someone else ends the call.
    pub talk_ms: Option<u64>,
    /// What answering-machine detection concludes, when the caller asks for it. `None` follows
    /// `answer`: `human` for a person; for a machine `machine_start`, or at the end of its greeting
    /// `machine_end_beep` (or `machine_end_silence` without `beep`).
    pub answered_by: Option<AnsweredBy>,
    /// How long detection takes to hear a person, a fax or the start of a machine's greeting, in
    /// simulated milliseconds (`MachineDetectionDuration`).
    pub detection_ms: u64,
    /// How long a machine's greeting lasts before its beep (or silence), in simulated milliseconds.
    /// What the caller says before it ends is partly lost; what comes after is recorded whole.
    pub greeting_ms: u64,
    /// Whether the machine's greeting ends with a beep.
    pub beep: bool,
}

impl Default for NumberBehaviour {
    fn default() -> Self {
        Self {
            answer: Answer::Human,
            ring_ms: 1000,
            digits: None,
            digits_after_ms: 500,
            talk_ms: None,
            answered_by: None,
            detection_ms: 2500,
            greeting_ms: 6000,
            beep: true,
        }
    }
}

/// Twilio's `AnsweredBy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    /// A person.
    Human,
    /// A machine, as soon as it is recognised.
    MachineStart,
    /// A machine whose greeting ended with a beep.
    MachineEndBeep,
    /// A machine whose greeting ended in silence.
    MachineEndSilence,
    /// A machine whose greeting ended some other way.
    MachineEndOther,
    /// A fax machine.
    Fax,
    /// Detection could not decide.
    Unknown,
}

impl AnsweredBy {
    /// The value Twilio sends.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::MachineStart => "machine_start",
            Self::MachineEndBeep => "machine_end_beep",
            Self::MachineEndSilence => "machine_end_silence",
            Self::MachineEndOther => "machine_end_other",
            Self::Fax => "fax",
            Self::Unknown => "unknown",
        }
    }
}

/// How a called number reacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// Answered by a person (`AnsweredBy=human`).
    Human,
    /// Answered by voicemail (`AnsweredBy=machine_start` when detection was asked).
    Machine,
    /// The line is busy.
    Busy,
    /// Rings until the caller's timeout.
    NoAnswer,
    /// The carrier rejects the call.
    Failed,
    /// A person at the simulator's page (`/sim/`) answers, declines or lets it ring out; with
    /// nobody there it rings until the caller's timeout.
    Person,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_json_shape_matches_the_control_api() {
        let b: NumberBehaviour = serde_json::from_str(
            r#"{"answer":"no-answer","ring_ms":5,"digits":"1","digits_after_ms":7,"talk_ms":9}"#,
        )
        .unwrap();
        assert_eq!(
            b,
            NumberBehaviour {
                answer: Answer::NoAnswer,
                ring_ms: 5,
                digits: Some("1".into()),
                digits_after_ms: 7,
                talk_ms: Some(9),
                ..NumberBehaviour::default()
            }
        );
        let partial: NumberBehaviour = serde_json::from_str(r#"{"answer":"busy"}"#).unwrap();
        assert_eq!(partial.ring_ms, NumberBehaviour::default().ring_ms);
        assert_eq!(serde_json::to_value(Answer::NoAnswer).unwrap(), "no-answer");
    }

    #[test]
    fn default_account_sid_is_well_formed() {
        let c = SimConfig::default();
        assert_eq!(c.account_sid.len(), 34);
        assert!(c.account_sid.starts_with("AC"));
        assert!(c.account_sid[2..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
