//! Counting requests in rolling one-second windows, as Airtable's limit does.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

/// Airtable's window for its per-base limit.
pub(super) const WINDOW: Duration = Duration::from_secs(1);

/// The arrivals of the last window for one base, and any lockout after a 429.
#[derive(Debug, Default)]
pub(super) struct RateWindow {
    arrivals: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl RateWindow {
    /// Counts an arrival at `now`; true when it is refused, either because it is one more than
    /// `limit` in the window or because an earlier refusal's `lockout` is still running. Refused
    /// requests count too, so a client that keeps pushing keeps being refused.
    pub(super) fn arrive(&mut self, now: Instant, limit: usize, lockout: Duration) -> bool {
        while self.arrivals.front().is_some_and(|t| *t + WINDOW <= now) {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
        if self.locked_until.is_some_and(|until| until > now) {
            return true;
        }
        let over = self.arrivals.len() > limit;
        if over && !lockout.is_zero() {
            self.locked_until = Some(now + lockout);
        }
        over
    }
}

/// The most entries of `sorted` (ascending) inside any half-open window `[t, t + window)`.
pub(super) fn max_in_any_window(sorted: &[Duration], window: Duration) -> usize {
    let mut best = 0;
    let mut first = 0;
    for (last, at) in sorted.iter().enumerate() {
        while sorted[first] + window <= *at {
            first += 1;
        }
        best = best.max(last - first + 1);
    }
    best
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn brute_force(times: &[Duration], window: Duration) -> usize {
        times
            .iter()
            .map(|start| {
                times
                    .iter()
                    .filter(|t| **t >= *start && **t < *start + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    proptest! {
        #[test]
        fn the_sweep_agrees_with_counting_every_window(mut millis in proptest::collection::vec(0u64..5_000, 0..60)) {
            millis.sort_unstable();
            let times: Vec<Duration> = millis.into_iter().map(Duration::from_millis).collect();
            prop_assert_eq!(max_in_any_window(&times, WINDOW), brute_force(&times, WINDOW));
        }
    }

    #[test]
    fn arrivals_exactly_one_window_apart_do_not_share_it() {
        let ms = Duration::from_millis;
        assert_eq!(max_in_any_window(&[ms(0), ms(1_000), ms(2_000)], WINDOW), 1);
        assert_eq!(max_in_any_window(&[ms(0), ms(999)], WINDOW), 2);
        assert_eq!(max_in_any_window(&[], WINDOW), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_sixth_arrival_in_a_second_is_refused() {
        let mut window = RateWindow::default();
        let refused: Vec<bool> = (0..7)
            .map(|_| window.arrive(Instant::now(), 5, Duration::ZERO))
            .collect();
        assert_eq!(refused, [false, false, false, false, false, true, true]);
        tokio::time::advance(WINDOW).await;
        assert!(!window.arrive(Instant::now(), 5, Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lockout_refuses_everything_until_it_ends() {
        let mut window = RateWindow::default();
        let lockout = Duration::from_secs(30);
        for _ in 0..5 {
            assert!(!window.arrive(Instant::now(), 5, lockout));
        }
        assert!(window.arrive(Instant::now(), 5, lockout));
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(window.arrive(Instant::now(), 5, lockout));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!window.arrive(Instant::now(), 5, lockout));
    }
}
