//! What a status callback is, read from Twilio's parameters: a call's progress, a conference
//! event or a recording's status. One URL may receive any of the three (the seed sent them all
//! to `/status`), so the parameters, not the path, decide which it is.

use super::signed::SignedForm;
use crate::calls::callback::{CallProgress, Callback, ConferenceEvent, RecordingStatus};
use crate::calls::flow::LegStatus;
use crate::http::ApiError;

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

pub fn parse(form: &SignedForm) -> Result<Callback, ApiError> {
    if let (Some(sid), Some(status)) = (form.param("RecordingSid"), form.param("RecordingStatus")) {
        return Ok(Callback::Recording(RecordingStatus {
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
        return Ok(Callback::Conference(ConferenceEvent {
            conference_sid: sid.to_owned(),
            event: event.to_owned(),
            call_sid: owned(form.param("CallSid")),
            label: owned(form.param("ParticipantLabel")),
            sequence_number: number(form, "SequenceNumber")?,
        }));
    }
    if let (Some(sid), Some(status)) = (form.param("CallSid"), form.param("CallStatus")) {
        return Ok(Callback::Call(CallProgress {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CallId;

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
        let Callback::Call(c) = parse(&f).unwrap() else {
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
            parse(&conference).unwrap(),
            Callback::Conference(ConferenceEvent { ref event, .. }) if event == "participant-join"
        ));
        let recording = form(&[
            ("RecordingSid", "RE1"),
            ("RecordingStatus", "completed"),
            ("CallSid", "CA1"),
            ("ConferenceSid", "CF1"),
            ("StatusCallbackEvent", "whatever"),
        ]);
        assert!(matches!(parse(&recording).unwrap(), Callback::Recording(_)));
    }

    #[test]
    fn anything_else_is_a_bad_request() {
        assert!(parse(&form(&[("Digits", "1")])).is_err());
        assert!(
            parse(&form(&[
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
        let again = parse(&ringing).unwrap().event(id, ringing.payload());
        let first = parse(&ringing).unwrap().event(id, ringing.payload());
        assert_eq!(first.dedupe_key, again.dedupe_key);
        let answered = form(&[
            ("CallSid", "CA1"),
            ("CallStatus", "in-progress"),
            ("SequenceNumber", "2"),
        ]);
        let next = parse(&answered).unwrap().event(id, answered.payload());
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
            parse(&f).unwrap().event(id, f.payload()).dedupe_key
        };
        assert_ne!(join("CA1", "1"), join("CA2", "2"));
    }
}
