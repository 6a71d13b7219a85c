//! Loading documents, routing a method and path to an operation, and checking both directions.

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

use crate::form;
use crate::schema::{Options, Patterns, Validator, required, resolve};
use crate::template::PathTemplate;
use crate::violation::{Kind, Place, Violation, child};
use crate::{Error, Result};

const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// The operation a request was routed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template as the document spells it.
    pub template: String,
    /// The server the document (or path) names, such as `https://api.twilio.com`.
    pub server: String,
    /// The document's `operationId`, when it has one.
    pub operation_id: Option<String>,
    /// Path parameters, percent-decoded, in template order.
    pub path_params: Vec<(String, String)>,
}

struct Document {
    name: String,
    root: Value,
}

struct Route {
    template: PathTemplate,
    path_key: String,
    server: String,
    doc: usize,
}

/// Several OpenAPI 3 documents served from one base URL.
pub struct Spec {
    docs: Vec<Document>,
    /// Most literal templates first, so the first match is the most specific one.
    routes: Vec<Route>,
    error_schema: Option<Value>,
    response_options: Options,
    patterns: Patterns,
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.docs.iter().map(|d| d.name.as_str()).collect();
        f.debug_struct("Spec")
            .field("documents", &names)
            .field("routes", &self.routes.len())
            .field("error_schema", &self.error_schema.is_some())
            .field("response_options", &self.response_options)
            .finish_non_exhaustive()
    }
}

/// The operation found for a method and path, with the document it lives in.
struct Found<'s> {
    route: &'s Route,
    root: &'s Value,
    operation: &'s Value,
    method: String,
    params: Vec<(String, String)>,
}

impl Spec {
    /// Reads and merges OpenAPI 3 JSON documents. Each keeps its own `$ref`s; their paths share one
    /// base, and the same method on the same path in two documents is an error.
    pub fn load(paths: &[PathBuf]) -> Result<Spec> {
        let mut documents = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read(path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            let name = path.display().to_string();
            let root = serde_json::from_slice(&text).map_err(|source| Error::Json {
                name: name.clone(),
                source,
            })?;
            documents.push((name, root));
        }
        Self::from_documents(documents)
    }

