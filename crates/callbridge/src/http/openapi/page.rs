//! `GET /docs`: the OpenAPI document as one page, rendered on the server from the document
//! itself (no script, nothing fetched from another host), so it says what `/openapi.json` says.

use askama::Template;
use serde_json::{Map, Value};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
const SCHEMA_PREFIX: &str = "#/components/schemas/";
const RESPONSE_PREFIX: &str = "#/components/responses/";

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    title: String,
    version: String,
    /// Pre-escaped HTML paragraphs.
    intro: Vec<String>,
    tags: Vec<TagView>,
    /// The answers many operations share, described once.
    common: Vec<CommonView>,
    schemas: Vec<SchemaView>,
}

struct CommonView {
    anchor: String,
    name: String,
    description: String,
}

struct TagView {
    anchor: String,
    name: String,
    /// Pre-escaped HTML.
    description: String,
    operations: Vec<OperationView>,
}

struct OperationView {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    /// Pre-escaped HTML paragraphs.
    description: Vec<String>,
    auth: String,
    parameters: Vec<FieldView>,
    body_types: String,
    body: Vec<FieldView>,
    responses: Vec<ResponseView>,
    /// Pre-escaped HTML: links to the shared answers this operation may give too.
    common: String,
}

struct FieldView {
    name: String,
    place: String,
    /// Pre-escaped HTML: the type, with links to the schemas it names.
    kind: String,
    required: bool,
    description: String,
}

struct ResponseView {
    status: String,
    description: String,
    content: String,
    /// Pre-escaped HTML.
    kind: String,
}

struct SchemaView {
    anchor: String,
    name: String,
    description: String,
    /// Pre-escaped HTML, for schemas that are not objects (enums, strings).
    kind: String,
    fields: Vec<FieldView>,
}

pub(super) fn render(document: &Value) -> String {
    let page = DocsPage {
        title: text(&document["info"]["title"]),
        version: text(&document["info"]["version"]),
        intro: paragraphs(&text(&document["info"]["description"])),
        tags: tags(document),
        common: common(document),
        schemas: schemas(document),
    };
    page.render().unwrap_or_else(|e| {
        format!(
            "<!doctype html><title>docs</title><p>{}</p>",
            escape(&e.to_string())
        )
    })
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn tags(document: &Value) -> Vec<TagView> {
    let listed = document["tags"].as_array().cloned().unwrap_or_default();
    let mut tags: Vec<TagView> = listed
        .iter()
        .map(|tag| TagView {
            anchor: anchor("tag", &text(&tag["name"])),
            name: text(&tag["name"]),
            description: inline(&text(&tag["description"])),
            operations: Vec::new(),
        })
        .collect();
    let empty = Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let tag_name = text(&operation["tags"][0]);
            let index = match tags.iter().position(|t| t.name == tag_name) {
                Some(index) => index,
                None => {
                    tags.push(TagView {
                        anchor: anchor("tag", &tag_name),
                        name: tag_name,
                        description: String::new(),
                        operations: Vec::new(),
                    });
                    tags.len() - 1
                }
            };
            tags[index]
                .operations
                .push(operation_view(document, method, path, operation));
        }
    }
    tags.retain(|t| !t.operations.is_empty());
    tags
}

