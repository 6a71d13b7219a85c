//! Twilio's date filters on lists: `StartTime=2025-03-14` (that day), `StartTime>=…` (on or
//! after), `StartTime<=…` (on or before). A value is a date, whose whole day counts, or an
//! RFC 3339 instant.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::{ApiError, Form};

/// The bounds a list query sets on one time field, both inclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimeFilter {
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

/// The first and last instant a value names.
fn span(value: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let start = day.and_time(NaiveTime::MIN).and_utc();
        let end =
            day.succ_opt()?.and_time(NaiveTime::MIN).and_utc() - chrono::Duration::milliseconds(1);
        return Some((start, end));
    }
    let at = DateTime::parse_from_rfc3339(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at, at))
}

impl TimeFilter {
    /// `field`, `field>` and `field<` from the query; a value that is no date is Twilio's 20001.
    pub(crate) fn parse(query: &Form, field: &str) -> Result<Self, ApiError> {
        let mut filter = Self::default();
        for (suffix, set_from, set_until) in
            [("", true, true), (">", true, false), ("<", false, true)]
        {
            let key = format!("{field}{suffix}");
            let Some(value) = query.get(&key) else {
                continue;
            };
            let (start, end) = span(value).ok_or_else(|| {
                ApiError::bad_request(20001, format!("Invalid {key}: {value} is not a date"))
            })?;
            if set_from {
                filter.from = Some(filter.from.map_or(start, |f| f.max(start)));
            }
            if set_until {
                filter.until = Some(filter.until.map_or(end, |u| u.min(end)));
            }
        }
        Ok(filter)
    }

    /// Whether a resource with this time is listed; one without a time only when nothing is asked.
    pub(crate) fn admits(&self, at: Option<DateTime<Utc>>) -> bool {
        if *self == Self::default() {
            return true;
        }
        at.is_some_and(|at| self.from.is_none_or(|f| at >= f) && self.until.is_none_or(|u| at <= u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn a_date_counts_its_whole_day_and_bounds_are_inclusive() {
        let f = TimeFilter::parse(
            &Form::parse(b"StartTime%3E=2025-03-14&StartTime%3C=2025-03-15"),
            "StartTime",
        )
        .unwrap();
        assert!(!f.admits(at("2025-03-13T23:59:59Z")));
        assert!(f.admits(at("2025-03-14T00:00:00Z")));
        assert!(f.admits(at("2025-03-15T23:59:59Z")));
        assert!(!f.admits(at("2025-03-16T00:00:00Z")));
        assert!(
            !f.admits(None),
            "a call that has not started has no start time"
        );
    }

    #[test]
    fn an_exact_day_an_instant_and_no_filter() {
        let day = TimeFilter::parse(&Form::parse(b"StartTime=2025-03-14"), "StartTime").unwrap();
        assert!(day.admits(at("2025-03-14T12:00:00Z")));
        assert!(!day.admits(at("2025-03-15T00:00:00Z")));
        let after = TimeFilter::parse(
            &Form::parse(b"StartTime%3E=2025-03-14T12:00:00Z"),
            "StartTime",
        )
        .unwrap();
        assert!(!after.admits(at("2025-03-14T11:59:59Z")));
        assert!(after.admits(at("2025-03-14T12:00:00Z")));
        let none = TimeFilter::parse(&Form::default(), "StartTime").unwrap();
        assert!(none.admits(None));
    }

    #[test]
    fn a_value_that_is_no_date_is_refused() {
        let err =
            TimeFilter::parse(&Form::parse(b"StartTime%3E=yesterday"), "StartTime").unwrap_err();
        assert_eq!(err.code, 20001);
    }
}