    /// Merges already parsed documents, each with a name used in errors.
    pub fn from_documents(documents: Vec<(String, Value)>) -> Result<Spec> {
        let mut docs = Vec::with_capacity(documents.len());
        let mut routes: Vec<Route> = Vec::new();
        let mut declared: Vec<(String, String, usize)> = Vec::new();
        for (index, (name, root)) in documents.into_iter().enumerate() {
            let invalid = |reason: String| Error::Invalid {
                name: name.clone(),
                reason,
            };
            let version = root.get("openapi").and_then(Value::as_str).unwrap_or("");
            if !version.starts_with("3.") {
                return Err(invalid(format!("openapi version {version:?} is not 3.x")));
            }
            let paths = root
                .get("paths")
                .and_then(Value::as_object)
                .ok_or_else(|| invalid("no paths object".to_owned()))?;
            let doc_server = first_server(&root).unwrap_or_default();
            for (path_key, item) in paths {
                let template = PathTemplate::parse(path_key).map_err(invalid)?;
                for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
                    let shape = template.shape();
                    if let Some((_, _, first)) =
                        declared.iter().find(|(m, s, _)| m == method && *s == shape)
                    {
                        let first_name: &Document = &docs[*first];
                        return Err(Error::Collision {
                            method: method.to_uppercase(),
                            template: path_key.clone(),
                            first: first_name.name.clone(),
                            second: name.clone(),
                        });
                    }
                    declared.push(((*method).to_owned(), shape, index));
                }
                routes.push(Route {
                    template,
                    path_key: path_key.clone(),
                    server: first_server(item).unwrap_or_else(|| doc_server.clone()),
                    doc: index,
                });
            }
            docs.push(Document { name, root });
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.template.literal_count()));
        Ok(Spec {
            docs,
            routes,
            error_schema: None,
            response_options: Options::STRICT,
            patterns: Patterns::default(),
        })
    }

    /// A schema for error bodies of 4xx/5xx statuses the documents do not declare (Twilio's
    /// documents declare only successes). Its own `$ref`s resolve within it.
    #[must_use]
    pub fn with_error_schema(mut self, schema: Value) -> Self {
        self.error_schema = Some(schema);
        self
    }

    /// Whether response properties a schema does not list pass (default: they are violations, when
    /// the schema lists properties and says nothing about `additionalProperties`).
    #[must_use]
    pub fn allow_undeclared_properties(mut self, allow: bool) -> Self {
        self.response_options.strict_properties = !allow;
        self
    }

    /// Whether, in responses, a property that is only a `$ref` to an enum accepts null (default:
    /// no). Twilio's documents need this: their generator moved enums into components and dropped
    /// the properties' `nullable`, yet their own examples (and Twilio) send null there, such as a
    /// running conference's `reason_conference_ended`.
    #[must_use]
    pub fn nullable_enum_refs(mut self, allow: bool) -> Self {
        self.response_options.nullable_enum_refs = allow;
        self
    }

    /// Whether, in responses, `""` passes wherever null would (default: no). Twilio's 2010 API
    /// sends `""` for unset URLs and SIDs of a phone number (`voice_url`, `sms_application_sid`…),
    /// as its own examples show, where the schema says nullable and formatted.
    #[must_use]
    pub fn empty_strings_as_null(mut self, allow: bool) -> Self {
        self.response_options.empty_strings_as_null = allow;
        self
    }

    /// The operation `method` and `path` route to, checking nothing else: for a client that
    /// counts which operations it exercised, whatever their bodies.
    pub fn route(&self, method: &str, path: &str) -> Result<Operation, Violation> {
        let found = self.find(method, path)?;
        Ok(Operation {
            method: found.method.to_uppercase(),
            template: found.route.path_key.clone(),
            server: found.route.server.clone(),
            operation_id: found
                .operation
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            path_params: found.params,
        })
    }

    /// Checks a request: the route, path parameters, query parameters (declared, typed, required)
    /// and body (a form body's every field declared, typed, required ones present; arrays as
    /// repeated keys). `content_type` may carry parameters (`; charset=utf-8`).
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Operation, Vec<Violation>> {
        let found = self.find(method, path).map_err(|v| vec![v])?;
        let mut found_violations = Vec::new();
        let parameters = parameters(found.root, found.route, found.operation);

        let mut path_check =
            Validator::new(found.root, &self.patterns, Place::Path, Options::STRICT);
        for (name, value) in &found.params {
            let at = child("", name);
            match parameters
                .iter()
                .find(|p| p.location == "path" && p.name == *name)
            {
                Some(p) => form::check_field(
                    &mut path_check,
                    found.root,
                    p.schema,
                    std::slice::from_ref(value),
                    &at,
                ),
                None => path_check.report(
                    &at,
                    Kind::Undeclared,
                    format!("path parameter {name:?} is not declared"),
                ),
            }
        }
        found_violations.append(&mut path_check.found);

        let mut query_check =
            Validator::new(found.root, &self.patterns, Place::Query, Options::STRICT);
        check_fields(
            &mut query_check,
            found.root,
            query,
            parameters
                .iter()
                .filter(|p| p.location == "query")
                .map(|p| (p.name, p.schema, p.required)),
            "query parameter",
        );
        found_violations.append(&mut query_check.found);

        found_violations.extend(self.check_request_body(&found, content_type, body));

        if found_violations.is_empty() {
            Ok(Operation {
                method: found.method.to_uppercase(),
                template: found.route.path_key.clone(),
                server: found.route.server.clone(),
                operation_id: found
                    .operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                path_params: found.params,
            })
        } else {
            Err(found_violations)
        }
    }

    /// Checks a response: its status must be declared for the operation (or be an error status
    /// when an error schema is set) and its body must satisfy that status's JSON schema, or be
    /// empty when the status declares no content.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &[u8],
    ) -> Vec<Violation> {
        let found = match self.find(method, path) {
            Ok(found) => found,
            Err(violation) => return vec![violation],
        };
        let responses = found.operation.get("responses").and_then(Value::as_object);
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        let declared = responses.and_then(|r| {
            r.get(&code)
                .or_else(|| r.get(&range))
                .or_else(|| r.get(&range.to_lowercase()))
                .or_else(|| r.get("default"))
        });
        let (root, schema) = match declared {
            Some(response) => {
                let response = match resolve(found.root, response) {
                    Ok(r) => r,
                    Err(why) => {
                        return vec![Violation::new(
                            Place::Status,
                            "",
                            Kind::Unsupported,
                            format!("response has {why}"),
                        )];
                    }
                };
                match response.get("content") {
                    Some(content) => match content.get(JSON).and_then(|c| c.get("schema")) {
                        Some(schema) => (found.root, schema),
                        None => {
                            return vec![Violation::new(
                                Place::ResponseBody,
                                "",
                                Kind::Unsupported,
                                format!("status {status} declares no {JSON} schema"),
                            )];
                        }
                    },
                    None if body.iter().all(u8::is_ascii_whitespace) => return Vec::new(),
                    None => {
                        return vec![Violation::new(
                            Place::ResponseBody,
                            "",
                            Kind::UnexpectedBody,
                            format!(
                                "status {status} declares no body, but {} bytes came",
                                body.len()
                            ),
                        )];
                    }
                }
            }
            None => match &self.error_schema {
                Some(schema) if status >= 400 => (schema, schema),
                _ => {
                    let listed: Vec<&str> = responses
                        .into_iter()
                        .flat_map(|r| r.keys())
                        .map(String::as_str)
                        .collect();
                    return vec![Violation::new(
                        Place::Status,
                        "",
                        Kind::UndeclaredStatus,
                        format!(
                            "{status} is not declared for {} {} (declared: {})",
                            found.method.to_uppercase(),
                            found.route.path_key,
                            listed.join(", ")
                        ),
                    )];
                }
            },
        };
        let value: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => {
                return vec![Violation::new(
                    Place::ResponseBody,
                    "",
                    Kind::Syntax,
                    format!("not JSON: {e}"),
                )];
            }
        };
        let mut validator = Validator::new(
            root,
            &self.patterns,
            Place::ResponseBody,
            self.response_options,
        );
        validator.validate(schema, &value, "");
        validator.found
    }

    fn check_request_body(
        &self,
        found: &Found<'_>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<Violation> {
        let report =
            |kind, message: String| vec![Violation::new(Place::RequestBody, "", kind, message)];
        let request_body = match found
            .operation
            .get("requestBody")
            .map(|b| resolve(found.root, b))
        {
            None => {
                return if body.is_empty() {
                    Vec::new()
                } else {
                    report(
                        Kind::UnexpectedBody,
                        format!("{} bytes sent, but the operation takes no body", body.len()),
                    )
                };
            }
            Some(Err(why)) => return report(Kind::Unsupported, format!("request body has {why}")),
            Some(Ok(b)) => b,
        };
        let media = content_type
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let content = request_body.get("content").and_then(Value::as_object);
        if body.is_empty() && media.is_empty() {
            if request_body.get("required") == Some(&Value::Bool(true)) {
                return report(
                    Kind::MissingRequired,
                    "the operation requires a body".to_owned(),
                );
            }
            // An empty form still has to carry the required fields.
            return match content
                .and_then(|c| c.get(FORM))
                .and_then(|m| m.get("schema"))
            {
                Some(schema) => self.check_form(found.root, schema, &[]),
                None => Vec::new(),
            };
        }
        let Some(schema) = content
            .and_then(|c| c.get(&media))
            .and_then(|m| m.get("schema"))
        else {
            let accepted: Vec<&str> = content
                .into_iter()
                .flat_map(|c| c.keys())
                .map(String::as_str)
                .collect();
            return report(
                Kind::ContentType,
                format!(
                    "content type {media:?} is not accepted (accepted: {})",
                    accepted.join(", ")
                ),
            );
        };
        match media.as_str() {
            FORM => self.check_form(found.root, schema, &form::parse(body)),
            JSON => match serde_json::from_slice::<Value>(body) {
                Ok(value) => {
                    let mut validator = Validator::new(
                        found.root,
                        &self.patterns,
                        Place::RequestBody,
                        Options::STRICT,
                    );
                    validator.validate(schema, &value, "");
                    validator.found
                }
                Err(e) => report(Kind::Syntax, format!("not JSON: {e}")),
            },
            other => report(
                Kind::Unsupported,
                format!("bodies of type {other} are not checked"),
            ),
        }
    }

    fn check_form(
        &self,
        root: &Value,
        schema: &Value,
        pairs: &[(String, String)],
    ) -> Vec<Violation> {
        let mut validator =
            Validator::new(root, &self.patterns, Place::RequestBody, Options::STRICT);
        let schema = match resolve(root, schema) {
            Ok(schema) => schema,
            Err(why) => {
                validator.report("", Kind::Unsupported, format!("form schema has {why}"));
                return validator.found;
            }
        };
        let required: Vec<&str> = required(schema).collect();
        let fields = schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, property)| (name.as_str(), property, required.contains(&name.as_str())));
        check_fields(&mut validator, root, pairs, fields, "form field");
        validator.found
    }

    fn find(&self, method: &str, path: &str) -> Result<Found<'_>, Violation> {
        let method = method.to_ascii_lowercase();
        let mut path_matched = None;
        for route in &self.routes {
            let Some(params) = route.template.matches(path) else {
                continue;
            };
            let root = &self.docs[route.doc].root;
            let item = &root["paths"][&route.path_key];
            match item.get(&method) {
                Some(operation) => {
                    return Ok(Found {
                        route,
                        root,
                        operation,
                        method,
                        params,
                    });
                }
                None => {
                    path_matched.get_or_insert(route);
                }
            }
        }
        Err(match path_matched {
            Some(route) => {
                let item = &self.docs[route.doc].root["paths"][&route.path_key];
                let allowed: Vec<String> = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                Violation::new(
                    Place::Route,
                    "",
                    Kind::MethodNotAllowed,
                    format!(
                        "{} is not declared for {} (declared: {})",
                        method.to_uppercase(),
                        route.path_key,
                        allowed.join(", ")
                    ),
                )
            }
            None => Violation::new(
                Place::Route,
                "",
                Kind::NoRoute,
                format!("no path template matches {path}"),
            ),
        })
    }
}

