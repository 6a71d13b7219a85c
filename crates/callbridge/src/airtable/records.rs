//! Talking to the table: paced reads with retries, and the outbox payloads of writes.

use serde_json::{Map, Value, json};

use super::{Airtable, AirtableError};
use crate::outbox::retry_delay;
use crate::store::NewOutboxRow;

/// The outbox family of every Airtable write.
pub const FAMILY: &str = "airtable";
/// A write of a call's changes to its record.
pub const UPDATE: &str = "airtable.update";
/// An error written to a record (invalid phone, a write Airtable refused); never followed by
/// another mark if it fails too.
pub const MARK: &str = "airtable.mark";

/// Reads retried on a 429, a 5xx or no answer.
const READ_ATTEMPTS: u32 = 6;

/// Outbox rows of one record share a key, so they are written in the order queued.
pub fn record_key(record_id: &str) -> String {
    format!("airtable:{record_id}")
}

/// An outbox row writing `fields` to `record_id`.
pub fn write_row(kind: &str, record_id: &str, fields: Map<String, Value>) -> NewOutboxRow {
    NewOutboxRow {
        kind: kind.to_owned(),
        key: record_key(record_id),
        payload: json!({"record": record_id, "fields": Value::Object(fields)}),
    }
}

/// The record and fields of a payload written by [`write_row`].
pub fn parse_payload(payload: &Value) -> Option<airtable::RecordUpdate> {
    let id = payload.get("record")?.as_str()?.to_owned();
    let fields = payload.get("fields")?.as_object()?.clone();
    Some(airtable::RecordUpdate { id, fields })
}

/// A later write stands in for an earlier one when it names every field the earlier one did.
pub fn supersedes(later: &Value, earlier: &Value) -> bool {
    match (parse_payload(later), parse_payload(earlier)) {
        (Some(later), Some(earlier)) => {
            later.id == earlier.id && earlier.fields.keys().all(|k| later.fields.contains_key(k))
        }
        _ => false,
    }
}

impl Airtable {
    /// One record, read in this instance's turn, retried while the error is passing.
    pub async fn get_record(&self, record_id: &str) -> Result<airtable::Record, AirtableError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pacer.turn().await?;
            match self.client.get_record(record_id).await {
                Ok(record) => return Ok(record),
                Err(e) => self.after_failed_read(e, attempt).await?,
            }
        }
    }

    /// Every record of `view`, page by page, each page in this instance's turn.
    pub async fn list_view(
        &self,
        view: &str,
        fields: &[String],
    ) -> Result<Vec<airtable::Record>, AirtableError> {
        let mut params = airtable::ListParams {
            view: Some(view.to_owned()),
            page_size: Some(airtable::MAX_PAGE_SIZE),
            offset: None,
            fields: fields.to_vec(),
        };
        let mut records = Vec::new();
        let mut attempt = 0;
        loop {
            self.pacer.turn().await?;
            match self.client.list_records(&params).await {
                Ok(page) => {
                    attempt = 0;
                    records.extend(page.records);
                    match page.offset {
                        Some(offset) => params.offset = Some(offset),
                        None => return Ok(records),
                    }
                }
                Err(e) => {
                    attempt += 1;
                    self.after_failed_read(e, attempt).await?;
                }
            }
        }
    }

    /// Gives the error back when the read should not be tried again; otherwise waits.
    async fn after_failed_read(
        &self,
        e: airtable::Error,
        attempt: u32,
    ) -> Result<(), AirtableError> {
        if let Some(wait) = e.retry_after() {
            self.pacer.penalize(wait).await?;
        }
        if !e.is_retryable() || attempt >= READ_ATTEMPTS {
            return Err(e.into());
        }
        tracing::debug!(error = %e, attempt, "retrying an Airtable read");
        tokio::time::sleep(
            retry_delay(attempt, self.tuning.penalty_scale).min(std::time::Duration::from_secs(2)),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_reads_back_as_the_update_it_describes() {
        let mut fields = Map::new();
        fields.insert("Call Status".into(), json!("ringing"));
        let row = write_row(UPDATE, "recA", fields.clone());
        assert_eq!(row.key, "airtable:recA");
        let update = parse_payload(&row.payload).unwrap();
        assert_eq!(update.id, "recA");
        assert_eq!(update.fields, fields);
        assert!(parse_payload(&json!({"fields": {}})).is_none());
    }

    #[test]
    fn a_write_supersedes_one_whose_fields_it_all_names() {
        let row = |fields: Value| write_row(UPDATE, "recA", fields.as_object().unwrap().clone());
        let both = row(json!({"Call Status": "completed", "Call Duration": 4})).payload;
        let status = row(json!({"Call Status": "connected"})).payload;
        assert!(supersedes(&both, &status));
        assert!(!supersedes(&status, &both));
        let other = write_row(UPDATE, "recB", Map::new()).payload;
        assert!(!supersedes(&both, &other));
    }
}
