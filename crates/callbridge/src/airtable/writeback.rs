//! Follows the calls linked to records and queues a write whenever what a record should show
//! changes. Driven by the call rows, not by the call flow, so any instance can do it and a
//! restart misses nothing.

use chrono::{DateTime, Utc};

use super::records::{UPDATE, write_row};
use super::settings::FieldNames;
use super::snapshot::{Snapshot, settles};
use crate::store::{LinkChange, LinkedCall, Store, StoreResult};

/// Links looked at per pass.
const SCAN_LIMIT: u32 = 500;

/// Queues the write (if any) that brings the link's record up to date with its call. Returns
/// whether a write was queued by this call (false when nothing changed or another instance
/// queued it first).
pub async fn sync_link(
    store: &dyn Store,
    names: &FieldNames,
    link: &LinkedCall,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let next = Snapshot::of(link);
    let before = Snapshot::decode(&link.last_enqueued);
    let changes = next.changes_since(before.as_ref(), names);
    let settled = settles(link, now);
    if changes.is_empty() && !settled {
        return Ok(false);
    }
    let write = (!changes.is_empty()).then(|| write_row(UPDATE, &link.record_id, changes));
    let queued = write.is_some();
    let moved = store
        .enqueue_link_change(LinkChange {
            call_id: link.call_id,
            expected: link.last_enqueued.clone(),
            snapshot: next.encode(),
            settled,
            write,
        })
        .await?;
    Ok(moved && queued)
}

/// One pass over the open links; returns how many writes it queued.
pub async fn scan(store: &dyn Store, names: &FieldNames) -> StoreResult<usize> {
    let mut queued = 0;
    for link in store.open_links(SCAN_LIMIT).await? {
        if sync_link(store, names, &link, Utc::now()).await? {
            queued += 1;
        }
    }
    Ok(queued)
}
