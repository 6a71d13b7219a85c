//! What a status callback says, read from Twilio's parameters: a call's progress, a conference
//! event or a recording's status. One URL may receive any of the three (the seed sent them all
//! to `/status`), so the parameters, not the path, decide which it is.

use chrono::Utc;

use super::signed::SignedForm;
use crate::calls::flow::LegStatus;
use crate::domain::{CallId, EventSource};
use crate::http::ApiError;
use crate::store::NewEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Call(CallProgress),
    Conference(ConferenceEvent),
    Recording(RecordingStatus),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallProgress {
    pub call_sid: String,
    /// As sent; `status` is `None` for one we do not know.
    pub raw_status: String,
    pub status: Option<LegStatus>,
    pub sequence_number: Option<i64>,
    /// Seconds from answer to hang-up; only on the final callback.
    pub duration_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceEvent {
    pub conference_sid: String,
    /// `conference-start`, `participant-join`, …
    pub event: String,
    /// The participant's call, for participant events.
    pub call_sid: Option<String>,
    pub label: Option<String>,
    pub sequence_number: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStatus {
    pub recording_sid: String,
    pub status: String,
    pub call_sid: Option<String>,
    pub conference_sid: Option<String>,
    pub duration_secs: Option<i64>,
    pub url: Option<String>,
}

fn number(form: &SignedForm, name: &str) -> Result<Option<i64>, ApiError> {
    form.param(name)
        .map(|raw| {
            raw.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("{name} is not a number: {raw:?}")))
        })
        .transpose()
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

impl Callback {
    pub fn parse(form: &SignedForm) -> Result<Self, ApiError> {
        if let (Some(sid), Some(status)) =
            (form.param("RecordingSid"), form.param("RecordingStatus"))
        {
            return Ok(Self::Recording(RecordingStatus {
                recording_sid: sid.to_owned(),
                status: status.to_owned(),
                call_sid: owned(form.param("CallSid")),
                conference_sid: owned(form.param("ConferenceSid")),
                duration_secs: number(form, "RecordingDuration")?,
                url: owned(form.param("RecordingUrl")),
            }));
        }
        if let (Some(sid), Some(event)) = (
            form.param("ConferenceSid"),
            form.param("StatusCallbackEvent"),
        ) {
            return Ok(Self::Conference(ConferenceEvent {
                conference_sid: sid.to_owned(),
                event: event.to_owned(),
                call_sid: owned(form.param("CallSid")),
                label: owned(form.param("ParticipantLabel")),
                sequence_number: number(form, "SequenceNumber")?,
            }));
        }
        if let (Some(sid), Some(status)) = (form.param("CallSid"), form.param("CallStatus")) {
            return Ok(Self::Call(CallProgress {
                call_sid: sid.to_owned(),
                raw_status: status.to_owned(),
                status: LegStatus::parse(status),
                sequence_number: number(form, "SequenceNumber")?,
                duration_secs: number(form, "CallDuration")?,
            }));
        }
        Err(ApiError::BadRequest(
            "not a call, conference or recording status callback".into(),
        ))
    }

    /// The event to store. The key is the same for every delivery of one callback (Twilio's
    /// retries, our duplicates) and different for anything else that happened.
    pub fn event(&self, call_id: CallId, form: &SignedForm) -> NewEvent {
        let seq = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let (source, kind, call_sid, dedupe_key, sequence_number) = match self {
            Self::Call(c) => (
                EventSource::Call,
                c.raw_status.clone(),
                Some(c.call_sid.clone()),
                format!(
                    "call:{}:{}:{}",
                    c.call_sid,
                    c.raw_status,
                    seq(c.sequence_number)
                ),
                c.sequence_number,
            ),
            Self::Conference(e) => (
                EventSource::Conference,
                e.event.clone(),
                e.call_sid.clone(),
                format!(
                    "conference:{}:{}:{}:{}",
                    e.conference_sid,
                    e.event,
                    e.call_sid.as_deref().unwrap_or("-"),
                    seq(e.sequence_number)
                ),
                e.sequence_number,
            ),
            Self::Recording(r) => (
                EventSource::Recording,
                r.status.clone(),
                r.call_sid.clone(),
                format!("recording:{}:{}", r.recording_sid, r.status),
                None,
            ),
        };
        NewEvent {
            call_id,
            source,
            kind,
            call_sid,
            dedupe_key,
            sequence_number,
            payload: form.payload(),
            received_at: Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> SignedForm {
        SignedForm {
            query: vec![("call".into(), CallId::new().to_string())],
            params: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn reads_a_call_progress_callback() {
        let f = form(&[
            ("CallSid", "CA1"),
            ("CallStatus", "completed"),
            ("CallDuration", "42"),
            ("SequenceNumber", "3"),
        ]);
        let Callback::Call(c) = Callback::parse(&f).unwrap() else {
            panic!("not a call callback")
        };
        assert_eq!(c.status, Some(LegStatus::Completed));
        assert_eq!(c.duration_secs, Some(42));
        assert_eq!(c.sequence_number, Some(3));
    }

    #[test]
    fn conference_and_recording_callbacks_win_over_their_call_sid() {
        let conference = form(&[
            ("ConferenceSid", "CF1"),
            ("StatusCallbackEvent", "participant-join"),
            ("CallSid", "CA1"),
            ("CallStatus", "in-progress"),
        ]);
        assert!(matches!(
            Callback::parse(&conference).unwrap(),
            Callback::Conference(ConferenceEvent { ref event, .. }) if event == "participant-join"
        ));
        let recording = form(&[
            ("RecordingSid", "RE1"),
            ("RecordingStatus", "completed"),
            ("CallSid", "CA1"),
            ("ConferenceSid", "CF1"),
            ("StatusCallbackEvent", "whatever"),
        ]);
        assert!(matches!(
            Callback::parse(&recording).unwrap(),
            Callback::Recording(_)
        ));
    }

    #[test]
    fn anything_else_is_a_bad_request() {
        assert!(Callback::parse(&form(&[("Digits", "1")])).is_err());
        assert!(
            Callback::parse(&form(&[
                ("CallSid", "CA1"),
                ("CallStatus", "ringing"),
                ("SequenceNumber", "x")
            ]))
            .is_err()
        );
    }

    #[test]
    fn a_redelivery_has_the_same_key_and_the_next_callback_another() {
        let id = CallId::new();
        let ringing = form(&[
            ("CallSid", "CA1"),
            ("CallStatus", "ringing"),
            ("SequenceNumber", "1"),
        ]);
        let again = Callback::parse(&ringing).unwrap().event(id, &ringing);
        let first = Callback::parse(&ringing).unwrap().event(id, &ringing);
        assert_eq!(first.dedupe_key, again.dedupe_key);
        let answered = form(&[
            ("CallSid", "CA1"),
            ("CallStatus", "in-progress"),
            ("SequenceNumber", "2"),
        ]);
        let next = Callback::parse(&answered).unwrap().event(id, &answered);
        assert_ne!(first.dedupe_key, next.dedupe_key);
        assert_eq!(first.payload["CallStatus"], "ringing");
    }

    #[test]
    fn two_participants_joining_are_two_events() {
        let id = CallId::new();
        let join = |sid: &str, seq: &str| {
            let f = form(&[
                ("ConferenceSid", "CF1"),
                ("StatusCallbackEvent", "participant-join"),
                ("CallSid", sid),
                ("SequenceNumber", seq),
            ]);
            Callback::parse(&f).unwrap().event(id, &f).dedupe_key
        };
        assert_ne!(join("CA1", "1"), join("CA2", "2"));
    }
}