fn operation_view(document: &Value, method: &str, path: &str, operation: &Value) -> OperationView {
    let summary = text(&operation["summary"]);
    let id = text(&operation["operationId"]);
    let auth = operation["security"]
        .as_array()
        .map(|requirements| {
            requirements
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|r| r.keys())
                .map(|scheme| match scheme.as_str() {
                    super::CALL_TOKEN => "Call token (Authorization: Bearer …)".to_owned(),
                    super::TWILIO_SIGNATURE => "Twilio's X-Twilio-Signature".to_owned(),
                    other => other.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(" or ")
        })
        .filter(|auth| !auth.is_empty())
        .unwrap_or_else(|| "None".to_owned());
    let parameters = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| FieldView {
            name: text(&p["name"]),
            place: text(&p["in"]),
            kind: type_html(&p["schema"]),
            required: p["required"].as_bool().unwrap_or(false),
            description: inline(&text(&p["description"])),
        })
        .collect();
    let content = operation["requestBody"]["content"].as_object();
    let body_types = content
        .map(|c| c.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let body = content
        .and_then(|c| c.values().next())
        .map(|media| fields(document, &media["schema"], "body"))
        .unwrap_or_default();
    let all = operation["responses"].as_object().into_iter().flatten();
    let (shared, own): (Vec<_>, Vec<_>) = all.partition(|(_, r)| r.get("$ref").is_some());
    let responses = own
        .into_iter()
        .map(|(status, response)| response_view(status, response))
        .collect();
    let common = shared
        .into_iter()
        .map(|(status, response)| {
            let name = response["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix(RESPONSE_PREFIX))
                .unwrap_or_default();
            format!(
                "<a href=\"#{}\">{}</a>",
                escape(&anchor("answer", name)),
                escape(status)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    OperationView {
        anchor: anchor("op", if id.is_empty() { path } else { &id }),
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary,
        description: paragraphs(&text(&operation["description"])),
        auth,
        parameters,
        body_types,
        body,
        responses,
        common,
    }
}

fn common(document: &Value) -> Vec<CommonView> {
    document["components"]["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, response)| CommonView {
            anchor: anchor("answer", name),
            name: name.clone(),
            description: inline(&text(&response["description"])),
        })
        .collect()
}

fn response_view(status: &str, response: &Value) -> ResponseView {
    let content = response["content"].as_object();
    ResponseView {
        status: status.to_owned(),
        description: inline(&text(&response["description"])),
        content: content
            .map(|c| c.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        kind: content
            .and_then(|c| c.values().next())
            .map(|media| type_html(&media["schema"]))
            .unwrap_or_default(),
    }
}

/// The properties of an object schema (following one `$ref`), as rows.
fn fields(document: &Value, schema: &Value, place: &str) -> Vec<FieldView> {
    let schema = resolve(document, schema);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, property)| FieldView {
            name: name.clone(),
            place: place.to_owned(),
            kind: type_html(property),
            required: required.contains(&name.as_str()),
            description: inline(&text(&property["description"])),
        })
        .collect()
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
        .and_then(|name| document["components"]["schemas"].get(name))
        .unwrap_or(schema)
}

fn schemas(document: &Value) -> Vec<SchemaView> {
    document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            let fields = fields(document, schema, "");
            SchemaView {
                anchor: anchor("schema", name),
                name: name.clone(),
                description: inline(&text(&schema["description"])),
                kind: if fields.is_empty() {
                    type_html(schema)
                } else {
                    String::new()
                },
                fields,
            }
        })
        .collect()
}

/// A schema's type in words, as escaped HTML with links to the named schemas.
fn type_html(schema: &Value) -> String {
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
    {
        return format!(
            "<a href=\"#{}\">{}</a>",
            escape(&anchor("schema", name)),
            escape(name)
        );
    }
    for keyword in ["oneOf", "anyOf"] {
        if let Some(options) = schema[keyword].as_array() {
            return options
                .iter()
                .map(type_html)
                .collect::<Vec<_>>()
                .join(" or ");
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        return parts
            .iter()
            .map(type_html)
            .collect::<Vec<_>>()
            .join(" and ");
    }
    if let Some(values) = schema["enum"].as_array() {
        let listed: Vec<String> = values
            .iter()
            .map(|v| {
                format!(
                    "<code>{}</code>",
                    escape(v.as_str().unwrap_or(&v.to_string()))
                )
            })
            .collect();
        return format!("one of {}", listed.join(", "));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let words: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "array" => format!("array of {}", type_html(&schema["items"])),
            "object" if schema["additionalProperties"].is_object() => {
                format!("map of {}", type_html(&schema["additionalProperties"]))
            }
            "null" => "null".to_owned(),
            other => match schema["format"].as_str() {
                Some(format) => format!("{} ({})", escape(other), escape(format)),
                None => escape(other),
            },
        })
        .collect();
    if words.is_empty() {
        "any".to_owned()
    } else {
        words.join(" or ")
    }
}

fn anchor(kind: &str, name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{kind}-{slug}")
}

/// Paragraphs of the document's descriptions: `code` and **bold** spans, the rest escaped.
fn paragraphs(markdown: &str) -> Vec<String> {
    markdown
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(inline)
        .collect()
}

fn inline(markdown: &str) -> String {
    let mut html = String::new();
    for (i, code_split) in markdown.split('`').enumerate() {
        if i % 2 == 1 {
            html.push_str("<code>");
            html.push_str(&escape(code_split));
            html.push_str("</code>");
            continue;
        }
        for (j, bold_split) in code_split.split("**").enumerate() {
            if j % 2 == 1 {
                html.push_str("<strong>");
                html.push_str(&escape(bold_split));
                html.push_str("</strong>");
                continue;
            }
            for (k, italic_split) in bold_split.split('*').enumerate() {
                if k % 2 == 1 {
                    html.push_str("<em>");
                    html.push_str(&escape(italic_split));
                    html.push_str("</em>");
                } else {
                    html.push_str(&escape(italic_split));
                }
            }
        }
    }
    html
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inline_markdown_escapes_everything_but_its_own_spans() {
        assert_eq!(
            inline("**Bold** *it* `<b>` & <i>"),
            "<strong>Bold</strong> <em>it</em> <code>&lt;b&gt;</code> &amp; &lt;i&gt;"
        );
    }

    #[test]
    fn types_read_as_words_with_links_to_schemas() {
        assert_eq!(
            type_html(&json!({"type": ["string", "null"], "format": "date-time"})),
            "string (date-time) or null"
        );
        assert_eq!(
            type_html(&json!({"type": "array", "items": {"$ref": "#/components/schemas/LegView"}})),
            "array of <a href=\"#schema-LegView\">LegView</a>"
        );
        assert_eq!(
            type_html(&json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/A_B"}]})),
            "null or <a href=\"#schema-A-B\">A_B</a>"
        );
        assert_eq!(
            type_html(&json!({"type": "string", "enum": ["a", "<b>"]})),
            "one of <code>a</code>, <code>&lt;b&gt;</code>"
        );
    }
}
