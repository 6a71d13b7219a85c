use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use super::page;
use crate::http::openapi_document;

fn document() -> Value {
    serde_json::from_str(&openapi_document()).expect("the document is JSON")
}

fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    found
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_whose_references_all_resolve() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    oas_check::Spec::from_documents(vec![("callbridge".into(), document.clone())])
        .expect("the checker routes every path");
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(
            document.pointer(pointer).is_some(),
            "{target} points at nothing"
        );
    }
}

#[test]
fn every_operation_is_complete_and_named_once() {
    let document = document();
    let tags: HashSet<&str> = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let schemes: HashSet<&String> = document["components"]["securitySchemes"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let mut ids = HashSet::new();
    for (method, path, operation) in operations(&document) {
        let at = format!("{method} {path}");
        let id = operation["operationId"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()), "{at}: operationId {id} twice");
        assert!(
            !operation["summary"].as_str().unwrap_or_default().is_empty(),
            "{at}: no summary"
        );
        let tag = operation["tags"][0].as_str().unwrap_or_default();
        assert!(tags.contains(tag), "{at}: tag {tag:?} is not listed");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{at}: no success"
        );
        for (status, response) in responses {
            assert!(
                response.get("description").is_some() || response.get("$ref").is_some(),
                "{at} {status}: no description"
            );
        }
        for requirement in operation["security"].as_array().into_iter().flatten() {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(schemes.contains(scheme), "{at}: unknown scheme {scheme}");
            }
        }
        let declared: HashSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    declared.contains(name),
                    "{at}: path parameter {name} undeclared"
                );
            }
        }
        if operation.get("requestBody").is_some() && !path.starts_with("/phone-to-phone/") {
            let content = operation["requestBody"]["content"].as_object().unwrap();
            let forms_only = tag == super::WEBHOOKS_TAG || tag == crate::web::WEB_TAG;
            if !content.contains_key("application/x-www-form-urlencoded")
                || !(content.contains_key("application/json") || forms_only)
            {
                panic!("{at}: bodies are JSON or forms, as JsonOrForm reads them");
            }
        }
    }
}

#[test]
fn the_inventory_of_operations() {
    let document = document();
    let lines: Vec<String> = operations(&document)
        .into_iter()
        .map(|(method, path, operation)| {
            let statuses: BTreeSet<&str> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let auth: Vec<&str> = operation["security"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
                .collect();
            format!(
                "{:6} {path} [{}] {} auth={} {}",
                method.to_uppercase(),
                operation["tags"][0].as_str().unwrap(),
                operation["operationId"].as_str().unwrap(),
                if auth.is_empty() {
                    "-".to_owned()
                } else {
                    auth.join(",")
                },
                statuses.into_iter().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn the_page_shows_every_operation_and_loads_nothing_from_elsewhere() {
    let document = document();
    let html = page::render(&document);
    assert!(html.len() < 300 * 1024, "{} bytes", html.len());
    for (method, path, _) in operations(&document) {
        let shown = format!(
            "<span class=\"method method-{method}\">{}</span> <code>{path}</code>",
            method.to_uppercase()
        );
        assert!(html.contains(&shown), "{method} {path} is not on the page");
    }
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("style="),
        "no inline styles: the CSP allows only 'self'"
    );
    for attribute in ["src=\"", "href=\""] {
        for at in html.match_indices(attribute) {
            let target = &html[at.0 + attribute.len()..];
            assert!(
                target.starts_with('/') || target.starts_with('#'),
                "{} points elsewhere",
                &target[..target.len().min(60)]
            );
        }
    }
}
