//! The integration's background work, run by every instance while it serves: following linked
//! calls, delivering queued writes, and stepping campaigns. Each loop finishes the step it is in
//! when the stop signal comes (a write in flight is not cut off), then returns.

use std::future::Future;

use futures::FutureExt as _;

use super::campaigns::Runner;
use super::writeback;
use super::writer::Writer;
use crate::state::AppState;

/// Runs until `stop` resolves; returns at once when Airtable is not configured.
pub async fn run<S>(state: AppState, stop: S)
where
    S: Future<Output = ()> + Clone + Send,
{
    let Some(airtable) = state.airtable.clone() else {
        return;
    };
    let poll = airtable.tuning.poll_interval;
    let scanner = {
        let airtable = airtable.clone();
        repeat("airtable write-back scan", poll, stop.clone(), move || {
            let airtable = airtable.clone();
            async move {
                let queued =
                    writeback::scan(airtable.store.as_ref(), airtable.fields.as_ref()).await?;
                Ok::<_, crate::store::StoreError>(queued > 0)
            }
        })
    };
    let writer = Writer::new(airtable);
    let writer = repeat("airtable writer", poll, stop.clone(), move || {
        let writer = writer.clone();
        async move { writer.step().await }
    });
    let runner = Runner::new(state.clone());
    let runner = repeat("airtable campaigns", poll, stop.clone(), move || {
        let runner = runner.clone();
        async move { runner.step().await }
    });
    let dialer = super::dialer::runner::Runner::new(state);
    let dialer = repeat(
        "airtable session campaigns",
        poll,
        stop.clone(),
        move || {
            let dialer = dialer.clone();
            async move { dialer.step().await }
        },
    );
    tokio::join!(scanner, writer, runner, dialer);
}

/// Calls `step` again at once while it finds work, after `poll` when it found none or failed,
/// until `stop` resolves.
async fn repeat<S, F, Fut, E>(name: &'static str, poll: std::time::Duration, stop: S, step: F)
where
    S: Future<Output = ()> + Clone,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<bool, E>>,
    E: std::fmt::Display,
{
    loop {
        if stop.clone().now_or_never().is_some() {
            return;
        }
        let busy = match step().await {
            Ok(busy) => busy,
            Err(error) => {
                tracing::warn!(task = name, %error, "background step failed; will retry");
                false
            }
        };
        if !busy {
            tokio::select! {
                () = stop.clone() => return,
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}
