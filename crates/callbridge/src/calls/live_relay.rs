//! Live streams across instances: what this instance changes is told to the others through the
//! database, and what they tell wakes the streams here. On a backend that serves one instance
//! there is nothing to relay.

use std::future::Future;

use tokio::sync::broadcast;

use super::live::Nudge;
use crate::domain::{CallId, mask};
use crate::state::AppState;
use crate::store::CallChange;

/// The most calls one notification transaction names.
const AT_ONCE: usize = 256;

/// Adds to `changed` the calls changed here since (those that came while the last notification
/// was sent), each once; whether the hub has closed.
fn take_waiting(local: &mut broadcast::Receiver<Nudge>, changed: &mut Vec<CallId>) -> bool {
    let mut closed = false;
    while changed.len() < AT_ONCE {
        match local.try_recv() {
            Ok(Nudge::Local(id)) => {
                if !changed.contains(&id) {
                    changed.push(id);
                }
            }
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(broadcast::error::TryRecvError::Empty) => break,
            Err(broadcast::error::TryRecvError::Closed) => {
                closed = true;
                break;
            }
        }
    }
    closed
}

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
            let mut changed = match local.recv().await {
                Ok(Nudge::Local(id)) => vec![id],
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let closed = take_waiting(&mut local, &mut changed);
            if let Err(error) = state.store.publish_call_changes(&changed).await {
                tracing::warn!(calls = changed.len(), %error, "could not tell other instances of a change");
            }
            if closed {
                return;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changes_waiting_are_taken_once_each_and_only_this_instances() {
        let (tx, mut rx) = broadcast::channel(16);
        let (a, b, c) = (CallId::new(), CallId::new(), CallId::new());
        for nudge in [
            Nudge::Local(b),
            Nudge::Remote(c),
            Nudge::Local(a),
            Nudge::Everything,
            Nudge::Local(b),
        ] {
            tx.send(nudge).unwrap();
        }
        let mut changed = vec![a];
        assert!(!take_waiting(&mut rx, &mut changed));
        assert_eq!(changed, [a, b]);
        drop(tx);
        let mut none = Vec::new();
        assert!(take_waiting(&mut rx, &mut none), "the hub closed");
        assert!(none.is_empty());
    }

    #[test]
    fn one_notification_names_at_most_its_share_of_calls() {
        let (tx, mut rx) = broadcast::channel(AT_ONCE * 2);
        for _ in 0..AT_ONCE + 10 {
            tx.send(Nudge::Local(CallId::new())).unwrap();
        }
        let mut changed = Vec::new();
        assert!(!take_waiting(&mut rx, &mut changed));
        assert_eq!(changed.len(), AT_ONCE);
        let mut rest = Vec::new();
        take_waiting(&mut rx, &mut rest);
        assert_eq!(rest.len(), 10);
    }
}
