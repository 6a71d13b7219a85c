//! Simulated time: waits are scaled, and the wall clock can be moved forward for expiry tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Scales simulated milliseconds to real ones and tells the (possibly advanced) time of day.
#[derive(Debug)]
pub(crate) struct Clock {
    scale: f64,
    offset_ms: AtomicI64,
}

impl Clock {
    pub(crate) fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            scale,
            offset_ms: AtomicI64::new(0),
        }
    }

    /// The real duration that `sim_ms` simulated milliseconds take.
    pub(crate) fn real(&self, sim_ms: u64) -> Duration {
        Duration::from_secs_f64(sim_ms as f64 / 1000.0 * self.scale)
    }

    /// The instant `sim_ms` simulated milliseconds from now.
    pub(crate) fn deadline(&self, sim_ms: u64) -> Instant {
        Instant::now() + self.real(sim_ms)
    }

    /// Simulated seconds elapsed since `since` (rounded down), for durations Twilio reports.
    pub(crate) fn sim_secs_since(&self, since: Instant) -> u64 {
        (since.elapsed().as_secs_f64() / self.scale) as u64
    }

    /// Simulated milliseconds elapsed since `since`.
    pub(crate) fn sim_ms_since(&self, since: Instant) -> u64 {
        (since.elapsed().as_secs_f64() * 1000.0 / self.scale) as u64
    }

    /// Simulated milliseconds from `from` to `to` (0 if `to` is not later).
    pub(crate) fn sim_ms_between(&self, from: Instant, to: Instant) -> u64 {
        (to.saturating_duration_since(from).as_secs_f64() * 1000.0 / self.scale).round() as u64
    }

    /// The time of day, plus however far the control API moved the clock forward.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// `Tue, 04 Aug 2015 22:50:38 +0000`, the date format of the 2010-04-01 API and of webhook Timestamps.
pub(crate) fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// `2015-08-04T22:50:38Z`, the date format of the v1/v2 APIs.
pub(crate) fn iso8601(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_use_twilio_formats() {
        let t = Utc.with_ymd_and_hms(2015, 8, 4, 22, 50, 38).unwrap();
        assert_eq!(rfc2822(t), "Tue, 04 Aug 2015 22:50:38 +0000");
        assert_eq!(iso8601(t), "2015-08-04T22:50:38Z");
    }

    #[test]
    fn waits_are_scaled() {
        let c = Clock::new(0.01);
        assert_eq!(c.real(1000), Duration::from_millis(10));
        let broken = Clock::new(-1.0);
        assert_eq!(broken.real(1000), Duration::from_secs(1));
    }

    #[test]
    fn advancing_moves_the_wall_clock() {
        let c = Clock::new(1.0);
        let before = c.now();
        c.advance(11 * 60 * 1000);
        assert!(c.now() - before >= chrono::Duration::minutes(11));
    }
}
