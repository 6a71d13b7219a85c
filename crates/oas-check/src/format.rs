//! The string formats Twilio's documents use, checked strictly where they have a fixed grammar.
//!
//! `phone-number` and `endpoint` are deliberately not checked: Twilio uses them for SIP addresses and
//! `client:` identities as well as E.164 numbers. Formats this module does not know are annotations.

use url::Url;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Whether `value` follows `format`; the error says how it does not.
pub(crate) fn check(format: &str, value: &str) -> Result<(), String> {
    match format {
        "date-time-rfc-2822" => rfc2822(value),
        "date-time" => rfc3339(value),
        "date" => date(value).map(drop),
        "uri" => uri(value),
        "http-method" => {
            if METHODS.contains(&value) {
                Ok(())
            } else {
                Err("is not an upper-case HTTP method".to_owned())
            }
        }
        "currency" => letters(value, 3, "an ISO 4217 currency code"),
        "iso-country-code" => letters(value, 2, "an ISO 3166 alpha-2 country code"),
        "uuid" => uuid(value),
        "email" => email(value),
        _ => Ok(()),
    }
}

/// RFC 4122's text form: 8-4-4-4-12 hexadecimal digits.
fn uuid(value: &str) -> Result<(), String> {
    let groups: Vec<&str> = value.split('-').collect();
    let shaped = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if shaped {
        Ok(())
    } else {
        Err("is not a UUID".to_owned())
    }
}

/// Only the shape a checker can be sure of: one `@` with text on both sides, no spaces.
fn email(value: &str) -> Result<(), String> {
    match value.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !value.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err("is not an email address".to_owned()),
    }
}

/// Whether the integer `value` fits `format` (`int32`, `int64`).
pub(crate) fn check_integer(format: &str, value: &serde_json::Number) -> Result<(), String> {
    let fits = match format {
        "int32" => value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
        "int64" => value.as_i64().is_some(),
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("does not fit {format}"))
    }
}

fn letters(value: &str, len: usize, what: &str) -> Result<(), String> {
    if value.len() == len && value.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(())
    } else {
        Err(format!("is not {what}"))
    }
}

/// `Tue, 31 Aug 2010 20:36:28 +0000`, with the weekday agreeing with the date.
fn rfc2822(value: &str) -> Result<(), String> {
    let bad = || "is not an RFC 2822 date like \"Tue, 31 Aug 2010 20:36:28 +0000\"".to_owned();
    let parts: Vec<&str> = value.split(' ').collect();
    let [weekday, day, month, year, time, zone] = parts[..] else {
        return Err(bad());
    };
    let weekday = weekday
        .strip_suffix(',')
        .and_then(|d| DAYS.iter().position(|n| *n == d))
        .ok_or_else(bad)?;
    let month = MONTHS.iter().position(|m| *m == month).ok_or_else(bad)?;
    let day = digits(day, 1, 2).ok_or_else(bad)?;
    let year = digits(year, 4, 4).ok_or_else(bad)?;
    let month = u32::try_from(month + 1).map_err(|_| bad())?;
    valid_day(year, month, day)?;
    clock(time).ok_or_else(bad)?;
    let zone_ok = zone == "GMT"
        || (zone.len() == 5
            && zone.starts_with(['+', '-'])
            && digits(&zone[1..3], 2, 2).is_some_and(|h| h <= 23)
            && digits(&zone[3..], 2, 2).is_some_and(|m| m <= 59));
    if !zone_ok {
        return Err(bad());
    }
    let actual = weekday_of(year, month, day);
    if actual != weekday {
        return Err(format!(
            "says {} but {year}-{month:02}-{day:02} is a {}",
            DAYS[weekday], DAYS[actual]
        ));
    }
    Ok(())
}

