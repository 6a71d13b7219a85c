use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).unwrap()
}

#[test]
fn windows_are_aligned_to_the_epoch() {
    let minute = Duration::from_secs(60);
    assert_eq!(window_start(at(125_000), minute), at(120_000));
    assert_eq!(window_start(at(120_000), minute), at(120_000));
    assert_eq!(window_start(at(179_999), minute), at(120_000));
}

#[test]
fn the_limit_itself_is_allowed_and_one_more_is_not() {
    let minute = Duration::from_secs(60);
    let window = |hits| RateWindow {
        window_start: at(120_000),
        hits,
    };
    assert_eq!(decide(window(3), 3, minute, at(130_000)), Ok(()));
    assert_eq!(decide(window(4), 3, minute, at(130_000)), Err(50));
}

#[test]
fn retry_after_rounds_up_and_is_never_zero() {
    let minute = Duration::from_secs(60);
    let full = RateWindow {
        window_start: at(120_000),
        hits: 9,
    };
    assert_eq!(decide(full, 1, minute, at(178_500)), Err(2));
    assert_eq!(decide(full, 1, minute, at(179_999)), Err(1));
    // A window stored by an instance whose clock runs ahead.
    assert_eq!(decide(full, 1, minute, at(100_000)), Err(80));
    assert_eq!(decide(full, 1, minute, at(500_000)), Err(1));
}

proptest! {
    #[test]
    fn now_always_falls_inside_its_window(ms in 0i64..4_000_000_000_000, secs in 1u64..100_000) {
        let window = Duration::from_secs(secs);
        let start = window_start(at(ms), window);
        prop_assert!(start <= at(ms));
        prop_assert!(at(ms).timestamp_millis() - start.timestamp_millis() < (secs as i64) * 1000);
    }

    #[test]
    fn refusals_say_to_wait_at_most_one_window(
        offset in 0i64..60_000, hits in 0i64..100, limit in 0u32..50,
    ) {
        let minute = Duration::from_secs(60);
        let counted = RateWindow { window_start: at(600_000), hits };
        match decide(counted, limit, minute, at(600_000 + offset)) {
            Ok(()) => prop_assert!(hits <= i64::from(limit)),
            Err(secs) => {
                prop_assert!(hits > i64::from(limit));
                prop_assert!((1..=60).contains(&secs));
            }
        }
    }
}
