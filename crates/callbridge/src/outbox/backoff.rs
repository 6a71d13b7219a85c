//! Exponential backoff with jitter for failed deliveries.

use std::time::Duration;

use rand::Rng as _;

/// The first retry waits about this long (before scaling).
const FIRST: Duration = Duration::from_secs(1);
/// No retry waits longer than this (before scaling).
const CEILING: Duration = Duration::from_secs(5 * 60);

/// The wait before retrying a row that failed `attempts` times (1 for the first failure):
/// doubling from one second up to five minutes, times `scale`, with up to a quarter of jitter so
/// that rows failed together do not come back together.
pub fn retry_delay(attempts: u32, scale: f64) -> Duration {
    let doubled = FIRST.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)));
    let base = doubled.min(CEILING).mul_f64(scale.max(0.0));
    let jitter = rand::rng().random_range(0.0..=0.25);
    base + base.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn waits_double_up_to_the_ceiling() {
        let lower = |n| retry_delay(n, 1.0);
        assert!(lower(1) >= FIRST && lower(1) <= FIRST.mul_f64(1.25));
        assert!(lower(3) >= FIRST * 4 && lower(3) <= (FIRST * 4).mul_f64(1.25));
        assert!(lower(30) >= CEILING && lower(30) <= CEILING.mul_f64(1.25));
        assert_eq!(retry_delay(5, 0.0), Duration::ZERO);
    }

    proptest! {
        #[test]
        fn never_panics_and_never_exceeds_the_scaled_ceiling(attempts in any::<u32>(), scale in 0.0f64..10.0) {
            let wait = retry_delay(attempts, scale);
            prop_assert!(wait <= CEILING.mul_f64(scale * 1.25) + Duration::from_nanos(1));
        }
    }
}
