//! Delivers the outbox's Airtable writes: claims due rows (each the oldest of its record),
//! collapses superseded rows, and sends up to ten records per PATCH in this instance's turn.

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::records::{self, MARK, UPDATE, parse_payload, supersedes, write_row};
use super::{Airtable, AirtableError};
use crate::outbox::{coalesce, retry_delay};
use crate::store::{OutboxClaim, OutboxRow};

/// Failed deliveries tried before a row is given up (hours, with the backoff's ceiling).
const MAX_ATTEMPTS: i64 = 25;

/// One record's write in a batch: the claimed row, the rows it stands in for, what to send.
#[derive(Debug)]
struct Item {
    head: OutboxRow,
    followers: Vec<String>,
    update: airtable::RecordUpdate,
}

/// What became of a delivery attempt.
enum Outcome {
    Written,
    Failed(airtable::Error),
}

#[derive(Debug, Clone)]
pub(super) struct Writer {
    airtable: Airtable,
    worker: String,
}

impl Writer {
    pub(super) fn new(airtable: Airtable) -> Self {
        Self {
            airtable,
            worker: crate::outbox::worker_name("airtable-writer"),
        }
    }

    /// Delivers one batch if any row is due; returns whether there was work.
    pub(super) async fn step(&self) -> Result<bool, AirtableError> {
        let store = &self.airtable.store;
        if !store.outbox_ready(records::FAMILY, Utc::now()).await? {
            return Ok(false);
        }
        // Wait for our turn before claiming, so the lease covers the request, not the queue.
        self.airtable.pacer.turn().await?;
        let claim = OutboxClaim {
            worker: self.worker.clone(),
            family: records::FAMILY,
            now: Utc::now(),
            lease: self.airtable.tuning.lease,
            limit: u32::try_from(airtable::MAX_RECORDS_PER_UPDATE).unwrap_or(10),
        };
        let rows = store.claim_outbox(&claim).await?;
        if rows.is_empty() {
            return Ok(false);
        }
        let mut items = Vec::with_capacity(rows.len());
        for head in rows {
            let followers = store.outbox_followers(&head.key, head.seq).await?;
            let run = coalesce(&head, &followers, supersedes);
            let Some(update) = parse_payload(run.payload) else {
                store
                    .kill_outbox(&head.id, &self.worker, "unreadable payload")
                    .await?;
                continue;
            };
            let followers = run.followers;
            items.push(Item {
                head,
                followers,
                update,
            });
        }
        let mut to_send = Vec::with_capacity(items.len());
        // A check spends the turn taken above; the PATCH then needs a turn of its own.
        let checked = items.iter().any(|i| i.head.uncertain);
        for item in items {
            if item.head.uncertain && self.already_written(&item.update).await {
                tracing::info!(record = %item.update.id, "write found already applied");
                self.settle(item, Outcome::Written).await?;
            } else {
                to_send.push(item);
            }
        }
        self.deliver(to_send, checked).await?;
        Ok(true)
    }

    /// A write whose fate is unknown (its lease ran out, its request timed out) is checked
    /// before it is sent again, so that it is not written twice.
    async fn already_written(&self, update: &airtable::RecordUpdate) -> bool {
        match self.airtable.get_record(&update.id).await {
            Ok(record) => update
                .fields
                .iter()
                .all(|(name, value)| record.fields.get(name).unwrap_or(&Value::Null) == value),
            Err(error) => {
                tracing::debug!(%error, "could not check a write; sending it again");
                false
            }
        }
    }

    /// Sends the batch; `pace` when the turn taken before claiming was spent already.
    async fn deliver(&self, items: Vec<Item>, pace: bool) -> Result<(), AirtableError> {
        if items.is_empty() {
            return Ok(());
        }
        let first = self.patch(&items, pace).await?;
        match first {
            // Airtable refuses a whole batch for one bad record: find it by sending alone.
            Outcome::Failed(e) if items.len() > 1 && refuses_the_data(&e) => {
                for item in items {
                    let alone = self.patch(std::slice::from_ref(&item), true).await?;
                    self.settle(item, alone).await?;
                }
            }
            Outcome::Failed(e) => {
                let reason = e.to_string();
                for item in items {
                    self.settle_failure(item, &e, &reason).await?;
                }
            }
            Outcome::Written => {
                for item in items {
                    self.settle(item, Outcome::Written).await?;
                }
            }
        }
        Ok(())
    }