/// A declared parameter, its schema unresolved.
struct Parameter<'a> {
    name: &'a str,
    location: &'a str,
    schema: &'a Value,
    required: bool,
}

/// The operation's parameters plus its path item's, the operation's winning on a clash.
fn parameters<'a>(root: &'a Value, route: &Route, operation: &'a Value) -> Vec<Parameter<'a>> {
    let item = &root["paths"][&route.path_key];
    let mut out: Vec<Parameter<'a>> = Vec::new();
    let lists = [operation.get("parameters"), item.get("parameters")];
    for list in lists.into_iter().flatten().filter_map(Value::as_array) {
        for raw in list {
            let Ok(p) = resolve(root, raw) else { continue };
            let (Some(name), Some(location)) = (
                p.get("name").and_then(Value::as_str),
                p.get("in").and_then(Value::as_str),
            ) else {
                continue;
            };
            if out.iter().any(|q| q.name == name && q.location == location) {
                continue;
            }
            out.push(Parameter {
                name,
                location,
                schema: p.get("schema").unwrap_or(&Value::Null),
                required: p.get("required") == Some(&Value::Bool(true)),
            });
        }
    }
    out
}

/// Checks text name/value pairs against declared fields (name, schema, required): undeclared names,
/// missing required ones, and each value read as its declared type.
fn check_fields<'a>(
    validator: &mut Validator<'_>,
    root: &Value,
    pairs: &[(String, String)],
    declared: impl Iterator<Item = (&'a str, &'a Value, bool)>,
    what: &str,
) {
    let declared: Vec<(&str, &Value, bool)> = declared.collect();
    let groups = form::group(pairs);
    for (name, values) in &groups {
        let at = child("", name);
        match declared.iter().find(|(n, _, _)| n == name) {
            Some((_, schema, _)) => form::check_field(validator, root, schema, values, &at),
            None => validator.report(
                &at,
                Kind::Undeclared,
                format!("{what} {name:?} is not declared"),
            ),
        }
    }
    for (name, _, required) in &declared {
        if *required && !groups.iter().any(|(n, _)| n == name) {
            validator.report(
                &child("", name),
                Kind::MissingRequired,
                format!("required {what} {name:?} is missing"),
            );
        }
    }
}

fn first_server(item: &Value) -> Option<String> {
    item.get("servers")?
        .get(0)?
        .get("url")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
