//! Validates a JSON value against an OpenAPI 3.0 or 3.1 schema object.

use std::collections::HashMap;
use std::sync::Mutex;

use regex::Regex;
use serde_json::{Map, Value};

use crate::format;
use crate::violation::{Kind, Place, Violation, child};

/// `$ref` chains and nesting deeper than this are taken to be cycles.
const MAX_DEPTH: usize = 64;

/// Compiled `pattern`s, shared by every check of one [`crate::Spec`].
#[derive(Debug, Default)]
pub(crate) struct Patterns(Mutex<HashMap<String, Result<Regex, String>>>);

impl Patterns {
    fn matches(&self, pattern: &str, text: &str) -> Result<bool, String> {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let compiled = cache
            .entry(pattern.to_owned())
            .or_insert_with(|| Regex::new(pattern).map_err(|e| e.to_string()));
        compiled
            .as_ref()
            .map(|re| re.is_match(text))
            .map_err(Clone::clone)
    }
}

/// Follows `$ref`s (local ones, `#/…`) from `schema` within `root`.
pub(crate) fn resolve<'a>(root: &'a Value, schema: &'a Value) -> Result<&'a Value, String> {
    let mut current = schema;
    for _ in 0..MAX_DEPTH {
        let Some(reference) = current.get("$ref") else {
            return Ok(current);
        };
        let reference = reference
            .as_str()
            .ok_or_else(|| "a $ref that is not a string".to_owned())?;
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("$ref {reference:?} points outside the document"))?;
        current = root
            .pointer(pointer)
            .ok_or_else(|| format!("$ref {reference:?} points at nothing"))?;
    }
    Err("a $ref cycle".to_owned())
}

/// How strict a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// Whether properties a schema does not list are violations (when it lists any and says
    /// nothing about `additionalProperties`).
    pub(crate) strict_properties: bool,
    /// Whether a property that is only a `$ref` to an enum accepts null.
    pub(crate) nullable_enum_refs: bool,
    /// Whether `""` passes wherever null does.
    pub(crate) empty_strings_as_null: bool,
}

impl Options {
    /// For requests: every field must be declared; nothing is relaxed.
    pub(crate) const STRICT: Self = Self {
        strict_properties: true,
        nullable_enum_refs: false,
        empty_strings_as_null: false,
    };
}

