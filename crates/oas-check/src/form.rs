//! Form fields and query parameters: every value arrives as text and is read as its declared type.

use serde_json::Value;

use crate::schema::{Validator, declared_types, describe, resolve};
use crate::violation::{Kind, child};

/// `pairs` grouped by name, in order of first appearance; a repeated name is how arrays travel.
pub(crate) fn group(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in pairs {
        match groups.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value.clone()),
            None => groups.push((name.clone(), vec![value.clone()])),
        }
    }
    groups
}

/// Decodes an `application/x-www-form-urlencoded` body (also the query string's encoding).
pub(crate) fn parse(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Checks one named field's text `values` against `schema`: an array schema takes every value as an
/// item, any other takes exactly one value.
pub(crate) fn check_field(
    validator: &mut Validator<'_>,
    root: &Value,
    schema: &Value,
    values: &[String],
    pointer: &str,
) {
    let resolved = match resolve(root, schema) {
        Ok(resolved) => resolved,
        Err(why) => {
            validator.report(pointer, Kind::Unsupported, format!("schema has {why}"));
            return;
        }
    };
    if declared_types(resolved).contains(&"array") {
        let item_schema = resolved.get("items").unwrap_or(&Value::Null);
        let mut items = Vec::with_capacity(values.len());
        for (index, text) in values.iter().enumerate() {
            let at = child(pointer, &index.to_string());
            match read(root, item_schema, text) {
                Ok(item) => items.push(item),
                Err(why) => validator.report(&at, Kind::WrongType, why),
            }
        }
        if items.len() == values.len() {
            validator.validate(schema, &Value::Array(items), pointer);
        }
        return;
    }
    if values.len() > 1 {
        validator.report(
            pointer,
            Kind::WrongType,
            format!("given {} times, but it is not an array", values.len()),
        );
        return;
    }
    let Some(text) = values.first() else {
        return;
    };
    match read(root, schema, text) {
        Ok(value) => validator.validate(schema, &value, pointer),
        Err(why) => validator.report(pointer, Kind::WrongType, why),
    }
}

/// `text` as the JSON value its schema's type says it encodes.
fn read(root: &Value, schema: &Value, text: &str) -> Result<Value, String> {
    let schema = resolve(root, schema).unwrap_or(schema);
    // A 3.1 `["boolean", "null"]` field still arrives as the text of a boolean.
    let declared = declared_types(schema).into_iter().find(|t| *t != "null");
    match declared {
        Some("integer") => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{text:?} is not an integer")),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{text:?} is not a number")),
        Some("boolean") => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{text:?} is not a boolean (true or false)")),
        },
        Some("object") => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| format!("{text:?} is not a JSON object: {e}"))?;
            if value.is_object() {
                Ok(value)
            } else {
                Err(format!(
                    "{} where a JSON object is required",
                    describe(&value)
                ))
            }
        }
        // Strings, and untyped values such as Sync's `Data` (a JSON string the server keeps as-is).
        _ => Ok(Value::String(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_keep_order_and_repeats() {
        let pairs = parse(b"A=1&B=x&A=2&C=%2B1%20");
        assert_eq!(
            group(&pairs),
            vec![
                ("A".to_owned(), vec!["1".to_owned(), "2".to_owned()]),
                ("B".to_owned(), vec!["x".to_owned()]),
                ("C".to_owned(), vec!["+1 ".to_owned()]),
            ]
        );
    }

    #[test]
    fn text_is_read_as_the_declared_type() {
        let root = json!({});
        assert_eq!(
            read(&root, &json!({"type": "integer"}), "42"),
            Ok(json!(42))
        );
        assert!(read(&root, &json!({"type": "integer"}), "4.2").is_err());
        assert_eq!(
            read(&root, &json!({"type": "boolean"}), "true"),
            Ok(json!(true))
        );
        assert!(read(&root, &json!({"type": "boolean"}), "yes").is_err());
        assert_eq!(
            read(&root, &json!({"type": "number"}), "0.5"),
            Ok(json!(0.5))
        );
        assert!(read(&root, &json!({"type": "number"}), "NaN").is_err());
        assert_eq!(
            read(&root, &json!({"type": "object"}), r#"{"a":1}"#),
            Ok(json!({"a": 1}))
        );
        assert!(read(&root, &json!({"type": "object"}), "[1]").is_err());
        assert_eq!(
            read(&root, &json!({}), r#"{"a":1}"#),
            Ok(json!(r#"{"a":1}"#))
        );
    }
}