    /// One PATCH; `pace` when the caller has not just waited for a turn.
    async fn patch(&self, items: &[Item], pace: bool) -> Result<Outcome, AirtableError> {
        if pace {
            self.airtable.pacer.turn().await?;
        }
        let updates: Vec<airtable::RecordUpdate> = items.iter().map(|i| i.update.clone()).collect();
        match self.airtable.client.update_records(&updates, true).await {
            Ok(_) => Ok(Outcome::Written),
            // Airtable took the write; only its answer is odd.
            Err(e @ airtable::Error::Decode { .. }) => {
                tracing::warn!(error = %e, records = items.len(), "Airtable wrote the records but its answer did not parse");
                Ok(Outcome::Written)
            }
            Err(e) => {
                if let Some(wait) = e.retry_after() {
                    self.airtable.pacer.penalize(wait).await?;
                }
                tracing::debug!(error = %e, records = items.len(), "Airtable write failed");
                Ok(Outcome::Failed(e))
            }
        }
    }

    async fn settle(&self, item: Item, outcome: Outcome) -> Result<(), AirtableError> {
        match outcome {
            Outcome::Written => {
                let held = self
                    .airtable
                    .store
                    .complete_outbox(&item.head.id, &item.followers, &self.worker)
                    .await?;
                if !held {
                    tracing::warn!(row = %item.head.id, "write delivered after its lease ran out");
                }
                Ok(())
            }
            Outcome::Failed(e) => {
                let reason = e.to_string();
                self.settle_failure(item, &e, &reason).await
            }
        }
    }

    async fn settle_failure(
        &self,
        item: Item,
        e: &airtable::Error,
        reason: &str,
    ) -> Result<(), AirtableError> {
        let store = &self.airtable.store;
        let attempts = item.head.attempts + 1;
        if (refuses_the_data(e)) || attempts >= MAX_ATTEMPTS {
            tracing::warn!(record = %item.update.id, error = %e, "giving up on an Airtable write");
            store
                .kill_outbox(&item.head.id, &self.worker, reason)
                .await?;
            if item.head.kind == UPDATE {
                let mut fields = Map::new();
                fields.insert(
                    self.airtable.fields.status.clone(),
                    json!(format!("error: Airtable refused the update ({})", short(e))),
                );
                store
                    .enqueue(write_row(MARK, &item.update.id, fields))
                    .await?;
            }
            return Ok(());
        }
        let scale = self.airtable.tuning.penalty_scale;
        let mut wait = retry_delay(u32::try_from(attempts).unwrap_or(u32::MAX), scale);
        if let Some(penalty) = e.retry_after() {
            wait += penalty.mul_f64(scale.max(0.0));
        }
        let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        // One failure is routine (a 429, a blip); a second means the record's later writes
        // are waiting behind this one, which whoever runs the service should hear about.
        if attempts >= 2 {
            tracing::warn!(
                record = %item.update.id,
                attempts,
                error = %e,
                retry_in_secs = wait.as_secs(),
                "an Airtable write keeps failing; the record's later writes wait behind it"
            );
        }
        // Without an answer the write may have landed: check before sending it again.
        let uncertain = matches!(e, airtable::Error::Transport(_));
        store
            .retry_outbox(&item.head.id, &self.worker, reason, next, uncertain)
            .await?;
        Ok(())
    }
}

/// Airtable read the request and refused what it says (an unknown record or field, a value the
/// column refuses). Bad credentials or permissions are not this: fixing the configuration fixes
/// them, so those writes keep being retried.
fn refuses_the_data(e: &airtable::Error) -> bool {
    e.is_permanent() && !matches!(e.status(), Some(401 | 403))
}

/// Airtable's error type, or the status, for a record's status field.
fn short(e: &airtable::Error) -> String {
    match (e.kind(), e.status()) {
        (Some(kind), _) if kind != "UNKNOWN" => kind.to_owned(),
        (_, Some(status)) => format!("HTTP {status}"),
        _ => "no answer".to_owned(),
    }
}
