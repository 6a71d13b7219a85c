//! A session campaign's settings, as asked for when it is created and as stored with it. Every
//! rule is checked here, so that a campaign the store holds is always one the dialer can work.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Outcomes an agent picks from, at most this many.
pub const MAX_DISPOSITIONS: usize = 20;
/// Characters in one outcome: it must fit a select's option and an Airtable single select.
pub const MAX_DISPOSITION_CHARS: usize = 40;
/// Characters of a spoken voicemail message.
pub const MAX_SAY_CHARS: usize = 1000;
pub const DEFAULT_WRAP_UP_SECS: u32 = 60;
/// Long enough to type a note, short enough that a forgotten wrap-up does not stall a session.
pub const WRAP_UP_SECS: std::ops::RangeInclusive<u32> = 5..=600;

/// How a campaign dials its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignMode {
    /// The agent's phone rings for every record, one call after another.
    PerRecord,
    /// Agents stay on the line in a session and customers are dialled into it.
    Session,
}

impl CampaignMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PerRecord => "per_record",
            Self::Session => "session",
        }
    }
}

/// What an answering machine hears after its beep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Voicemail {
    /// Text spoken with text to speech.
    Say(String),
    /// An https URL of an audio file.
    Play(String),
}

/// What to do with a customer leg that detection calls a fax or cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Detected {
    HangUp,
    Voicemail,
    Agent,
}

impl Detected {
    fn parse(
        field: &'static str,
        raw: Option<&Value>,
        default: Self,
    ) -> Result<Self, SettingsError> {
        match raw {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(s)) if s == "hang_up" => Ok(Self::HangUp),
            Some(Value::String(s)) if s == "voicemail" => Ok(Self::Voicemail),
            Some(Value::String(s)) if s == "agent" => Ok(Self::Agent),
            Some(_) => Err(SettingsError::Detected(field)),
        }
    }
}

/// The part of the recipient's day when they may be called, in their own time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallingHours {
    /// `HH:MM`, inclusive.
    #[schema(value_type = String, example = "08:00")]
    #[serde(with = "hh_mm")]
    pub start: NaiveTime,
    /// `HH:MM`, exclusive.
    #[schema(value_type = String, example = "21:00")]
    #[serde(with = "hh_mm")]
    pub end: NaiveTime,
}

impl Default for CallingHours {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
        }
    }
}

mod hh_mm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M").map_err(serde::de::Error::custom)
    }
}

/// How a session campaign works its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DialerSettings {
    pub voicemail: Voicemail,
    /// The outcomes an agent picks from at wrap-up, in the order shown.
    pub dispositions: Vec<String>,
    /// How long an agent has to pick an outcome before the record is written without one.
    pub wrap_up_secs: u32,
    pub fax: Detected,
    pub unknown: Detected,
    pub calling_hours: CallingHours,
}

impl DialerSettings {
    /// The outcome as listed, if `asked` names one (case aside: a select sends it back as shown,
    /// a script may not).
    pub fn disposition(&self, asked: &str) -> Option<&str> {
        let asked = asked.trim();
        self.dispositions
            .iter()
            .find(|d| d.eq_ignore_ascii_case(asked))
            .map(String::as_str)
    }
}

/// What a client sent for a new campaign's mode and settings, unchecked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawSettings {
    pub mode: Option<Value>,
    pub voicemail: Option<Value>,
    pub dispositions: Option<Value>,
    pub wrap_up_secs: Option<Value>,
    pub fax: Option<Value>,
    pub unknown: Option<Value>,
    pub calling_hours: Option<Value>,
}