/// One validation run: where the schemas live, how strict to be, and what was found.
pub(crate) struct Validator<'a> {
    root: &'a Value,
    patterns: &'a Patterns,
    place: Place,
    /// Whether properties a schema does not list are violations (when it lists any and says
    /// nothing about `additionalProperties`).
    strict_properties: bool,
    /// Whether a bare `$ref` to an enum accepts null (see [`crate::Spec::nullable_enum_refs`]).
    nullable_enum_refs: bool,
    /// See [`crate::Spec::empty_strings_as_null`].
    empty_strings_as_null: bool,
    pub(crate) found: Vec<Violation>,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(
        root: &'a Value,
        patterns: &'a Patterns,
        place: Place,
        options: Options,
    ) -> Self {
        Self {
            root,
            patterns,
            place,
            strict_properties: options.strict_properties,
            nullable_enum_refs: options.nullable_enum_refs,
            empty_strings_as_null: options.empty_strings_as_null,
            found: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, pointer: &str, kind: Kind, message: impl Into<String>) {
        self.found
            .push(Violation::new(self.place, pointer, kind, message));
    }

    /// Checks `value` (found at `pointer`) against `schema`.
    pub(crate) fn validate(&mut self, schema: &Value, value: &Value, pointer: &str) {
        self.validate_at(schema, value, pointer, 0);
    }

    fn validate_at(&mut self, schema: &Value, value: &Value, pointer: &str, depth: usize) {
        if depth > MAX_DEPTH {
            self.report(
                pointer,
                Kind::Unsupported,
                "schema nesting too deep (a cycle?)",
            );
            return;
        }
        let bare_ref = schema
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key("$ref"));
        let nullable_here = schema.get("nullable") == Some(&Value::Bool(true));
        let schema = match resolve(self.root, schema) {
            Ok(schema) => schema,
            Err(why) => {
                self.report(pointer, Kind::Unsupported, format!("schema has {why}"));
                return;
            }
        };
        if schema.get("not").is_some() {
            self.report(
                pointer,
                Kind::Unsupported,
                "schema keyword not is not supported",
            );
            return;
        }
        if !self.compositions(schema, value, pointer, depth) {
            return;
        }
        let types = declared_types(schema);
        let nullable = nullable_here
            || schema.get("nullable") == Some(&Value::Bool(true))
            || types.contains(&"null")
            || (self.nullable_enum_refs && bare_ref && schema.get("enum").is_some());
        if nullable && self.empty_strings_as_null && value.as_str() == Some("") {
            return;
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            self.report(
                pointer,
                Kind::BadEnum,
                format!("{value} is not the constant {expected}"),
            );
            return;
        }
        if value.is_null() {
            let null_listed = enum_values(schema).is_some_and(|e| e.contains(&Value::Null));
            if !types.is_empty() && !nullable && !null_listed {
                self.report(
                    pointer,
                    Kind::WrongType,
                    format!(
                        "null where {} is required (not nullable)",
                        types.join(" or ")
                    ),
                );
            }
            return;
        }
        let value_types: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        if !types.is_empty() {
            let mut matched = false;
            for expected in &value_types {
                match type_matches(expected, value) {
                    Some(true) => matched = true,
                    Some(false) => {}
                    None => {
                        self.report(
                            pointer,
                            Kind::Unsupported,
                            format!("schema type {expected:?} is not an OpenAPI type"),
                        );
                        return;
                    }
                }
            }
            if !matched {
                self.report(
                    pointer,
                    Kind::WrongType,
                    format!(
                        "{} where {} is required",
                        describe(value),
                        types.join(" or ")
                    ),
                );
                return;
            }
        }
        if let Some(allowed) = enum_values(schema)
            && !allowed.contains(value)
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            self.report(
                pointer,
                Kind::BadEnum,
                format!("{value} is not one of {}", list.join(", ")),
            );
        }
        match value {
            Value::String(text) => self.string(schema, text, pointer),
            Value::Number(number) => self.number(schema, number, pointer),
            Value::Object(object) => self.object(schema, object, pointer, depth),
            Value::Array(items) => self.array(schema, items, pointer, depth),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// `allOf`, `anyOf` and `oneOf` (OpenAPI 3.1 documents write an optional reference as
    /// `oneOf: [{$ref}, {type: null}]`). False when the value failed them and was reported.
    fn compositions(&mut self, schema: &Value, value: &Value, pointer: &str, depth: usize) -> bool {
        let before = self.found.len();
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.validate_at(part, value, pointer, depth + 1);
            }
        }
        for (keyword, exactly_one) in [("anyOf", false), ("oneOf", true)] {
            let Some(options) = schema.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            let mut passed = 0;
            let mut first_failure = Vec::new();
            for option in options {
                let mut trial = Validator {
                    root: self.root,
                    patterns: self.patterns,
                    place: self.place,
                    strict_properties: self.strict_properties,
                    nullable_enum_refs: self.nullable_enum_refs,
                    empty_strings_as_null: self.empty_strings_as_null,
                    found: Vec::new(),
                };
                trial.validate_at(option, value, pointer, depth + 1);
                if trial.found.is_empty() {
                    passed += 1;
                } else if first_failure.is_empty() {
                    first_failure = trial.found;
                }
            }
            if passed == 0 {
                let why = first_failure
                    .first()
                    .map(|v| format!(": the first fails with {}", v.message))
                    .unwrap_or_default();
                self.report(
                    pointer,
                    Kind::WrongType,
                    format!(
                        "{} matches none of the {keyword} alternatives{why}",
                        describe(value)
                    ),
                );
            } else if exactly_one && passed > 1 {
                self.report(
                    pointer,
                    Kind::WrongType,
                    format!(
                        "{} matches {passed} oneOf alternatives, not one",
                        describe(value)
                    ),
                );
            }
        }
        self.found.len() == before
    }

    fn string(&mut self, schema: &Value, text: &str, pointer: &str) {
        let length = text.chars().count();
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && (length as u64) < min
        {
            self.report(
                pointer,
                Kind::OutOfRange,
                format!("{length} characters, fewer than minLength {min}"),
            );
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && (length as u64) > max
        {
            self.report(
                pointer,
                Kind::OutOfRange,
                format!("{length} characters, more than maxLength {max}"),
            );
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            match self.patterns.matches(pattern, text) {
                Ok(true) => {}
                Ok(false) => self.report(
                    pointer,
                    Kind::PatternMismatch,
                    format!("{text:?} does not match {pattern}"),
                ),
                Err(e) => self.report(
                    pointer,
                    Kind::Unsupported,
                    format!("pattern {pattern:?} does not compile: {e}"),
                ),
            }
        }
        if let Some(name) = schema.get("format").and_then(Value::as_str)
            && let Err(why) = format::check(name, text)
        {
            self.report(
                pointer,
                Kind::BadFormat,
                format!("{text:?} {why} (format {name})"),
            );
        }
    }

    fn number(&mut self, schema: &Value, number: &serde_json::Number, pointer: &str) {
        let as_float = number.as_f64().unwrap_or(f64::NAN);
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            let exclusive = schema.get("exclusiveMinimum") == Some(&Value::Bool(true));
            if as_float < min || (exclusive && as_float <= min) {
                self.report(
                    pointer,
                    Kind::OutOfRange,
                    format!("{number} is below the minimum {min}"),
                );
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            let exclusive = schema.get("exclusiveMaximum") == Some(&Value::Bool(true));
            if as_float > max || (exclusive && as_float >= max) {
                self.report(
                    pointer,
                    Kind::OutOfRange,
                    format!("{number} is above the maximum {max}"),
                );
            }
        }
        if declared_types(schema).contains(&"integer")
            && let Some(name) = schema.get("format").and_then(Value::as_str)
            && let Err(why) = format::check_integer(name, number)
        {
            self.report(pointer, Kind::OutOfRange, format!("{number} {why}"));
        }
    }

    fn object(&mut self, schema: &Value, object: &Map<String, Value>, pointer: &str, depth: usize) {
        for name in required(schema) {
            if !object.contains_key(name) {
                self.report(
                    &child(pointer, name),
                    Kind::MissingRequired,
                    format!("required property {name:?} is missing"),
                );
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (name, value) in object {
            let at = child(pointer, name);
            if let Some(property) = properties.and_then(|p| p.get(name)) {
                self.validate_at(property, value, &at, depth + 1);
                continue;
            }
            match additional {
                Some(Value::Bool(true)) => {}
                Some(Value::Bool(false)) => self.report(
                    &at,
                    Kind::Undeclared,
                    format!("property {name:?} is not declared"),
                ),
                Some(extra) => self.validate_at(extra, value, &at, depth + 1),
                None => {
                    let lists_properties = properties.is_some_and(|p| !p.is_empty());
                    if self.strict_properties && lists_properties {
                        self.report(
                            &at,
                            Kind::Undeclared,
                            format!("property {name:?} is not declared"),
                        );
                    }
                }
            }
        }
        if schema.get("format").and_then(Value::as_str) == Some("uri-map") {
            for (name, value) in object {
                if !value.is_string() {
                    self.report(
                        &child(pointer, name),
                        Kind::WrongType,
                        format!(
                            "{} in a uri-map, where every value is a string",
                            describe(value)
                        ),
                    );
                }
            }
        }
    }

    fn array(&mut self, schema: &Value, items: &[Value], pointer: &str, depth: usize) {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            self.report(
                pointer,
                Kind::OutOfRange,
                format!("{} items, fewer than minItems {min}", items.len()),
            );
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && (items.len() as u64) > max
        {
            self.report(
                pointer,
                Kind::OutOfRange,
                format!("{} items, more than maxItems {max}", items.len()),
            );
        }
        if let Some(item_schema) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                self.validate_at(
                    item_schema,
                    item,
                    &child(pointer, &index.to_string()),
                    depth + 1,
                );
            }
        }
    }
}

/// The names a schema lists as `required`.
pub(crate) fn required(schema: &Value) -> impl Iterator<Item = &str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `type` as OpenAPI 3.0 writes it (one name) or as 3.1 does (a list, `null` among them).
pub(crate) fn declared_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn enum_values(schema: &Value) -> Option<&Vec<Value>> {
    schema.get("enum").and_then(Value::as_array)
}

/// `None` when `expected` is not a type OpenAPI 3.0 knows.
fn type_matches(expected: &str, value: &Value) -> Option<bool> {
    Some(match expected {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => return None,
    })
}

/// How a value reads in a message: its JSON type, and the value itself when short.
pub(crate) fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let text = value.to_string();
    if text.len() <= 40 && !matches!(value, Value::Array(_) | Value::Object(_)) {
        format!("{kind} {text}")
    } else {
        kind.to_owned()
    }
}
