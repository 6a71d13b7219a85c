//! Timestamps written as chrono's `Serialize` writes them (RFC 3339, UTC as `Z`, as many
//! fractional digits as the value needs), but as one string: chrono hands its formatter to
//! `collect_str`, which escapes what it writes one character at a time, and a page of the call
//! log writes hundreds of timestamps.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn one<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

pub fn maybe<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => one(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Ours {
        #[serde(serialize_with = "one")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "maybe")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chronos {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    fn both(at: DateTime<Utc>, maybe: Option<DateTime<Utc>>) -> (String, String) {
        (
            serde_json::to_string(&Ours { at, maybe }).unwrap(),
            serde_json::to_string(&Chronos { at, maybe }).unwrap(),
        )
    }

    #[test]
    fn whole_seconds_milliseconds_and_none_are_written_as_chrono_writes_them() {
        let second = Utc.with_ymd_and_hms(2026, 12, 6, 21, 0, 5).unwrap();
        let (ours, chronos) = both(second, None);
        assert_eq!(ours, r#"{"at":"2026-12-06T21:00:05Z","maybe":null}"#);
        assert_eq!(ours, chronos);
        let milli = second + chrono::Duration::milliseconds(7);
        let (ours, chronos) = both(milli, Some(milli));
        assert_eq!(
            ours,
            r#"{"at":"2026-12-06T21:00:05.007Z","maybe":"2026-12-06T21:00:05.007Z"}"#
        );
        assert_eq!(ours, chronos);
    }

    proptest! {
        #[test]
        fn any_instant_is_written_as_chrono_writes_it(
            secs in -62_135_596_800_i64..253_402_300_799,
            nanos in prop_oneof![Just(0_u32), (0_u32..1000).prop_map(|m| m * 1_000_000), 0_u32..1_000_000_000],
        ) {
            let at = Utc.timestamp_opt(secs, nanos).unwrap();
            let (ours, chronos) = both(at, Some(at));
            prop_assert_eq!(ours, chronos);
        }
    }
}
