//! When and how long to wait before repeating a request.
//!
//! Only requests that are safe to repeat (GET, DELETE) are retried, and only on 429 and 5xx: a
//! repeated create could place a second call or send a second code.

use std::time::Duration;

use rand::Rng as _;
use reqwest::Method;

/// Exponential backoff with full jitter, capped, honouring `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// Upper bound of the first wait.
    pub base_delay: Duration,
    /// No wait (computed or asked for by `Retry-After`) is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub const NONE: Self = Self {
        max_retries: 0,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// Whether a response with `status` to a `method` request, after `attempt` retries already
    /// made, should be repeated.
    pub fn should_retry(&self, method: &Method, status: u16, attempt: u32) -> bool {
        attempt < self.max_retries
            && is_repeatable(method)
            && (status == 429 || (500..600).contains(&status))
    }

    /// The wait before retry number `attempt + 1`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_delay);
        }
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

fn is_repeatable(method: &Method) -> bool {
    *method == Method::GET || *method == Method::DELETE
}

/// Reads a `Retry-After` value: delay seconds, or an HTTP date.
pub(crate) fn parse_retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn retries_only_safe_methods_on_429_and_5xx() {
        let policy = RetryPolicy::default();
        assert!(policy.should_retry(&Method::GET, 429, 0));
        assert!(policy.should_retry(&Method::GET, 503, 2));
        assert!(policy.should_retry(&Method::DELETE, 500, 0));
        assert!(!policy.should_retry(&Method::GET, 503, 3));
        assert!(!policy.should_retry(&Method::POST, 503, 0));
        assert!(!policy.should_retry(&Method::POST, 429, 0));
        assert!(!policy.should_retry(&Method::GET, 404, 0));
        assert!(!policy.should_retry(&Method::GET, 400, 0));
        assert!(!RetryPolicy::NONE.should_retry(&Method::GET, 503, 0));
    }

    #[test]
    fn delay_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        for _ in 0..50 {
            assert!(policy.delay(0, None) <= Duration::from_millis(100));
            assert!(policy.delay(2, None) <= Duration::from_millis(400));
            assert!(policy.delay(30, None) <= Duration::from_millis(500));
        }
        assert_eq!(
            policy.delay(0, Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(60))),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn reads_retry_after_as_seconds_or_date() {
        let now = chrono::Utc
            .with_ymd_and_hms(2015, 10, 21, 7, 28, 0)
            .unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