impl RawSettings {
    fn session_only(&self) -> Vec<&'static str> {
        [
            ("voicemail", &self.voicemail),
            ("dispositions", &self.dispositions),
            ("wrap_up_secs", &self.wrap_up_secs),
            ("fax", &self.fax),
            ("unknown", &self.unknown),
            ("calling_hours", &self.calling_hours),
        ]
        .into_iter()
        .filter(|(_, v)| v.as_ref().is_some_and(|v| !v.is_null()))
        .map(|(name, _)| name)
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("mode must be \"session\" or \"per_record\"")]
    Mode,
    #[error("{} only apply to a campaign with \"mode\": \"session\"", .0.join(", "))]
    SessionOnly(Vec<&'static str>),
    #[error(
        "voicemail is required for a session campaign: {{\"say\": \"text\"}} or \
         {{\"play\": \"https://…\"}}"
    )]
    NoVoicemail,
    #[error(
        "voicemail must be {{\"say\": \"text\"}} (at most {MAX_SAY_CHARS} characters) or \
         {{\"play\": \"https://…\"}}"
    )]
    Voicemail,
    #[error(
        "dispositions must be a list of 1 to {MAX_DISPOSITIONS} distinct outcomes of 1 to \
         {MAX_DISPOSITION_CHARS} characters"
    )]
    Dispositions,
    #[error("dispositions lists {0:?} twice")]
    DuplicateDisposition(String),
    #[error("wrap_up_secs must be a whole number of seconds from {} to {}", WRAP_UP_SECS.start(), WRAP_UP_SECS.end())]
    WrapUp,
    #[error("{0} must be \"hang_up\", \"voicemail\" or \"agent\"")]
    Detected(&'static str),
    #[error(
        "calling_hours must be {{\"start\": \"HH:MM\", \"end\": \"HH:MM\"}} with start before end"
    )]
    CallingHours,
}

/// The campaign's mode and, for a session campaign, its settings.
pub fn parse(raw: &RawSettings) -> Result<(CampaignMode, Option<DialerSettings>), SettingsError> {
    let mode = match &raw.mode {
        None | Some(Value::Null) => CampaignMode::PerRecord,
        Some(Value::String(s)) if s == "per_record" => CampaignMode::PerRecord,
        Some(Value::String(s)) if s == "session" => CampaignMode::Session,
        Some(_) => return Err(SettingsError::Mode),
    };
    if mode == CampaignMode::PerRecord {
        let given = raw.session_only();
        if !given.is_empty() {
            return Err(SettingsError::SessionOnly(given));
        }
        return Ok((mode, None));
    }
    let settings = DialerSettings {
        voicemail: voicemail(raw.voicemail.as_ref())?,
        dispositions: dispositions(raw.dispositions.as_ref())?,
        wrap_up_secs: wrap_up_secs(raw.wrap_up_secs.as_ref())?,
        fax: Detected::parse("fax", raw.fax.as_ref(), Detected::HangUp)?,
        // Detection that cannot tell is mostly a person who answered quietly.
        unknown: Detected::parse("unknown", raw.unknown.as_ref(), Detected::Agent)?,
        calling_hours: calling_hours(raw.calling_hours.as_ref())?,
    };
    Ok((mode, Some(settings)))
}

fn voicemail(raw: Option<&Value>) -> Result<Voicemail, SettingsError> {
    let Some(Value::Object(fields)) = raw.filter(|v| !v.is_null()) else {
        return match raw {
            None | Some(Value::Null) => Err(SettingsError::NoVoicemail),
            Some(_) => Err(SettingsError::Voicemail),
        };
    };
    if fields.len() != 1 {
        return Err(SettingsError::Voicemail);
    }
    match fields.iter().next() {
        Some((key, Value::String(text))) if key == "say" => {
            let text = text.trim();
            if text.is_empty() || text.chars().count() > MAX_SAY_CHARS {
                return Err(SettingsError::Voicemail);
            }
            Ok(Voicemail::Say(text.to_owned()))
        }
        Some((key, Value::String(address))) if key == "play" => {
            let parsed = url::Url::parse(address.trim()).map_err(|_| SettingsError::Voicemail)?;
            if parsed.scheme() != "https" || parsed.host_str().is_none() {
                return Err(SettingsError::Voicemail);
            }
            Ok(Voicemail::Play(parsed.to_string()))
        }
        _ => Err(SettingsError::Voicemail),
    }
}

