//! Answering machine detection: what it concludes about the callee, and when.

use crate::config::{Answer, AnsweredBy, NumberBehaviour};
use crate::engine::twiml::Callback;

/// Twilio's default `MachineDetectionTimeout`, in seconds.
pub(crate) const DEFAULT_TIMEOUT_S: u64 = 30;
/// How long after a greeting's last word detection hears its beep or silence, simulated ms.
const END_OF_GREETING_MS: u64 = 1200;

/// `MachineDetection=Enable` or `DetectMessageEnd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Decide as soon as the callee is recognised.
    Enable,
    /// For a machine, wait for the end of its greeting.
    DetectMessageEnd,
}

impl Mode {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "Enable" => Some(Self::Enable),
            "DetectMessageEnd" => Some(Self::DetectMessageEnd),
            _ => None,
        }
    }
}

/// Detection as a call asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) mode: Mode,
    pub(crate) timeout_s: u64,
    /// Asynchronous detection reports here while the call runs its TwiML; synchronous detection
    /// (`None` and not `asynchronous`) holds the TwiML request until it has decided.
    pub(crate) callback: Option<Callback>,
    pub(crate) asynchronous: bool,
}

/// What detection concluded and how long it took (simulated ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) answered_by: AnsweredBy,
    pub(crate) after_ms: u64,
}

/// What the callee really is, before any detection mode is applied.
fn nature(b: &NumberBehaviour) -> AnsweredBy {
    b.answered_by.unwrap_or(match b.answer {
        Answer::Machine => AnsweredBy::MachineStart,
        _ => AnsweredBy::Human,
    })
}

fn is_machine_verdict(by: AnsweredBy) -> bool {
    matches!(
        by,
        AnsweredBy::MachineStart
            | AnsweredBy::MachineEndBeep
            | AnsweredBy::MachineEndSilence
            | AnsweredBy::MachineEndOther
    )
}

/// Whether the callee is an answering machine with a greeting to play.
pub(crate) fn has_greeting(b: &NumberBehaviour) -> bool {
    b.answer == Answer::Machine || is_machine_verdict(nature(b))
}

/// Simulated ms from answering until a machine's greeting is over and it records.
pub(crate) fn greeting_end_ms(b: &NumberBehaviour) -> u64 {
    b.greeting_ms + END_OF_GREETING_MS
}

/// Decides as Twilio's detection would for this callee.
pub(crate) fn decide(b: &NumberBehaviour, req: &Request) -> Verdict {
    let timeout_ms = req.timeout_s.saturating_mul(1000);
    let (answered_by, after_ms) = match nature(b) {
        AnsweredBy::Unknown => (AnsweredBy::Unknown, timeout_ms),
        by if !is_machine_verdict(by) => (by, b.detection_ms),
        by => match req.mode {
            Mode::Enable => (AnsweredBy::MachineStart, b.detection_ms),
            Mode::DetectMessageEnd => {
                let end = match by {
                    AnsweredBy::MachineStart if b.beep => AnsweredBy::MachineEndBeep,
                    AnsweredBy::MachineStart => AnsweredBy::MachineEndSilence,
                    other => other,
                };
                (end, greeting_end_ms(b))
            }
        },
    };
    if after_ms > timeout_ms {
        Verdict {
            answered_by: AnsweredBy::Unknown,
            after_ms: timeout_ms,
        }
    } else {
        Verdict {
            answered_by,
            after_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(mode: Mode) -> Request {
        Request {
            mode,
            timeout_s: DEFAULT_TIMEOUT_S,
            callback: None,
            asynchronous: false,
        }
    }

    fn machine() -> NumberBehaviour {
        NumberBehaviour {
            answer: Answer::Machine,
            ..NumberBehaviour::default()
        }
    }

    #[test]
    fn a_person_is_recognised_after_the_detection_time() {
        let b = NumberBehaviour {
            detection_ms: 1800,
            ..NumberBehaviour::default()
        };
        for mode in [Mode::Enable, Mode::DetectMessageEnd] {
            assert_eq!(
                decide(&b, &req(mode)),
                Verdict {
                    answered_by: AnsweredBy::Human,
                    after_ms: 1800
                }
            );
        }
    }

    #[test]
    fn a_machine_is_reported_at_its_start_or_at_the_end_of_its_greeting() {
        let m = machine();
        assert_eq!(
            decide(&m, &req(Mode::Enable)).answered_by,
            AnsweredBy::MachineStart
        );
        let end = decide(&m, &req(Mode::DetectMessageEnd));
        assert_eq!(end.answered_by, AnsweredBy::MachineEndBeep);
        assert_eq!(end.after_ms, greeting_end_ms(&m));
        let silent = NumberBehaviour {
            beep: false,
            ..machine()
        };
        assert_eq!(
            decide(&silent, &req(Mode::DetectMessageEnd)).answered_by,
            AnsweredBy::MachineEndSilence
        );
        let other = NumberBehaviour {
            answered_by: Some(AnsweredBy::MachineEndOther),
            ..machine()
        };
        assert_eq!(
            decide(&other, &req(Mode::Enable)).answered_by,
            AnsweredBy::MachineStart
        );
        assert_eq!(
            decide(&other, &req(Mode::DetectMessageEnd)).answered_by,
            AnsweredBy::MachineEndOther
        );
    }

    #[test]
    fn detection_that_outlasts_its_timeout_is_unknown() {
        let long = NumberBehaviour {
            greeting_ms: 40_000,
            ..machine()
        };
        let mut r = req(Mode::DetectMessageEnd);
        r.timeout_s = 10;
        assert_eq!(
            decide(&long, &r),
            Verdict {
                answered_by: AnsweredBy::Unknown,
                after_ms: 10_000
            }
        );
        let unsure = NumberBehaviour {
            answered_by: Some(AnsweredBy::Unknown),
            ..NumberBehaviour::default()
        };
        assert_eq!(decide(&unsure, &r).after_ms, 10_000);
        let fax = NumberBehaviour {
            answered_by: Some(AnsweredBy::Fax),
            ..NumberBehaviour::default()
        };
        assert_eq!(decide(&fax, &r).answered_by, AnsweredBy::Fax);
        assert!(!has_greeting(&fax) && has_greeting(&long));
    }
}
