//! Twilio's connection overrides: a webhook URL's fragment (`#ct=1000&rc=3&rp=5xx`) sets how that
//! one request is made. The fragment never leaves the simulator: it is neither sent nor signed.

use std::time::Duration;

/// How a webhook is sent: timeouts, and how often and on what it is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overrides {
    /// `ct`: how long a connection may take, 100 to 10000 ms.
    pub(crate) connect_ms: u64,
    /// `rt`: how long the answer may take once connected, 100 to 15000 ms.
    pub(crate) read_ms: u64,
    /// `tt`: how long every attempt together may take, 100 to 15000 ms.
    pub(crate) total_ms: u64,
    /// `rc`: how many times a failed attempt is retried, 0 to 5.
    pub(crate) retries: u32,
    /// `rp`: which failures are retried.
    pub(crate) policy: RetryPolicy,
}

/// `rp`: a comma-separated list of `4xx`, `5xx`, `ct` (connection failures), `rt` (read
/// timeouts) or `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub(crate) client_errors: bool,
    pub(crate) server_errors: bool,
    pub(crate) connect_failures: bool,
    pub(crate) read_timeouts: bool,
}

/// Why an attempt failed, as the retry policy tells failures apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Status(u16),
    Connect,
    Read,
}

impl Default for Overrides {
    /// Twilio's defaults: 5 s to connect, 15 s to answer and 15 s in all, one retry on a
    /// connection failure.
    fn default() -> Self {
        Self {
            connect_ms: 5000,
            read_ms: 15000,
            total_ms: 15000,
            retries: 1,
            policy: RetryPolicy {
                connect_failures: true,
                ..RetryPolicy::NONE
            },
        }
    }
}

impl RetryPolicy {
    const NONE: Self = Self {
        client_errors: false,
        server_errors: false,
        connect_failures: false,
        read_timeouts: false,
    };

    fn parse(value: &str) -> Option<Self> {
        let mut policy = Self::NONE;
        for part in value.split(',').map(str::trim) {
            match part {
                "4xx" => policy.client_errors = true,
                "5xx" => policy.server_errors = true,
                "ct" => policy.connect_failures = true,
                "rt" => policy.read_timeouts = true,
                "all" => {
                    policy = Self {
                        client_errors: true,
                        server_errors: true,
                        connect_failures: true,
                        read_timeouts: true,
                    }
                }
                _ => return None,
            }
        }
        Some(policy)
    }

    pub(crate) fn retries(self, failure: Failure) -> bool {
        match failure {
            Failure::Status(400..=499) => self.client_errors,
            Failure::Status(500..=599) => self.server_errors,
            Failure::Status(_) => false,
            Failure::Connect => self.connect_failures,
            Failure::Read => self.read_timeouts,
        }
    }
}

impl Overrides {
    /// The settings a fragment asks for. A value out of its range is brought within it; one that
    /// is not a number, an unknown policy and keys this simulator has no use for (`e`, `sni`)
    /// leave the default.
    pub(crate) fn parse(fragment: Option<&str>) -> Self {
        let mut o = Self::default();
        let Some(fragment) = fragment else {
            return o;
        };
        for (key, value) in url::form_urlencoded::parse(fragment.as_bytes()) {
            let ms = |lo: u64, hi: u64| value.parse::<u64>().ok().map(|v| v.clamp(lo, hi));
            match key.as_ref() {
                "ct" => o.connect_ms = ms(100, 10_000).unwrap_or(o.connect_ms),
                "rt" => o.read_ms = ms(100, 15_000).unwrap_or(o.read_ms),
                "tt" => o.total_ms = ms(100, 15_000).unwrap_or(o.total_ms),
                "rc" => {
                    o.retries = value.parse::<u32>().map_or(o.retries, |n| n.min(5));
                }
                "rp" => o.policy = RetryPolicy::parse(&value).unwrap_or(o.policy),
                _ => {}
            }
        }
        o
    }

    pub(crate) fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }

    pub(crate) fn read(&self) -> Duration {
        Duration::from_millis(self.read_ms)
    }

    pub(crate) fn total(&self) -> Duration {
        Duration::from_millis(self.total_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_fragment_is_twilios_defaults() {
        let o = Overrides::parse(None);
        assert_eq!(o, Overrides::default());
        assert_eq!(
            (o.connect_ms, o.read_ms, o.total_ms, o.retries),
            (5000, 15000, 15000, 1)
        );
        assert!(o.policy.retries(Failure::Connect));
        assert!(!o.policy.retries(Failure::Read));
        assert!(!o.policy.retries(Failure::Status(503)));
    }

    #[test]
    fn every_key_is_read_and_kept_within_its_range() {
        let o = Overrides::parse(Some("ct=50&rt=20000&tt=800&rc=9&rp=4xx,rt"));
        assert_eq!(o.connect_ms, 100);
        assert_eq!(o.read_ms, 15000);
        assert_eq!(o.total_ms, 800);
        assert_eq!(o.retries, 5);
        assert!(o.policy.retries(Failure::Status(404)));
        assert!(o.policy.retries(Failure::Read));
        assert!(!o.policy.retries(Failure::Status(500)));
        assert!(!o.policy.retries(Failure::Connect));
    }

    #[test]
    fn all_retries_everything_but_a_success_or_redirect() {
        let o = Overrides::parse(Some("rp=all&rc=0&e=dublin&sni=y"));
        assert_eq!(o.retries, 0);
        for f in [
            Failure::Status(400),
            Failure::Status(502),
            Failure::Connect,
            Failure::Read,
        ] {
            assert!(o.policy.retries(f), "{f:?}");
        }
        assert!(!o.policy.retries(Failure::Status(302)));
    }

    #[test]
    fn values_that_make_no_sense_leave_the_default() {
        let o = Overrides::parse(Some("ct=soon&rc=-1&rp=sometimes"));
        assert_eq!(o, Overrides::default());
    }
}
