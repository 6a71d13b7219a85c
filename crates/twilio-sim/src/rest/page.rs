//! List pagination in the two shapes Twilio uses: 2010-04-01 (`page`, `next_page_uri`, …) and v1/v2 (`meta`).

use serde_json::{Map, Value, json};

use super::Form;

/// Page number and size from `Page` and `PageSize` (50 by default, at most 1000).
fn window(query: &Form) -> (usize, usize) {
    let size = query
        .get("PageSize")
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(50usize)
        .min(1000);
    let page = query
        .get("Page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0usize);
    (page, size)
}

/// The query a list was asked with, less its paging, so that every page link keeps the filters
/// (`To=%2B1…&Status=completed&`), each followed by `&`.
fn filters(query: &Form) -> String {
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query
        .pairs()
        .filter(|(k, _)| !matches!(*k, "Page" | "PageSize" | "PageToken"))
    {
        kept.append_pair(k, v);
    }
    let mut kept = kept.finish();
    if !kept.is_empty() {
        kept.push('&');
    }
    kept
}

/// A 2010-04-01 list: `{<key>: [...], page, page_size, start, end, uri, first_page_uri, next_page_uri, previous_page_uri}`.
pub(crate) fn classic(path: &str, key: &str, items: Vec<Value>, query: &Form) -> Value {
    let (page, size) = window(query);
    let total = items.len();
    let start = page * size;
    let slice: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let filters = filters(query);
    let uri = |p: usize| format!("{path}?{filters}PageSize={size}&Page={p}");
    let mut body = Map::new();
    body.insert(key.to_owned(), Value::Array(slice.clone()));
    body.insert("page".into(), json!(page));
    body.insert("page_size".into(), json!(size));
    body.insert("start".into(), json!(start));
    body.insert(
        "end".into(),
        json!(if slice.is_empty() {
            start
        } else {
            start + slice.len() - 1
        }),
    );
    body.insert("uri".into(), json!(uri(page)));
    body.insert("first_page_uri".into(), json!(uri(0)));
    body.insert(
        "next_page_uri".into(),
        if start + size < total {
            json!(format!("{}&PageToken=PA{}", uri(page + 1), page + 1))
        } else {
            Value::Null
        },
    );
    body.insert(
        "previous_page_uri".into(),
        if page > 0 {
            json!(uri(page - 1))
        } else {
            Value::Null
        },
    );
    Value::Object(body)
}

/// A v1/v2 list: `{<key>: [...], meta: {page, page_size, first_page_url, previous_page_url, url, next_page_url, key}}`.
pub(crate) fn meta(url: &str, key: &str, items: Vec<Value>, query: &Form) -> Value {
    let (page, size) = window(query);
    let total = items.len();
    let slice: Vec<Value> = items.into_iter().skip(page * size).take(size).collect();
    let filters = filters(query);
    let link = |p: usize| format!("{url}?{filters}PageSize={size}&Page={p}");
    let mut body = Map::new();
    body.insert(key.to_owned(), Value::Array(slice));
    body.insert(
        "meta".into(),
        json!({
            "page": page,
            "page_size": size,
            "first_page_url": link(0),
            "previous_page_url": if page > 0 { json!(link(page - 1)) } else { Value::Null },
            "url": link(page),
            "next_page_url": if (page + 1) * size < total { json!(link(page + 1)) } else { Value::Null },
            "key": key,
        }),
    );
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_pages() {
        let items: Vec<Value> = (0..3).map(|i| json!(i)).collect();
        let q = Form::parse(b"PageSize=2&Page=0");
        let p = classic("/x.json", "calls", items.clone(), &q);
        assert_eq!(p["calls"], json!([0, 1]));
        assert_eq!(p["end"], 1);
        assert!(p["next_page_uri"].as_str().unwrap().contains("Page=1"));
        let q = Form::parse(b"PageSize=2&Page=1");
        let p = classic("/x.json", "calls", items, &q);
        assert_eq!(p["calls"], json!([2]));
        assert!(p["next_page_uri"].is_null());
        assert_eq!(p["previous_page_uri"], "/x.json?PageSize=2&Page=0");
    }

    #[test]
    fn every_page_link_keeps_the_filters() {
        let items: Vec<Value> = (0..3).map(|i| json!(i)).collect();
        let q =
            Form::parse(b"To=%2B15550100&PageSize=1&Page=1&PageToken=PA1&StartTime%3E=2025-01-01");
        let p = classic("/x.json", "calls", items.clone(), &q);
        let kept = "To=%2B15550100&StartTime%3E=2025-01-01&PageSize=1";
        assert_eq!(p["uri"], format!("/x.json?{kept}&Page=1"));
        assert_eq!(p["first_page_uri"], format!("/x.json?{kept}&Page=0"));
        assert_eq!(p["previous_page_uri"], format!("/x.json?{kept}&Page=0"));
        assert_eq!(
            p["next_page_uri"],
            format!("/x.json?{kept}&Page=2&PageToken=PA2")
        );
        let m = meta("http://h/v1/Services", "services", items, &q);
        assert_eq!(
            m["meta"]["next_page_url"],
            format!("http://h/v1/Services?{kept}&Page=2")
        );
    }

    #[test]
    fn meta_pages() {
        let p = meta(
            "http://h/v1/Services/IS1/Documents",
            "documents",
            vec![json!(1)],
            &Form::default(),
        );
        assert_eq!(p["meta"]["key"], "documents");
        assert!(p["meta"]["next_page_url"].is_null());
    }
}
