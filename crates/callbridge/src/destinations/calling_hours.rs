//! Calling hours: the part of the day, by the recipient's own clock, in which a number may be
//! rung. The clock is that of the zone the number's prefix names; where the prefix leaves
//! several zones possible, the hours must hold in all of them, so that nobody is rung outside
//! them whichever of the zones they are in.

mod overlap;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::time_zones;
use crate::domain::PhoneNumber;

/// A daily window of the recipient's local wall-clock time, from its start (included) to its
/// end (excluded): `08:00-21:00` by default. It lies within one day, so the start comes before
/// the end. Written `08:00-21:00`, in JSON as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallingHours {
    start: NaiveTime,
    end: NaiveTime,
}

/// Why a text is not calling hours; the message is meant for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallingHoursError {
    #[error("calling hours {0:?} are not a start and an end like 08:00-21:00")]
    Shape(String),
    #[error("{0:?} is not a time of day like 08:00 or 21:30")]
    Time(String),
    #[error(
        "calling hours {0:?} do not start before they end: they lie within one day, like \
         08:00-21:00"
    )]
    Order(String),
}

/// Whether a number may be rung at a given instant, and until or from when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Dialling is allowed now; it stays allowed until `closes`, the first moment at which the
    /// clock of any zone the number may be in shows a time outside the hours.
    Open { closes: DateTime<Utc> },
    /// Not now; `opens` is the earliest moment at which the clocks of all its zones show a time
    /// inside the hours.
    Closed { opens: DateTime<Utc> },
    /// Not now, nor at any moment of the coming 400 days (a year of every zone's offset
    /// changes, with room to spare): the zones the number may be in lie too far apart for the
    /// hours to hold in all of them at once (an Australian mobile, from the Cocos Islands to
    /// Lord Howe Island, for hours of less than four hours), or the number belongs to no zone
    /// at all (`+800`).
    Never,
}

impl Default for CallingHours {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            end: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

impl CallingHours {
    /// Whether `number` may be rung at `now` by its recipient's clock. A moment at which the
    /// clocks change (DST) counts as the clock shows it: hours that start in a skipped hour open
    /// when the clock jumps past their start, and hours whose end comes twice close the first
    /// time and open again when the clock is set back.
    pub fn window(&self, number: &PhoneNumber, now: DateTime<Utc>) -> Window {
        overlap::window(
            self.seconds(),
            time_zones::for_number(number),
            now.timestamp(),
        )
    }

    /// Start and end, in seconds after midnight.
    fn seconds(&self) -> (i64, i64) {
        (
            self.start.num_seconds_from_midnight().into(),
            self.end.num_seconds_from_midnight().into(),
        )
    }
}

impl FromStr for CallingHours {
    type Err = CallingHoursError;

    /// Reads `08:00-21:00`; a one-digit hour (`8:00`), an en dash (`08:00–21:00`) and spaces
    /// around the dash are accepted too.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (start, end) = input
            .split_once(['-', '–'])
            .ok_or_else(|| CallingHoursError::Shape(input.to_owned()))?;
        let (start, end) = (time_of_day(start.trim())?, time_of_day(end.trim())?);
        if start >= end {
            return Err(CallingHoursError::Order(input.to_owned()));
        }
        Ok(Self { start, end })
    }
}

/// `8:00` or `08:00`, hours 0 to 23.
fn time_of_day(text: &str) -> Result<NaiveTime, CallingHoursError> {
    let bad = || CallingHoursError::Time(text.to_owned());
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours) || !digits(minutes) || hours.len() > 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let (hours, minutes) = (
        hours.parse().map_err(|_| bad())?,
        minutes.parse().map_err(|_| bad())?,
    );
    NaiveTime::from_hms_opt(hours, minutes, 0).ok_or_else(bad)
}

impl fmt::Display for CallingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

impl TryFrom<String> for CallingHours {
    type Error = CallingHoursError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<CallingHours> for String {
    fn from(value: CallingHours) -> Self {
        value.to_string()
    }
}
