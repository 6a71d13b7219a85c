//! What became of a record dialled in a session, and the write that tells its Airtable record.

use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::airtable::lead::INVALID_PHONE;
use crate::airtable::records::{UPDATE, write_row};
use crate::airtable::settings::FieldNames;
use crate::airtable::snapshot::iso8601;
use crate::store::NewOutboxRow;

/// Outcomes as they are kept and counted.
pub const HUMAN: &str = "human";
pub const VOICEMAIL: &str = "voicemail";
pub const ABANDONED: &str = "abandoned";
pub const NO_ANSWER: &str = "no_answer";
pub const BUSY: &str = "busy";
pub const FAILED: &str = "failed";
/// Answered, and hung up before detection could tell who it was.
pub const HUNG_UP: &str = "hung_up";
pub const FAX: &str = "fax";
pub const UNKNOWN: &str = "unknown";
pub const INVALID: &str = "invalid";
pub const DNC: &str = "dnc";
/// Never inside its calling hours (the number's zones lie too far apart, or it has none).
pub const OUT_OF_HOURS: &str = "out_of_hours";
/// The destination policy refused the number.
pub const REFUSED: &str = "refused";

/// Every outcome, in the order the progress view lists them.
pub const ALL: &[&str] = &[
    HUMAN,
    VOICEMAIL,
    ABANDONED,
    NO_ANSWER,
    BUSY,
    FAILED,
    HUNG_UP,
    FAX,
    UNKNOWN,
    INVALID,
    DNC,
    OUT_OF_HOURS,
    REFUSED,
];

/// The status text the record shows for an outcome, in the words single-record calls use.
pub fn status_text(outcome: &str) -> String {
    match outcome {
        HUMAN => "completed".to_owned(),
        VOICEMAIL | ABANDONED => outcome.to_owned(),
        NO_ANSWER => "failed: recipient_no_answer".to_owned(),
        BUSY => "failed: recipient_busy".to_owned(),
        INVALID => INVALID_PHONE.to_owned(),
        DNC => "skipped: do not call".to_owned(),
        OUT_OF_HOURS => "skipped: outside calling hours".to_owned(),
        REFUSED => "failed: destination not allowed".to_owned(),
        FAILED => "failed: recipient_failed".to_owned(),
        other => format!("failed: {other}"),
    }
}

/// What a record's write carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written<'a> {
    pub record_id: &'a str,
    pub outcome: &'a str,
    pub answered_by: Option<&'a str>,
    pub talk_secs: Option<i64>,
    pub disposition: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub agent_email: Option<&'a str>,
    /// Whether the number was dialled at all.
    pub dialled: bool,
}

/// The outbox row writing `written` to its record.
pub fn write(names: &FieldNames, written: &Written<'_>) -> NewOutboxRow {
    let mut fields = Map::new();
    fields.insert(names.status.clone(), json!(status_text(written.outcome)));
    if written.dialled {
        fields.insert(names.last_called_at.clone(), json!(iso8601(Utc::now())));
        fields.insert(
            names.duration.clone(),
            json!(written.talk_secs.unwrap_or(0)),
        );
    }
    if let Some(by) = written.answered_by {
        fields.insert(names.answered_by.clone(), json!(by));
    }
    if let Some(disposition) = written.disposition {
        fields.insert(names.disposition.clone(), json!(disposition));
    }
    if let Some(notes) = written.notes {
        fields.insert(names.notes.clone(), json!(notes));
    }
    if let Some(agent) = written.agent_email {
        fields.insert(names.agent.clone(), json!(agent));
    }
    write_row(UPDATE, written.record_id, fields)
}

/// Whether a record's do-not-call field is set: a ticked checkbox, a non-empty text, a
/// non-zero number, a non-empty list.
pub fn do_not_call(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => {
            let s = s.trim();
            !(s.is_empty() || s.eq_ignore_ascii_case("no") || s.eq_ignore_ascii_case("false"))
        }
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(_)) => true,
    }
}

/// What detection said, as kept: Twilio's values only.
pub fn answered_by(raw: &str) -> Option<&'static str> {
    [
        "human",
        "machine_start",
        "machine_end_beep",
        "machine_end_silence",
        "machine_end_other",
        "fax",
        "unknown",
    ]
    .into_iter()
    .find(|known| *known == raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_up_call_writes_every_field_under_the_configured_names() {
        let names = FieldNames {
            disposition: "Outcome".into(),
            ..FieldNames::default()
        };
        let row = write(
            &names,
            &Written {
                record_id: "recA",
                outcome: HUMAN,
                answered_by: Some("human"),
                talk_secs: Some(42),
                disposition: Some("Sale"),
                notes: Some("wants the red one"),
                agent_email: Some("ada@example.com"),
                dialled: true,
            },
        );
        let fields = &row.payload["fields"];
        assert_eq!(fields["Call Status"], "completed");
        assert_eq!(fields["Call Duration"], 42);
        assert_eq!(fields["Answered By"], "human");
        assert_eq!(fields["Outcome"], "Sale");
        assert_eq!(fields["Notes"], "wants the red one");
        assert_eq!(fields["Agent"], "ada@example.com");
        assert!(fields["Last Called At"].is_string());
        assert_eq!(row.key, "airtable:recA");
    }

    #[test]
    fn a_record_never_dialled_says_why_and_nothing_else() {
        let row = write(
            &FieldNames::default(),
            &Written {
                record_id: "recB",
                outcome: DNC,
                ..Written::default()
            },
        );
        let fields = row.payload["fields"].as_object().unwrap();
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert_eq!(fields["Call Status"], "skipped: do not call");
        assert_eq!(status_text(VOICEMAIL), "voicemail");
        assert_eq!(status_text(BUSY), "failed: recipient_busy");
    }

    #[test]
    fn do_not_call_is_any_set_value() {
        for set in [json!(true), json!("yes"), json!(1), json!(["x"])] {
            assert!(do_not_call(Some(&set)), "{set}");
        }
        for unset in [
            json!(false),
            json!(""),
            json!("no"),
            json!(0),
            json!([]),
            Value::Null,
        ] {
            assert!(!do_not_call(Some(&unset)), "{unset}");
        }
        assert!(!do_not_call(None));
    }
}