fn dispositions(raw: Option<&Value>) -> Result<Vec<String>, SettingsError> {
    let Some(Value::Array(list)) = raw else {
        return Err(SettingsError::Dispositions);
    };
    if list.is_empty() || list.len() > MAX_DISPOSITIONS {
        return Err(SettingsError::Dispositions);
    }
    let mut kept: Vec<String> = Vec::with_capacity(list.len());
    for entry in list {
        let Value::String(text) = entry else {
            return Err(SettingsError::Dispositions);
        };
        let text = text.trim();
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_DISPOSITION_CHARS || text.chars().any(char::is_control) {
            return Err(SettingsError::Dispositions);
        }
        if kept.iter().any(|k| k.eq_ignore_ascii_case(text)) {
            return Err(SettingsError::DuplicateDisposition(text.to_owned()));
        }
        kept.push(text.to_owned());
    }
    Ok(kept)
}

fn wrap_up_secs(raw: Option<&Value>) -> Result<u32, SettingsError> {
    match raw {
        None | Some(Value::Null) => Ok(DEFAULT_WRAP_UP_SECS),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| WRAP_UP_SECS.contains(n))
            .ok_or(SettingsError::WrapUp),
        Some(_) => Err(SettingsError::WrapUp),
    }
}

fn calling_hours(raw: Option<&Value>) -> Result<CallingHours, SettingsError> {
    match raw {
        None | Some(Value::Null) => Ok(CallingHours::default()),
        Some(value) => {
            let hours: CallingHours =
                serde_json::from_value(value.clone()).map_err(|_| SettingsError::CallingHours)?;
            if hours.start >= hours.end {
                return Err(SettingsError::CallingHours);
            }
            Ok(hours)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn session(extra: Value) -> RawSettings {
        let mut raw = RawSettings {
            mode: Some(json!("session")),
            voicemail: Some(json!({"say": "Sorry we missed you."})),
            dispositions: Some(json!(["Sale", "No interest", "Call back"])),
            ..RawSettings::default()
        };
        let Value::Object(extra) = extra else {
            panic!("extra settings are an object");
        };
        for (key, value) in extra {
            let slot = match key.as_str() {
                "voicemail" => &mut raw.voicemail,
                "dispositions" => &mut raw.dispositions,
                "wrap_up_secs" => &mut raw.wrap_up_secs,
                "fax" => &mut raw.fax,
                "unknown" => &mut raw.unknown,
                "calling_hours" => &mut raw.calling_hours,
                "mode" => &mut raw.mode,
                other => panic!("no field {other}"),
            };
            *slot = Some(value);
        }
        raw
    }

    #[test]
    fn a_campaign_without_a_mode_rings_its_agent_per_record_as_before() {
        assert_eq!(
            parse(&RawSettings::default()).unwrap(),
            (CampaignMode::PerRecord, None)
        );
        assert_eq!(
            parse(&RawSettings {
                mode: Some(json!("per_record")),
                ..RawSettings::default()
            })
            .unwrap(),
            (CampaignMode::PerRecord, None)
        );
    }

    #[test]
    fn a_session_campaign_gets_the_defaults_it_left_out() {
        let (mode, settings) = parse(&session(json!({}))).unwrap();
        assert_eq!(mode, CampaignMode::Session);
        let settings = settings.unwrap();
        assert_eq!(
            settings.voicemail,
            Voicemail::Say("Sorry we missed you.".into())
        );
        assert_eq!(settings.dispositions, ["Sale", "No interest", "Call back"]);
        assert_eq!(settings.wrap_up_secs, DEFAULT_WRAP_UP_SECS);
        assert_eq!(settings.fax, Detected::HangUp);
        assert_eq!(settings.unknown, Detected::Agent);
        assert_eq!(settings.calling_hours, CallingHours::default());
        assert_eq!(
            serde_json::to_value(&settings).unwrap()["calling_hours"],
            json!({"start": "08:00", "end": "21:00"})
        );
    }

    #[test]
    fn settings_round_trip_through_their_stored_json() {
        let (_, settings) = parse(&session(json!({
            "voicemail": {"play": "https://example.com/vm.mp3"},
            "wrap_up_secs": 30,
            "fax": "voicemail",
            "unknown": "hang_up",
            "calling_hours": {"start": "09:30", "end": "17:00"},
        })))
        .unwrap();
        let settings = settings.unwrap();
        let stored = serde_json::to_value(&settings).unwrap();
        let back: DialerSettings = serde_json::from_value(stored).unwrap();
        assert_eq!(back, settings);
        assert_eq!(
            back.voicemail,
            Voicemail::Play("https://example.com/vm.mp3".into())
        );
        assert_eq!(back.disposition(" call BACK "), Some("Call back"));
        assert_eq!(back.disposition("Maybe"), None);
    }

    #[test]
    fn each_bad_setting_is_refused_with_what_is_wrong() {
        for (extra, want) in [
            (json!({"mode": "turbo"}), SettingsError::Mode),
            (json!({"voicemail": null}), SettingsError::NoVoicemail),
            (json!({"voicemail": "hi"}), SettingsError::Voicemail),
            (json!({"voicemail": {"say": " "}}), SettingsError::Voicemail),
            (
                json!({"voicemail": {"say": "a", "play": "https://x.example/a.mp3"}}),
                SettingsError::Voicemail,
            ),
            (
                json!({"voicemail": {"play": "http://x.example/a.mp3"}}),
                SettingsError::Voicemail,
            ),
            (json!({"dispositions": []}), SettingsError::Dispositions),
            (json!({"dispositions": "Sale"}), SettingsError::Dispositions),
            (
                json!({"dispositions": ["Sale", 3]}),
                SettingsError::Dispositions,
            ),
            (json!({"dispositions": [""]}), SettingsError::Dispositions),
            (
                json!({"dispositions": ["x".repeat(MAX_DISPOSITION_CHARS + 1)]}),
                SettingsError::Dispositions,
            ),
            (
                json!({"dispositions": ["Sale", "sale"]}),
                SettingsError::DuplicateDisposition("sale".into()),
            ),
            (json!({"wrap_up_secs": 0}), SettingsError::WrapUp),
            (json!({"wrap_up_secs": 601}), SettingsError::WrapUp),
            (json!({"wrap_up_secs": "60"}), SettingsError::WrapUp),
            (json!({"fax": "ignore"}), SettingsError::Detected("fax")),
            (json!({"unknown": true}), SettingsError::Detected("unknown")),
            (
                json!({"calling_hours": {"start": "21:00", "end": "08:00"}}),
                SettingsError::CallingHours,
            ),
            (
                json!({"calling_hours": {"start": "8am", "end": "21:00"}}),
                SettingsError::CallingHours,
            ),
        ] {
            assert_eq!(parse(&session(extra.clone())), Err(want), "{extra}");
        }
        let no_dispositions = RawSettings {
            dispositions: None,
            ..session(json!({}))
        };
        assert_eq!(parse(&no_dispositions), Err(SettingsError::Dispositions));
    }

    #[test]
    fn session_settings_on_a_per_record_campaign_are_refused_by_name() {
        let raw = RawSettings {
            mode: None,
            ..session(json!({"wrap_up_secs": 30}))
        };
        let err = parse(&raw).unwrap_err();
        assert_eq!(
            err,
            SettingsError::SessionOnly(vec!["voicemail", "dispositions", "wrap_up_secs"])
        );
        assert_eq!(
            err.to_string(),
            "voicemail, dispositions, wrap_up_secs only apply to a campaign with \"mode\": \"session\""
        );
    }
}
