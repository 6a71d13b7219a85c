//! The lead a record names: its phone, checked, and what the record shows when its call cannot
//! be started. Marks go through the outbox like every other write to Airtable.

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::records::{MARK, write_row};
use super::writeback::sync_link;
use super::{Airtable, AirtableError};
use crate::calls::CallError;
use crate::calls::view::CallView;
use crate::domain::PhoneNumber;
use crate::store::StoreError;

/// What a record says when it cannot be called.
pub const INVALID_PHONE: &str = "failed: invalid phone number";

/// The phone of the record `record_id`; a record without a valid one is marked, and refused.
pub(super) async fn phone(
    airtable: &Airtable,
    record_id: &str,
) -> Result<PhoneNumber, AirtableError> {
    let record = airtable.get_record(record_id).await?;
    match phone_of(&record.fields, &airtable.fields.phone) {
        Some(phone) => Ok(phone),
        None => {
            mark(airtable, record_id, INVALID_PHONE).await?;
            Err(AirtableError::NoPhone {
                record_id: record_id.to_owned(),
                field: airtable.fields.phone.clone(),
            })
        }
    }
}

/// The phone in `field`, if it holds one in E.164 (a phone, text or number cell).
fn phone_of(fields: &Map<String, Value>, field: &str) -> Option<PhoneNumber> {
    let text = match fields.get(field)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => format!("+{n}"),
        _ => return None,
    };
    PhoneNumber::parse(&text).ok()
}

/// The text of the phone field as listed, for a campaign item (checked when its turn comes).
pub(super) fn phone_text(fields: &Map<String, Value>, field: &str) -> Option<String> {
    match fields.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(format!("+{n}")),
        _ => None,
    }
}

/// The status to leave on a record whose call could not be started; `None` when the refusal
/// says nothing about the record (the caller's token, a rate limit, our own failure).
pub(super) fn failure_status(error: &CallError) -> Option<String> {
    match error {
        CallError::Invalid(_) => Some(INVALID_PHONE.to_owned()),
        CallError::Refused(_) => Some("failed: destination not allowed".to_owned()),
        CallError::Twilio {
            retry_after_secs: None,
            ..
        } => Some("failed: twilio_error".to_owned()),
        CallError::Twilio {
            retry_after_secs: Some(_),
            ..
        } => Some("failed: twilio_unavailable".to_owned()),
        _ => None,
    }
}

/// Queues an error status for the record; marks are written once and never retried as calls.
pub(super) async fn mark(
    airtable: &Airtable,
    record_id: &str,
    status: &str,
) -> Result<(), StoreError> {
    let names = &airtable.fields;
    let mut fields = Map::new();
    fields.insert(names.status.clone(), json!(status));
    fields.insert(
        names.last_called_at.clone(),
        json!(super::snapshot::iso8601(Utc::now())),
    );
    airtable
        .store
        .enqueue(write_row(MARK, record_id, fields))
        .await?;
    Ok(())
}

/// Queues the first write of a just-started call's record at once, rather than at the next scan.
pub(super) async fn write_first_status(
    airtable: &Airtable,
    view: &CallView,
) -> Result<(), StoreError> {
    let store = airtable.store.as_ref();
    if let Some(linked) = store.link_for_call(view.id).await? {
        sync_link(store, &airtable.fields, &linked, Utc::now()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_read_from_text_or_number_cells() {
        let fields = json!({"Phone": "+14155550100", "Num": 14155550100_u64, "Bad": "call me",
                            "List": ["+14155550100"]});
        let fields = fields.as_object().unwrap();
        assert_eq!(phone_of(fields, "Phone").unwrap().as_str(), "+14155550100");
        assert_eq!(phone_of(fields, "Num").unwrap().as_str(), "+14155550100");
        assert!(phone_of(fields, "Bad").is_none());
        assert!(phone_of(fields, "List").is_none());
        assert!(phone_of(fields, "Missing").is_none());
    }

    #[test]
    fn only_refusals_about_the_record_mark_it() {
        assert_eq!(
            failure_status(&CallError::Invalid("x".into())).as_deref(),
            Some(INVALID_PHONE)
        );
        assert!(failure_status(&CallError::Forbidden("x".into())).is_none());
        assert!(
            failure_status(&CallError::RateLimited {
                retry_after_secs: 3
            })
            .is_none()
        );
    }
}
