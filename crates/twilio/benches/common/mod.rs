//! Settings shared by this crate's benches.

use std::time::Duration;

use criterion::Criterion;

/// Small on purpose: the whole `cargo bench` should finish in a couple of minutes on 2 cores.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}
