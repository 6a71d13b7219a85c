//! The fake's tables: records, views, the history of every written field, and the record
//! endpoints' rules (listing pages, validating and applying updates).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::records::{MAX_PAGE_SIZE, MAX_RECORDS_PER_UPDATE, Page, Record};

/// An error answer: status and Airtable-shaped JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Refusal {
    pub(super) status: u16,
    pub(super) body: Value,
}

impl Refusal {
    /// `{"error":{"type":…,"message":…}}`.
    pub(super) fn typed(status: u16, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": {"type": kind, "message": message.into()}}),
        }
    }

    /// Airtable's bare 404: `{"error":"NOT_FOUND"}`.
    pub(super) fn not_found() -> Self {
        Self {
            status: 404,
            body: json!({"error": "NOT_FOUND"}),
        }
    }

    /// Airtable's 429 body.
    pub(super) fn rate_limited() -> Self {
        Self {
            status: 429,
            body: json!({"errors": [{
                "error": "RATE_LIMIT_REACHED",
                "message": "Rate limit exceeded. Please try again later"
            }]}),
        }
    }

    /// The 422 Airtable gives for a request whose parameters do not fit, with what did not.
    pub(super) fn invalid_request(detail: &str) -> Self {
        Self::typed(
            422,
            "INVALID_REQUEST_UNKNOWN",
            format!(
                "Invalid request: parameter validation failed. Check your request data. ({detail})"
            ),
        )
    }

    /// What Airtable answers for a base or table the token cannot see.
    pub(super) fn model_not_found() -> Self {
        Self::typed(
            403,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
            "Invalid permissions, or the requested model was not found. Check that both your \
             user and your token have the required permissions, and that the model names and/or \
             ids are correct.",
        )
    }
}

#[derive(Debug, Clone)]
struct StoredRecord {
    id: String,
    created_time: DateTime<Utc>,
    fields: Map<String, Value>,
}

impl StoredRecord {
    fn to_record(&self, only: &[String]) -> Record {
        let fields = if only.is_empty() {
            self.fields.clone()
        } else {
            self.fields
                .iter()
                .filter(|(name, _)| only.contains(name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        };
        Record {
            id: self.id.clone(),
            created_time: self.created_time,
            fields,
        }
    }
}

/// New values for the fields of one record, by record id.
type Change = (String, Map<String, Value>);

/// One table: records in creation order, named views, and per-field write history.
#[derive(Debug, Default)]
pub(super) struct Table {
    records: Vec<StoredRecord>,
    views: HashMap<String, Vec<String>>,
    /// When set, updates may only name these fields.
    schema: Option<BTreeSet<String>>,
    history: HashMap<(String, String), Vec<Value>>,
}

/// The query of a list request.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ListQuery {
    view: Option<String>,
    page_size: usize,
    offset: Option<String>,
    fields: Vec<String>,
}

impl ListQuery {
    /// Reads a raw query string, refusing parameters the fake does not implement so that a test
    /// never passes on a filter that was silently ignored.
    pub(super) fn parse(raw: Option<&str>) -> Result<Self, Refusal> {
        let mut query = Self {
            page_size: MAX_PAGE_SIZE as usize,
            ..Self::default()
        };
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "view" => query.view = Some(value.into_owned()),
                "offset" => query.offset = Some(value.into_owned()),
                "fields[]" => query.fields.push(value.into_owned()),
                "pageSize" => {
                    query.page_size = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_SIZE as usize).contains(n))
                        .ok_or_else(|| {
                            Refusal::invalid_request(&format!(
                                "pageSize must be 1 to {MAX_PAGE_SIZE}, not {value:?}"
                            ))
                        })?;
                }
                other => {
                    return Err(Refusal::invalid_request(&format!(
                        "the fake does not implement the parameter {other:?}"
                    )));
                }
            }
        }
        Ok(query)
    }
}

impl Table {
    pub(super) fn new(schema: Option<BTreeSet<String>>) -> Self {
        Self {
            schema,
            ..Self::default()
        }
    }

