//! Live streams across instances: what this instance changes is told to the others through the
//! database, and what they tell wakes the streams here. On a backend that serves one instance
//! there is nothing to relay.

use std::future::Future;

use tokio::sync::broadcast;

use super::live::Nudge;
use crate::domain::mask;
use crate::state::AppState;
use crate::store::CallChange;

/// Runs until `stop` resolves.
pub async fn run<S>(state: AppState, stop: S)
where
    S: Future<Output = ()> + Clone + Send,
{
    let mut changes = match state.store.subscribe_call_changes().await {
        Ok(Some(changes)) => changes,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(err = %mask::text(&error.to_string()), "no news of other instances' calls: live streams here see their changes late");
            return;
        }
    };
    // Listening started after this instance's streams may have missed something.
    state.live.relay(Nudge::Everything);
    let mut local = state.live.subscribe();
    let publish = async {
        loop {
            match local.recv().await {
                Ok(Nudge::Local(id)) => {
                    if let Err(error) = state.store.publish_call_change(id).await {
                        tracing::warn!(call = %id, %error, "could not tell other instances of a change");
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    };
    let listen = async {
        loop {
            match changes.next().await {
                CallChange::Call(id) => state.live.relay(Nudge::Remote(id)),
                CallChange::Unknown => state.live.relay(Nudge::Everything),
            }
        }
    };
    tokio::select! {
        () = stop.clone() => {}
        () = publish => {}
        () = listen => {}
    }
}
