//! Human durations for settings: `90d`, `12h`, `30m`, `45s`, `250ms`, or plain seconds.

use std::time::Duration;

pub(super) fn parse(input: &str) -> Result<Duration, String> {
    let trimmed = input.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let amount: u64 = number
        .parse()
        .map_err(|_| format!("{input:?} is not a duration: use e.g. 90d, 12h, 30m or 3600"))?;
    let unit_ms = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 60 * 60_000,
        "d" => 24 * 60 * 60_000,
        other => {
            return Err(format!(
                "{input:?} has unknown unit {other:?}: use ms, s, m, h or d"
            ));
        }
    };
    let ms = amount
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("{input:?} is too long"))?;
    if ms == 0 {
        return Err(format!("{input:?} must be longer than zero"));
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_each_unit_and_bare_seconds() {
        assert_eq!(parse("90d").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(parse("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse("30m").unwrap(), Duration::from_secs(1_800));
        assert_eq!(parse("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse(" 3600 ").unwrap(), Duration::from_secs(3_600));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn refuses_zero_unknown_units_and_words() {
        for bad in ["0", "0d", "5w", "d", "", "ninety days", "-5s", "1.5h"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    proptest! {
        #[test]
        fn never_panics(input in "\\PC{0,12}") {
            let _ = parse(&input);
        }

        #[test]
        fn days_are_whole_multiples_of_seconds(days in 1u64..100_000) {
            prop_assert_eq!(parse(&format!("{days}d")).unwrap().as_secs(), days * 86_400);
        }
    }
}
