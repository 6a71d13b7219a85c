//! Keeping to Airtable's pace: at most N requests in any rolling window, and a pause after a 429.
//!
//! This is the in-process part of the pacing; several service instances sharing one base also
//! need a lease outside the process so that their gates do not add up.

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::time::{Instant, sleep_until};

/// How a [`RateGate`] paces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateConfig {
    /// Requests allowed in any rolling window; 0 is taken as 1.
    pub max_requests: u32,
    /// The length of the rolling window.
    pub window: Duration,
    /// Multiplies every pause asked for with [`RateGate::penalize`]; tests shrink Airtable's
    /// 30 seconds with it.
    pub penalty_scale: f64,
}

impl GateConfig {
    /// Airtable's limit for one base: 5 requests per second, and the full 30 s after a 429.
    ///
    /// The window is a little longer than a second because requests granted exactly one second
    /// apart can arrive closer together than that once the network has jittered them.
    pub const AIRTABLE: Self = Self {
        max_requests: 5,
        window: Duration::from_millis(1_050),
        penalty_scale: 1.0,
    };
}

impl Default for GateConfig {
    fn default() -> Self {
        Self::AIRTABLE
    }
}

/// An async limiter: at most [`GateConfig::max_requests`] grants in any rolling
/// [`GateConfig::window`], and none while paused. Cheap to clone; clones share one budget.
#[derive(Clone)]
pub struct RateGate {
    config: GateConfig,
    state: Arc<Mutex<GateState>>,
}

#[derive(Debug, Default)]
struct GateState {
    /// Grant times still inside the window, oldest first.
    granted: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl fmt::Debug for RateGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("RateGate")
            .field("config", &self.config)
            .field("in_window", &state.granted.len())
            .field("paused_until", &state.paused_until)
            .finish()
    }
}

impl Default for RateGate {
    fn default() -> Self {
        Self::new(GateConfig::AIRTABLE)
    }
}

impl RateGate {
    /// A gate pacing as `config` says.
    pub fn new(config: GateConfig) -> Self {
        Self {
            config,
            state: Arc::default(),
        }
    }

    /// How this gate paces.
    pub fn config(&self) -> GateConfig {
        self.config
    }

    /// Waits until one more request fits in the window and no pause is on, then counts it.
    pub async fn acquire(&self) {
        while let Some(wait_until) = self.try_grant(Instant::now()) {
            sleep_until(wait_until).await;
        }
    }

    /// Stops every grant until `until`; an earlier pause never shortens a later one.
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.lock();
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Pauses for `wait` scaled by [`GateConfig::penalty_scale`], as after a 429.
    pub fn penalize(&self, wait: Duration) {
        self.pause_until(Instant::now() + wait.mul_f64(self.config.penalty_scale.max(0.0)));
    }

    /// The end of the current pause, if one is on.
    pub fn paused_until(&self) -> Option<Instant> {
        let now = Instant::now();
        self.lock().paused_until.filter(|p| *p > now)
    }

    /// Grants at `now` and returns `None`, or returns when to try again.
    fn try_grant(&self, now: Instant) -> Option<Instant> {
        let mut state = self.lock();
        if let Some(paused) = state.paused_until
            && paused > now
        {
            return Some(paused);
        }
        while state
            .granted
            .front()
            .is_some_and(|t| *t + self.config.window <= now)
        {
            state.granted.pop_front();
        }
        let limit = usize::try_from(self.config.max_requests.max(1)).unwrap_or(usize::MAX);
        if state.granted.len() < limit {
            state.granted.push_back(now);
            return None;
        }
        state
            .granted
            .front()
            .map(|oldest| *oldest + self.config.window)
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // The state stays consistent even if a holder panicked: every change is one push or pop.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max_requests: u32, penalty_scale: f64) -> RateGate {
        RateGate::new(GateConfig {
            max_requests,
            window: Duration::from_secs(1),
            penalty_scale,
        })
    }

    /// Runs `n` concurrent acquisitions and returns their grant times relative to `start`.
    async fn grant_times(gate: &RateGate, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move {
                    gate.acquire().await;
                    Instant::now() - start
                })
            })
            .collect();
        let mut times = Vec::with_capacity(n);
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times.sort();
        times
    }

    fn most_in_any_window(times: &[Duration], window: Duration) -> usize {
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

    #[tokio::test(start_paused = true)]
    async fn grants_at_most_n_in_any_rolling_window() {
        let gate = gate(5, 1.0);
        let times = grant_times(&gate, 23).await;
        assert_eq!(most_in_any_window(&times, Duration::from_secs(1)), 5);
        // Five at once, then five more each time the oldest grants leave the window.
        let seconds: Vec<u64> = times.iter().map(|t| t.as_secs()).collect();
        let expected: Vec<u64> = (0..23).map(|i| i / 5).collect();
        assert_eq!(seconds, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn spaced_requests_never_wait() {
        let gate = gate(5, 1.0);
        let start = Instant::now();
        for i in 0..20u32 {
            gate.acquire().await;
            assert_eq!(Instant::now() - start, Duration::from_millis(200) * i);
            tokio::time::advance(Duration::from_millis(200)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_grant_leaves_the_window_exactly_one_window_later() {
        let gate = gate(2, 1.0);
        let start = Instant::now();
        gate.acquire().await;
        tokio::time::advance(Duration::from_millis(300)).await;
        gate.acquire().await;
        gate.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
        gate.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_millis(1_300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_penalty_holds_every_grant_for_the_scaled_wait() {
        let gate = gate(5, 0.1);
        let start = Instant::now();
        gate.penalize(Duration::from_secs(30));
        assert_eq!(gate.paused_until(), Some(start + Duration::from_secs(3)));
        let times = grant_times(&gate, 3).await;
        assert!(
            times.iter().all(|t| *t == Duration::from_secs(3)),
            "{times:?}"
        );
        assert_eq!(gate.paused_until(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_pause_never_cuts_a_longer_one() {
        let gate = gate(5, 1.0);
        let start = Instant::now();
        gate.pause_until(start + Duration::from_secs(30));
        gate.pause_until(start + Duration::from_secs(1));
        gate.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_budget() {
        let a = gate(1, 1.0);
        let b = a.clone();
        let start = Instant::now();
        a.acquire().await;
        b.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_limit_still_lets_one_through_per_window() {
        let gate = gate(0, 1.0);
        let times = grant_times(&gate, 3).await;
        assert_eq!(times, [0, 1, 2].map(Duration::from_secs).to_vec(),);
    }

    #[test]
    fn the_default_is_airtables_limit() {
        let config = RateGate::default().config();
        assert_eq!(config.max_requests, 5);
        assert!(config.window >= Duration::from_secs(1));
        assert!((config.penalty_scale - 1.0).abs() < f64::EPSILON);
    }
}