/// `2015-07-30T20:00:00Z`, fractional seconds and numeric offsets allowed.
fn rfc3339(value: &str) -> Result<(), String> {
    let bad = || "is not an RFC 3339 date-time like \"2015-07-30T20:00:00Z\"".to_owned();
    let (day, rest) = value.split_once(['T', 't']).ok_or_else(bad)?;
    date(day)?;
    let (time, zone) = if let Some(time) = rest.strip_suffix(['Z', 'z']) {
        (time, None)
    } else {
        let at = rest.rfind(['+', '-']).ok_or_else(bad)?;
        (&rest[..at], Some(&rest[at + 1..]))
    };
    let time = match time.split_once('.') {
        Some((whole, fraction)) => {
            if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            whole
        }
        None => time,
    };
    clock(time).ok_or_else(bad)?;
    if let Some(zone) = zone {
        let (h, m) = zone.split_once(':').ok_or_else(bad)?;
        let ok =
            digits(h, 2, 2).is_some_and(|h| h <= 23) && digits(m, 2, 2).is_some_and(|m| m <= 59);
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

/// `YYYY-MM-DD`.
fn date(value: &str) -> Result<(u32, u32, u32), String> {
    let bad = || "is not a date like \"2015-07-30\"".to_owned();
    let mut parts = value.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let year = digits(y, 4, 4).ok_or_else(bad)?;
    let month = digits(m, 2, 2).ok_or_else(bad)?;
    let day = digits(d, 2, 2).ok_or_else(bad)?;
    valid_day(year, month, day)?;
    Ok((year, month, day))
}

/// `HH:MM:SS` (a leap second allowed).
fn clock(value: &str) -> Option<()> {
    let mut parts = value.split(':');
    let (Some(h), Some(m), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let ok = digits(h, 2, 2)? <= 23 && digits(m, 2, 2)? <= 59 && digits(s, 2, 2)? <= 60;
    ok.then_some(())
}

fn digits(text: &str, min: usize, max: usize) -> Option<u32> {
    let ok = (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse().ok()).flatten()
}

fn valid_day(year: u32, month: u32, day: u32) -> Result<(), String> {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let last = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("has month {month}")),
    };
    if (1..=last).contains(&day) {
        Ok(())
    } else {
        Err(format!("has day {day} in a month of {last} days"))
    }
}

/// 0 = Monday. Sakamoto's method, valid for the Gregorian calendar.
fn weekday_of(year: u32, month: u32, day: u32) -> usize {
    const OFFSETS: [u32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    let sunday_based = (y + y / 4 - y / 100 + y / 400 + OFFSETS[(month - 1) as usize] + day) % 7;
    ((sunday_based + 6) % 7) as usize
}

/// An absolute URL, or an absolute path as Twilio's `uri` fields hold (`/2010-04-01/…`).
fn uri(value: &str) -> Result<(), String> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not a URI (empty, or has whitespace)".to_owned());
    }
    if value.starts_with('/') && !value.starts_with("//") {
        return Ok(());
    }
    match Url::parse(value) {
        Ok(url) if url.has_host() || url.scheme() == "mailto" => Ok(()),
        Ok(_) => Err("is a URL without a host".to_owned()),
        Err(e) => Err(format!("is not an absolute URL or path: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uuids_and_emails_are_checked_by_shape() {
        assert!(check("uuid", "0190f0a0-1b2c-7d3e-8f40-0123456789ab").is_ok());
        assert!(check("uuid", "0190f0a01b2c7d3e8f400123456789ab").is_err());
        assert!(check("uuid", "0190f0a0-1b2c-7d3e-8f40-0123456789ag").is_err());
        assert!(check("email", "ana@example.com").is_ok());
        assert!(check("email", "ana@localhost").is_err());
        assert!(check("email", "ana example@example.com").is_err());
        assert!(check("email", "@example.com").is_err());
    }

    #[test]
    fn rfc2822_dates() {
        assert_eq!(
            check("date-time-rfc-2822", "Tue, 31 Aug 2010 20:36:28 +0000"),
            Ok(())
        );
        assert_eq!(
            check("date-time-rfc-2822", "Thu, 29 Feb 2024 00:00:00 GMT"),
            Ok(())
        );
        for bad in [
            "2010-08-31T20:36:28Z",
            "Tue, 31 Aug 2010 20:36:28",
            "Tue, 31 Sep 2010 20:36:28 +0000",
            "Tue, 31 Aug 2010 24:00:00 +0000",
            "Tue 31 Aug 2010 20:36:28 +0000",
            "Tue, 31 Aug 2010 20:36:28 +00:00",
        ] {
            assert!(check("date-time-rfc-2822", bad).is_err(), "{bad}");
        }
        let wrong_day = check("date-time-rfc-2822", "Wed, 31 Aug 2010 20:36:28 +0000");
        assert_eq!(
            wrong_day,
            Err("says Wed but 2010-08-31 is a Tue".to_owned())
        );
    }

    #[test]
    fn rfc3339_dates_and_plain_dates() {
        for good in [
            "2015-07-30T20:00:00Z",
            "2015-07-30T20:00:00.123Z",
            "2015-07-30T20:00:00+02:00",
            "2015-07-30T20:00:00-05:30",
        ] {
            assert_eq!(check("date-time", good), Ok(()), "{good}");
        }
        for bad in [
            "2015-07-30 20:00:00Z",
            "2015-07-30T20:00:00",
            "2015-13-30T20:00:00Z",
            "2015-07-30T20:00:00.Z",
            "Tue, 31 Aug 2010 20:36:28 +0000",
        ] {
            assert!(check("date-time", bad).is_err(), "{bad}");
        }
        assert_eq!(check("date", "2024-02-29"), Ok(()));
        assert!(check("date", "2023-02-29").is_err());
        assert!(check("date", "2023-2-01").is_err());
    }

    #[test]
    fn uris_methods_and_codes() {
        assert_eq!(
            check("uri", "https://api.twilio.com/2010-04-01/Accounts.json"),
            Ok(())
        );
        assert_eq!(
            check("uri", "/2010-04-01/Accounts/AC1/Calls.json?Page=1"),
            Ok(())
        );
        assert!(check("uri", "Calls.json").is_err());
        assert!(check("uri", "https://a b").is_err());
        assert!(check("uri", "").is_err());
        assert_eq!(check("http-method", "POST"), Ok(()));
        assert!(check("http-method", "post").is_err());
        assert_eq!(check("currency", "USD"), Ok(()));
        assert!(check("currency", "US$").is_err());
        assert_eq!(check("iso-country-code", "US"), Ok(()));
        assert!(check("iso-country-code", "USA").is_err());
        assert_eq!(check("some-annotation", "anything"), Ok(()));
    }

    #[test]
    fn integer_widths() {
        let big = serde_json::Number::from(i64::from(i32::MAX) + 1);
        assert!(check_integer("int32", &big).is_err());
        assert_eq!(check_integer("int64", &big), Ok(()));
        assert!(check_integer("int64", &serde_json::Number::from(u64::MAX)).is_err());
    }

    proptest! {
        #[test]
        fn every_real_calendar_day_is_accepted_with_its_weekday(days in 0i64..80_000) {
            // Walk forward from Monday 1 Jan 1900, so the weekday is known independently.
            let (mut y, mut m, mut d) = (1900u32, 1u32, 1u32);
            let mut left = days;
            while left > 0 {
                d += 1;
                if valid_day(y, m, d).is_err() {
                    d = 1;
                    m += 1;
                    if m == 13 { m = 1; y += 1; }
                }
                left -= 1;
            }
            let weekday = DAYS[usize::try_from(days % 7).unwrap()];
            let month = MONTHS[(m - 1) as usize];
            let text = format!("{weekday}, {d:02} {month} {y} 12:00:00 +0000");
            prop_assert_eq!(check("date-time-rfc-2822", &text), Ok(()));
            let iso = format!("{y:04}-{m:02}-{d:02}T12:00:00Z");
            prop_assert_eq!(check("date-time", &iso), Ok(()));
        }
    }
}
