//! How long a request may take, how long Twilio may take within it, and how long a call start
//! waits for Twilio before answering `202`.

use std::time::Duration;

use super::{ConfigError, RawSettings, invalid};

const DEFAULT_REQUEST: Duration = Duration::from_secs(10);
const DEFAULT_TWILIO: Duration = Duration::from_secs(5);
const DEFAULT_START_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole request, answered 503 when over (`REQUEST_TIMEOUT`).
    pub request: Duration,
    /// One exchange with Twilio (`TWILIO_TIMEOUT`); shorter than `request`, so a handler always
    /// learns Twilio's answer, or its absence, before its own time is up.
    pub twilio: Duration,
    /// How long a call start waits for Twilio to accept the agent's leg before it answers 202
    /// with the call (`CALL_START_WAIT`); shorter than `request`.
    pub start_wait: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            request: DEFAULT_REQUEST,
            twilio: DEFAULT_TWILIO,
            start_wait: DEFAULT_START_WAIT,
        }
    }
}

impl Timeouts {
    pub fn from_raw(raw: &RawSettings) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let read = |var, value: &Option<String>, default| match value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => Ok(default),
            Some(text) => millis(var, text),
        };
        let timeouts = Self {
            request: read("REQUEST_TIMEOUT", &raw.request_timeout, defaults.request)?,
            twilio: read("TWILIO_TIMEOUT", &raw.twilio_timeout, defaults.twilio)?,
            start_wait: read("CALL_START_WAIT", &raw.call_start_wait, defaults.start_wait)?,
        };
        timeouts.check()?;
        Ok(timeouts)
    }

    fn check(&self) -> Result<(), ConfigError> {
        for (var, value) in [
            ("TWILIO_TIMEOUT", self.twilio),
            ("CALL_START_WAIT", self.start_wait),
        ] {
            if value >= self.request {
                return Err(invalid(
                    var,
                    format!(
                        "must be shorter than REQUEST_TIMEOUT ({} against {})",
                        show(value),
                        show(self.request)
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn show(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `250ms`, `2s`, `1m`, or plain seconds; never zero.
fn millis(var: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    let wrong = || {
        invalid(
            var,
            format!("must be a duration like 500ms, 5s or 1m (got {raw:?})"),
        )
    };
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let amount: u64 = number.parse().map_err(|_| wrong())?;
    let unit_ms = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        _ => return Err(wrong()),
    };
    let ms = amount
        .checked_mul(unit_ms)
        .filter(|ms| *ms > 0)
        .ok_or_else(wrong)?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn raw(request: Option<&str>, twilio: Option<&str>, wait: Option<&str>) -> RawSettings {
        RawSettings {
            request_timeout: request.map(Into::into),
            twilio_timeout: twilio.map(Into::into),
            call_start_wait: wait.map(Into::into),
            ..RawSettings::default()
        }
    }

    #[test]
    fn the_defaults_leave_twilio_and_the_start_wait_inside_the_request() {
        let t = Timeouts::from_raw(&RawSettings::default()).unwrap();
        assert_eq!(t, Timeouts::default());
        assert!(t.twilio < t.request && t.start_wait < t.request);
    }

    #[test]
    fn each_can_be_set_in_any_unit() {
        let t = Timeouts::from_raw(&raw(Some("1m"), Some("2500ms"), Some("3"))).unwrap();
        assert_eq!(t.request, Duration::from_secs(60));
        assert_eq!(t.twilio, Duration::from_millis(2500));
        assert_eq!(t.start_wait, Duration::from_secs(3));
    }

    #[test]
    fn twilio_or_the_wait_as_long_as_the_request_is_refused_by_name() {
        let err = Timeouts::from_raw(&raw(None, Some("10s"), None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "TWILIO_TIMEOUT must be shorter than REQUEST_TIMEOUT (10s against 10s)"
        );
        let err = Timeouts::from_raw(&raw(Some("2s"), Some("1s"), None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CALL_START_WAIT must be shorter than REQUEST_TIMEOUT (3s against 2s)"
        );
    }

    #[test]
    fn bad_durations_name_their_variable() {
        for (bad, var) in [
            (raw(Some("0"), None, None), "REQUEST_TIMEOUT"),
            (raw(None, Some("5 minutes"), None), "TWILIO_TIMEOUT"),
            (raw(None, None, Some("-1s")), "CALL_START_WAIT"),
        ] {
            let err = Timeouts::from_raw(&bad).unwrap_err();
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(input in "\\PC{0,12}") {
            let _ = millis("REQUEST_TIMEOUT", &input);
        }

        #[test]
        fn whatever_is_accepted_keeps_twilio_inside_the_request(
            request in 1u64..100_000, twilio in 1u64..100_000, wait in 1u64..100_000,
        ) {
            let given = raw(
                Some(&format!("{request}ms")),
                Some(&format!("{twilio}ms")),
                Some(&format!("{wait}ms")),
            );
            if let Ok(t) = Timeouts::from_raw(&given) {
                prop_assert!(t.twilio < t.request && t.start_wait < t.request);
            }
        }
    }
}
