//! The Airtable settings beyond credentials: which fields hold what, and how patiently to work.

use std::time::Duration;

use crate::config::{ConfigError, RawSettings};

/// The names of the fields the integration reads and writes; Airtable names are case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldNames {
    pub phone: String,
    /// `queued`, `ringing`, `connected`, `completed`, `failed: REASON`.
    pub status: String,
    /// Seconds the parties talked.
    pub duration: String,
    pub recording_url: String,
    /// ISO 8601.
    pub last_called_at: String,
    pub call_id: String,
    /// The agent's email.
    pub agent: String,
    /// The outcome the agent picked at wrap-up (session campaigns).
    pub disposition: String,
    /// The agent's wrap-up notes (session campaigns).
    pub notes: String,
    /// What answering-machine detection said: `human`, `machine_end_beep`, `fax`, … (session
    /// campaigns).
    pub answered_by: String,
    /// Read: a record whose field is set (a ticked checkbox, any text) is never dialled.
    pub do_not_call: String,
}

impl Default for FieldNames {
    fn default() -> Self {
        Self {
            phone: "Phone".into(),
            status: "Call Status".into(),
            duration: "Call Duration".into(),
            recording_url: "Recording URL".into(),
            last_called_at: "Last Called At".into(),
            call_id: "Call ID".into(),
            agent: "Agent".into(),
            disposition: "Disposition".into(),
            notes: "Notes".into(),
            answered_by: "Answered By".into(),
            do_not_call: "Do Not Call".into(),
        }
    }
}

/// Timing of the background work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Multiplies Airtable's waits (30 s after a 429) and the retry backoff; tests shrink it.
    pub penalty_scale: f64,
    /// How often idle workers look for work (changed calls, due writes, campaign steps).
    pub poll_interval: Duration,
    /// How long a claimed write or campaign stays reserved for the instance that claimed it;
    /// after a crash, others take over when it runs out.
    pub lease: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            penalty_scale: 1.0,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(90),
        }
    }
}

impl Tuning {
    /// Airtable's answer must come well within a lease, or the lease could run out mid-request.
    pub fn request_timeout(&self) -> Duration {
        (self.lease / 3).clamp(Duration::from_secs(1), Duration::from_secs(30))
    }
}

/// Reads the `AIRTABLE_FIELD_*` names and the tuning variables, with their defaults.
pub fn from_raw(raw: &RawSettings) -> Result<(FieldNames, Tuning), ConfigError> {
    let defaults = FieldNames::default();
    let pick = |value: &Option<String>, default: String| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map_or(default, str::to_owned)
    };
    let fields = FieldNames {
        phone: pick(&raw.airtable_field_phone, defaults.phone),
        status: pick(&raw.airtable_field_status, defaults.status),
        duration: pick(&raw.airtable_field_duration, defaults.duration),
        recording_url: pick(&raw.airtable_field_recording_url, defaults.recording_url),
        last_called_at: pick(&raw.airtable_field_last_called_at, defaults.last_called_at),
        call_id: pick(&raw.airtable_field_call_id, defaults.call_id),
        agent: pick(&raw.airtable_field_agent, defaults.agent),
        disposition: pick(&raw.airtable_field_disposition, defaults.disposition),
        notes: pick(&raw.airtable_field_notes, defaults.notes),
        answered_by: pick(&raw.airtable_field_answered_by, defaults.answered_by),
        do_not_call: pick(&raw.airtable_field_do_not_call, defaults.do_not_call),
    };
    let mut tuning = Tuning::default();
    if let Some(raw) = non_empty(raw.airtable_penalty_scale.as_deref()) {
        tuning.penalty_scale = match raw.parse::<f64>() {
            Ok(scale) if scale.is_finite() && scale >= 0.0 => scale,
            _ => {
                return Err(ConfigError::Invalid {
                    var: "AIRTABLE_PENALTY_SCALE",
                    problem: format!("must be a number of at least 0, e.g. 1 (got {raw:?})"),
                });
            }
        };
    }
    if let Some(raw) = non_empty(raw.airtable_poll_interval.as_deref()) {
        tuning.poll_interval = millis("AIRTABLE_POLL_INTERVAL", raw)?;
    }
    if let Some(raw) = non_empty(raw.airtable_lease.as_deref()) {
        tuning.lease = millis("AIRTABLE_LEASE", raw)?;
    }
    Ok((fields, tuning))
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `250ms`, `2s`, `1m`, or plain milliseconds; never zero.
fn millis(var: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    let invalid = || ConfigError::Invalid {
        var,
        problem: format!("must be a duration like 250ms, 2s or 1m (got {raw:?})"),
    };
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let amount: u64 = number.parse().map_err(|_| invalid())?;
    let unit_ms = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        _ => return Err(invalid()),
    };
    let ms = amount
        .checked_mul(unit_ms)
        .filter(|ms| *ms > 0)
        .ok_or_else(invalid)?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_issues_names() {
        let (fields, tuning) = from_raw(&RawSettings::default()).unwrap();
        assert_eq!(fields, FieldNames::default());
        assert_eq!(fields.status, "Call Status");
        assert_eq!(fields.last_called_at, "Last Called At");
        assert_eq!(fields.disposition, "Disposition");
        assert_eq!(fields.notes, "Notes");
        assert_eq!(fields.answered_by, "Answered By");
        assert_eq!(fields.do_not_call, "Do Not Call");
        assert_eq!(tuning, Tuning::default());
    }

    #[test]
    fn every_name_and_timing_can_be_set() {
        let raw = RawSettings {
            airtable_field_phone: Some("Mobile".into()),
            airtable_field_status: Some(" Outcome ".into()),
            airtable_field_agent: Some("".into()),
            airtable_field_disposition: Some("Outcome Picked".into()),
            airtable_field_notes: Some(" Wrap-up ".into()),
            airtable_field_answered_by: Some("AMD".into()),
            airtable_field_do_not_call: Some("DNC".into()),
            airtable_penalty_scale: Some("0.01".into()),
            airtable_poll_interval: Some("50ms".into()),
            airtable_lease: Some("3s".into()),
            ..RawSettings::default()
        };
        let (fields, tuning) = from_raw(&raw).unwrap();
        assert_eq!(fields.phone, "Mobile");
        assert_eq!(fields.status, "Outcome");
        assert_eq!(fields.agent, "Agent");
        assert_eq!(fields.disposition, "Outcome Picked");
        assert_eq!(fields.notes, "Wrap-up");
        assert_eq!(fields.answered_by, "AMD");
        assert_eq!(fields.do_not_call, "DNC");
        assert!((tuning.penalty_scale - 0.01).abs() < f64::EPSILON);
        assert_eq!(tuning.poll_interval, Duration::from_millis(50));
        assert_eq!(tuning.lease, Duration::from_secs(3));
        assert_eq!(tuning.request_timeout(), Duration::from_secs(1));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (raw, var) in [
            (
                RawSettings {
                    airtable_penalty_scale: Some("-1".into()),
                    ..RawSettings::default()
                },
                "AIRTABLE_PENALTY_SCALE",
            ),
            (
                RawSettings {
                    airtable_poll_interval: Some("0ms".into()),
                    ..RawSettings::default()
                },
                "AIRTABLE_POLL_INTERVAL",
            ),
            (
                RawSettings {
                    airtable_lease: Some("soon".into()),
                    ..RawSettings::default()
                },
                "AIRTABLE_LEASE",
            ),
        ] {
            let err = from_raw(&raw).unwrap_err();
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }
}
