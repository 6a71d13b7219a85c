//! Records and the request/response shapes of the record endpoints.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Airtable updates at most this many records per request.
pub const MAX_RECORDS_PER_UPDATE: usize = 10;

/// Airtable lists at most this many records per page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One row of a table. Airtable leaves empty fields out of `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `rec…`.
    pub id: String,
    /// When the record was created.
    #[serde(rename = "createdTime")]
    pub created_time: DateTime<Utc>,
    /// Cell values by field name.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

/// What to list, and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Only the records of this view (name or id), in the view's order.
    pub view: Option<String>,
    /// Records per page, at most [`MAX_PAGE_SIZE`]; Airtable's default is 100.
    pub page_size: Option<u32>,
    /// The `offset` of the previous [`Page`], to continue from there.
    pub offset: Option<String>,
    /// Only these fields in each record; all when empty.
    pub fields: Vec<String>,
}

impl ListParams {
    /// The query string pairs, named as Airtable names them.
    pub(crate) fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(view) = &self.view {
            pairs.push(("view", view.clone()));
        }
        if let Some(size) = self.page_size {
            pairs.push(("pageSize", size.to_string()));
        }
        if let Some(offset) = &self.offset {
            pairs.push(("offset", offset.clone()));
        }
        pairs.extend(self.fields.iter().map(|f| ("fields[]", f.clone())));
        pairs
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The records of this page.
    pub records: Vec<Record>,
    /// Present while more records follow; pass it back in [`ListParams::offset`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
}

/// New values for some fields of one record; fields not named keep their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordUpdate {
    /// The record to change.
    pub id: String,
    /// New cell values by field name; `null` clears a cell.
    pub fields: Map<String, Value>,
}

/// The body of `PATCH /v0/{base}/{table}`.
#[derive(Debug, Serialize)]
pub(crate) struct UpdateBody<'a> {
    pub(crate) records: &'a [RecordUpdate],
    pub(crate) typecast: bool,
}

/// The answer to `PATCH /v0/{base}/{table}`.
#[derive(Debug, Deserialize)]
pub(crate) struct UpdatedRecords {
    pub(crate) records: Vec<Record>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_params_name_their_query_pairs_as_airtable_does() {
        let params = ListParams {
            view: Some("To call".to_owned()),
            page_size: Some(50),
            offset: Some("itr1/rec2".to_owned()),
            fields: vec!["Phone".to_owned(), "Name".to_owned()],
        };
        insta::assert_yaml_snapshot!(params.query_pairs());
        assert!(ListParams::default().query_pairs().is_empty());
    }

    #[test]
    fn the_update_body_has_airtables_shape() {
        let mut fields = Map::new();
        fields.insert("Call Status".to_owned(), json!("ringing"));
        fields.insert("Recording URL".to_owned(), Value::Null);
        let records = [RecordUpdate {
            id: "recA".to_owned(),
            fields,
        }];
        let body = UpdateBody {
            records: &records,
            typecast: true,
        };
        insta::assert_json_snapshot!(body);
    }

    #[test]
    fn a_record_reads_airtables_json() {
        let record: Record = serde_json::from_value(json!({
            "id": "rec560UJdUtocSouk",
            "createdTime": "2022-09-12T21:03:48.000Z",
            "fields": {"Phone": "+14155550100", "Attempts": 2}
        }))
        .unwrap();
        assert_eq!(record.id, "rec560UJdUtocSouk");
        assert_eq!(
            record.created_time.to_rfc3339(),
            "2022-09-12T21:03:48+00:00"
        );
        assert_eq!(record.fields["Attempts"], json!(2));
        let bare: Record = serde_json::from_value(
            json!({"id": "rec1", "createdTime": "2022-09-12T21:03:48.000Z"}),
        )
        .unwrap();
        assert!(bare.fields.is_empty());
    }
}