    pub(super) fn insert(&mut self, id: String, fields: Map<String, Value>, now: DateTime<Utc>) {
        // Airtable reports creation times to the millisecond.
        let created_time = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        self.records.push(StoredRecord {
            id,
            created_time,
            fields: without_nulls(fields),
        });
    }

    pub(super) fn set_view(&mut self, name: String, ids: Vec<String>) {
        self.views.insert(name, ids);
    }

    pub(super) fn fields(&self, id: &str) -> Option<Map<String, Value>> {
        self.find(id).map(|r| r.fields.clone())
    }

    pub(super) fn history(&self, id: &str, field: &str) -> Vec<Value> {
        self.history
            .get(&(id.to_owned(), field.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn get(&self, id: &str) -> Result<Record, Refusal> {
        self.find(id)
            .map(|r| r.to_record(&[]))
            .ok_or_else(Refusal::not_found)
    }

    /// One page; the offset names the first record of the next page, so it stays valid while
    /// records before it change.
    pub(super) fn list(&self, query: &ListQuery) -> Result<Page, Refusal> {
        let ordered: Vec<&StoredRecord> = match &query.view {
            None => self.records.iter().collect(),
            Some(view) => self
                .views
                .get(view)
                .ok_or_else(|| {
                    Refusal::typed(
                        422,
                        "VIEW_NAME_NOT_FOUND",
                        format!("Could not find view {view:?} in this table"),
                    )
                })?
                .iter()
                .filter_map(|id| self.find(id))
                .collect(),
        };
        let start = match &query.offset {
            None => 0,
            Some(offset) => offset
                .split_once('/')
                .and_then(|(_, id)| ordered.iter().position(|r| r.id == id))
                .ok_or_else(|| {
                    Refusal::typed(
                        422,
                        "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                        "The offset is no longer valid; start the listing again",
                    )
                })?,
        };
        let end = (start + query.page_size).min(ordered.len());
        Ok(Page {
            records: ordered[start..end]
                .iter()
                .map(|r| r.to_record(&query.fields))
                .collect(),
            offset: ordered.get(end).map(|next| format!("itr{end}/{}", next.id)),
        })
    }

    /// Validates the whole body of `PATCH /v0/{base}/{table}` and then applies every change, so
    /// a refused batch changes nothing, as with Airtable.
    pub(super) fn update(&mut self, body: &Value) -> Result<Vec<Record>, Refusal> {
        let changes = self.validate_update(body)?;
        let mut updated = Vec::with_capacity(changes.len());
        for (id, fields) in changes {
            for (name, value) in &fields {
                self.history
                    .entry((id.clone(), name.clone()))
                    .or_default()
                    .push(value.clone());
            }
            let record = self
                .records
                .iter_mut()
                .find(|r| r.id == id)
                .expect("validated above");
            for (name, value) in fields {
                if value.is_null() {
                    record.fields.remove(&name);
                } else {
                    record.fields.insert(name, value);
                }
            }
            updated.push(record.to_record(&[]));
        }
        Ok(updated)
    }

    fn validate_update(&self, body: &Value) -> Result<Vec<Change>, Refusal> {
        let object = body
            .as_object()
            .ok_or_else(|| Refusal::invalid_request("the body must be a JSON object"))?;
        if let Some(key) = object
            .keys()
            .find(|k| !["records", "typecast"].contains(&k.as_str()))
        {
            return Err(Refusal::invalid_request(&format!("unexpected key {key:?}")));
        }
        if object.get("typecast").is_some_and(|t| !t.is_boolean()) {
            return Err(Refusal::invalid_request("typecast must be a boolean"));
        }
        let records = object
            .get("records")
            .and_then(Value::as_array)
            .ok_or_else(|| Refusal::invalid_request("records must be an array"))?;
        if records.is_empty() || records.len() > MAX_RECORDS_PER_UPDATE {
            return Err(Refusal::invalid_request(&format!(
                "records must hold 1 to {MAX_RECORDS_PER_UPDATE} records, not {}",
                records.len()
            )));
        }
        let mut changes = Vec::with_capacity(records.len());
        for record in records {
            let record = record
                .as_object()
                .ok_or_else(|| Refusal::invalid_request("each record must be an object"))?;
            if let Some(key) = record
                .keys()
                .find(|k| !["id", "fields"].contains(&k.as_str()))
            {
                return Err(Refusal::invalid_request(&format!(
                    "unexpected key {key:?} in a record"
                )));
            }
            let id = record
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| Refusal::invalid_request("each record needs a string id"))?;
            let fields = record
                .get("fields")
                .and_then(Value::as_object)
                .ok_or_else(|| Refusal::invalid_request("each record needs a fields object"))?;
            if let Some(schema) = &self.schema
                && let Some(unknown) = fields.keys().find(|name| !schema.contains(*name))
            {
                return Err(Refusal::typed(
                    422,
                    "UNKNOWN_FIELD_NAME",
                    format!("Unknown field name: {unknown:?}"),
                ));
            }
            if self.find(id).is_none() {
                return Err(Refusal::typed(
                    422,
                    "ROW_DOES_NOT_EXIST",
                    format!("Record ID {id} does not exist in this table"),
                ));
            }
            changes.push((id.to_owned(), fields.clone()));
        }
        Ok(changes)
    }

    fn find(&self, id: &str) -> Option<&StoredRecord> {
        self.records.iter().find(|r| r.id == id)
    }
}

/// Airtable never stores an empty cell: a null means "no value".
fn without_nulls(fields: Map<String, Value>) -> Map<String, Value> {
    fields.into_iter().filter(|(_, v)| !v.is_null()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(n: usize) -> (Table, Vec<String>) {
        let mut table = Table::new(None);
        let ids: Vec<String> = (0..n).map(|i| format!("rec{i:014}")).collect();
        for (i, id) in ids.iter().enumerate() {
            let fields = json!({"Name": format!("Lead {i}"), "Phone": "+14155550100"});
            table.insert(id.clone(), fields.as_object().unwrap().clone(), Utc::now());
        }
        (table, ids)
    }

    fn query(raw: &str) -> ListQuery {
        ListQuery::parse(Some(raw)).unwrap()
    }

    #[test]
    fn pages_follow_the_offset_to_the_end() {
        let (table, ids) = table_with(7);
        let mut seen = Vec::new();
        let mut raw = "pageSize=3".to_owned();
        loop {
            let page = table.list(&query(&raw)).unwrap();
            assert!(page.records.len() <= 3);
            seen.extend(page.records.into_iter().map(|r| r.id));
            match page.offset {
                Some(offset) => raw = format!("pageSize=3&offset={offset}"),
                None => break,
            }
        }
        assert_eq!(seen, ids);
    }

    #[test]
    fn a_view_lists_its_records_in_its_order_and_skips_deleted_ones() {
        let (mut table, ids) = table_with(4);
        table.set_view(
            "To call".to_owned(),
            vec![ids[2].clone(), "recGONE".to_owned(), ids[0].clone()],
        );
        let page = table.list(&query("view=To+call")).unwrap();
        let listed: Vec<&str> = page.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(listed, [ids[2].as_str(), ids[0].as_str()]);
        let unknown = table.list(&query("view=Nope")).unwrap_err();
        assert_eq!(unknown.body["error"]["type"], "VIEW_NAME_NOT_FOUND");
    }

    #[test]
    fn fields_limit_what_each_record_shows() {
        let (table, _) = table_with(1);
        let page = table.list(&query("fields%5B%5D=Phone")).unwrap();
        let names: Vec<&String> = page.records[0].fields.keys().collect();
        assert_eq!(names, ["Phone"]);
    }

    #[test]
    fn unsupported_or_out_of_range_parameters_are_refused() {
        for raw in [
            "pageSize=0",
            "pageSize=101",
            "pageSize=x",
            "filterByFormula=1",
        ] {
            let refusal = ListQuery::parse(Some(raw)).unwrap_err();
            assert_eq!(refusal.status, 422, "{raw}");
        }
        let (table, _) = table_with(2);
        let stale = table.list(&query("offset=itr1/recNOPE")).unwrap_err();
        assert_eq!(
            stale.body["error"]["type"],
            "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"
        );
    }

    #[test]
    fn an_update_changes_only_named_fields_and_records_history() {
        let (mut table, ids) = table_with(2);
        let body = json!({"records": [
            {"id": ids[0], "fields": {"Call Status": "ringing"}},
            {"id": ids[1], "fields": {"Call Status": "queued", "Name": null}},
        ], "typecast": true});
        let updated = table.update(&body).unwrap();
        assert_eq!(updated.len(), 2);
        assert_eq!(updated[0].fields["Name"], "Lead 0");
        assert_eq!(updated[0].fields["Call Status"], "ringing");
        assert!(!updated[1].fields.contains_key("Name"));
        table
            .update(&json!({"records": [{"id": ids[0], "fields": {"Call Status": "connected"}}]}))
            .unwrap();
        assert_eq!(
            table.history(&ids[0], "Call Status"),
            [json!("ringing"), json!("connected")]
        );
        assert_eq!(table.history(&ids[1], "Name"), [Value::Null]);
        assert!(table.history(&ids[1], "Phone").is_empty());
    }

    #[test]
    fn a_refused_batch_changes_nothing() {
        let (mut table, ids) = table_with(1);
        let body = json!({"records": [
            {"id": ids[0], "fields": {"Call Status": "ringing"}},
            {"id": "recMISSING", "fields": {"Call Status": "ringing"}},
        ]});
        let refusal = table.update(&body).unwrap_err();
        assert_eq!(refusal.body["error"]["type"], "ROW_DOES_NOT_EXIST");
        assert!(table.history(&ids[0], "Call Status").is_empty());
        assert!(!table.fields(&ids[0]).unwrap().contains_key("Call Status"));
    }

    #[test]
    fn malformed_update_bodies_are_refused() {
        let (mut table, ids) = table_with(1);
        let id = &ids[0];
        let eleven: Vec<Value> = (0..11).map(|_| json!({"id": id, "fields": {}})).collect();
        let bodies = [
            json!([]),
            json!({"records": []}),
            json!({"records": eleven}),
            json!({"records": [{"id": id}]}),
            json!({"records": [{"id": id, "fields": {}, "extra": 1}]}),
            json!({"records": [{"id": 5, "fields": {}}]}),
            json!({"records": [{"id": id, "fields": {}}], "typecast": "yes"}),
            json!({"records": [{"id": id, "fields": {}}], "performUpsert": {}}),
        ];
        for body in bodies {
            let refusal = table.update(&body).unwrap_err();
            assert_eq!(
                (refusal.status, &refusal.body["error"]["type"]),
                (422, &json!("INVALID_REQUEST_UNKNOWN")),
                "{body}"
            );
        }
    }

    #[test]
    fn a_schema_refuses_unknown_field_names() {
        let schema = ["Phone", "Call Status"].map(str::to_owned).into();
        let mut table = Table::new(Some(schema));
        table.insert("recA".to_owned(), Map::new(), Utc::now());
        let ok = json!({"records": [{"id": "recA", "fields": {"Call Status": "queued"}}]});
        assert!(table.update(&ok).is_ok());
        let bad = json!({"records": [{"id": "recA", "fields": {"Call Stauts": "queued"}}]});
        let refusal = table.update(&bad).unwrap_err();
        assert_eq!(refusal.body["error"]["type"], "UNKNOWN_FIELD_NAME");
    }

    #[test]
    fn error_bodies_have_airtables_shapes() {
        insta::assert_json_snapshot!(
            "refusals",
            [
                Refusal::rate_limited().body,
                Refusal::not_found().body,
                Refusal::model_not_found().body,
                Refusal::invalid_request("records must be an array").body,
            ]
        );
    }
}
