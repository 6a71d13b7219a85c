use serde_json::{Value, json};

use super::*;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const CALL: &str = "CA0123456789abcdef0123456789abcdef";

/// A two-document miniature of Twilio's specs: Calls on one host, Verify on another.
fn voice() -> Value {
    json!({
        "openapi": "3.0.1",
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/2010-04-01/Accounts/{AccountSid}/Calls.json": {
                "post": {
                    "operationId": "CreateCall",
                    "parameters": [{"name": "AccountSid", "in": "path", "required": true,
                        "schema": {"type": "string", "pattern": "^AC[0-9a-fA-F]{32}$"}}],
                    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
                        "type": "object",
                        "required": ["To", "From"],
                        "properties": {
                            "To": {"type": "string"},
                            "From": {"type": "string"},
                            "Method": {"type": "string", "enum": ["GET", "POST"]},
                            "StatusCallback": {"type": "string", "format": "uri"},
                            "StatusCallbackEvent": {"type": "array", "items": {"$ref": "#/components/schemas/event"}},
                            "Timeout": {"type": "integer"},
                            "Record": {"type": "boolean"}
                        }
                    }}}},
                    "responses": {"201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/call"}}}}}
                },
                "get": {
                    "parameters": [
                        {"name": "AccountSid", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "Status", "in": "query", "schema": {"$ref": "#/components/schemas/status"}},
                        {"name": "PageSize", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": {"200": {"content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {
                            "calls": {"type": "array", "items": {"$ref": "#/components/schemas/call"}},
                            "page": {"type": "integer"},
                            "next_page_uri": {"type": "string", "format": "uri", "nullable": true}
                        }
                    }}}}}
                }
            },
            "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json": {
                "parameters": [{"name": "AccountSid", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {
                    "parameters": [{"name": "Sid", "in": "path", "required": true,
                        "schema": {"type": "string", "minLength": 34, "maxLength": 34, "pattern": "^CA[0-9a-fA-F]{32}$"}}],
                    "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/call"}}}}}
                },
                "delete": {
                    "parameters": [{"name": "Sid", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"204": {"description": "gone"}}
                }
            }
        },
        "components": {"schemas": {
            "status": {"type": "string", "enum": ["queued", "ringing", "in-progress", "completed"]},
            "event": {"type": "string", "enum": ["initiated", "ringing", "answered", "completed"]},
            "call": {
                "type": "object",
                "required": ["sid"],
                "properties": {
                    "sid": {"type": "string", "pattern": "^CA[0-9a-fA-F]{32}$"},
                    "status": {"$ref": "#/components/schemas/status"},
                    "duration": {"type": "string", "nullable": true},
                    "price_unit": {"type": "string", "format": "currency", "nullable": true},
                    "date_created": {"type": "string", "format": "date-time-rfc-2822", "nullable": true},
                    "queue_time": {"type": "integer", "format": "int32", "nullable": true},
                    "subresource_uris": {"type": "object", "format": "uri-map", "nullable": true}
                }
            }
        }}
    })
}

fn verify() -> Value {
    json!({
        "openapi": "3.0.1",
        "servers": [{"url": "https://verify.example.com"}],
        "paths": {
            "/v2/Attempts/{Sid}": {"get": {
                "parameters": [{"name": "Sid", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "one"}}}},
            "/v2/Attempts/Summary": {"get": {"operationId": "Summary", "responses": {"200": {"description": "sum"}}}}
        }
    })
}

fn spec() -> Spec {
    Spec::from_documents(vec![
        ("voice".to_owned(), voice()),
        ("verify".to_owned(), verify()),
    ])
    .unwrap()
}

fn calls_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json")
}

fn call_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json")
}

fn create(body: &str) -> Result<Operation, Vec<Violation>> {
    spec().check_request(
        "POST",
        &calls_path(),
        &[],
        Some("application/x-www-form-urlencoded"),
        body.as_bytes(),
    )
}

fn kinds(found: &[Violation]) -> Vec<(Place, String, Kind)> {
    found
        .iter()
        .map(|v| (v.place, v.pointer.clone(), v.kind))
        .collect()
}

fn good_call() -> Value {
    json!({
        "sid": CALL,
        "status": "queued",
        "duration": null,
        "price_unit": "USD",
        "date_created": "Tue, 31 Aug 2010 20:36:28 +0000",
        "queue_time": 1000,
        "subresource_uris": {"recordings": "/2010-04-01/Recordings.json"}
    })
}

fn respond(status: u16, body: &Value) -> Vec<Violation> {
    spec().check_response("GET", &call_path(), status, body.to_string().as_bytes())
}

#[test]
fn a_good_request_is_routed_to_its_operation() {
    let operation = create(
        "To=%2B15551230001&From=%2B15551230000&Method=POST&Timeout=25&Record=true\
         &StatusCallback=https%3A%2F%2Fcb.example%2Fs&StatusCallbackEvent=initiated&StatusCallbackEvent=completed",
    )
    .unwrap();
    assert_eq!(
        operation,
        Operation {
            method: "POST".to_owned(),
            template: "/2010-04-01/Accounts/{AccountSid}/Calls.json".to_owned(),
            server: "https://api.example.com".to_owned(),
            operation_id: Some("CreateCall".to_owned()),
            path_params: vec![("AccountSid".to_owned(), ACCOUNT.to_owned())],
        }
    );
}

#[test]
fn a_missing_required_form_field_fails() {
    let found = create("To=%2B15551230001").unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![(
            Place::RequestBody,
            "/From".to_owned(),
            Kind::MissingRequired
        )]
    );
    let empty = spec()
        .check_request("POST", &calls_path(), &[], None, b"")
        .unwrap_err();
    assert_eq!(empty.len(), 2, "{empty:?}");
}

#[test]
fn form_values_of_the_wrong_type_fail() {
    let found = create("To=a&From=b&Timeout=soon&Record=yes").unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![
            (Place::RequestBody, "/Timeout".to_owned(), Kind::WrongType),
            (Place::RequestBody, "/Record".to_owned(), Kind::WrongType),
        ]
    );
    assert!(
        found[0].message.contains("\"soon\" is not an integer"),
        "{}",
        found[0]
    );
}

#[test]
fn a_bad_enum_value_fails_in_scalars_and_array_items() {
    let found =
        create("To=a&From=b&Method=PUT&StatusCallbackEvent=ringing&StatusCallbackEvent=hungup")
            .unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![
            (Place::RequestBody, "/Method".to_owned(), Kind::BadEnum),
            (
                Place::RequestBody,
                "/StatusCallbackEvent/1".to_owned(),
                Kind::BadEnum
            ),
        ]
    );
}

#[test]
fn an_unknown_form_field_fails() {
    let found = create("To=a&From=b&StatusCallbackEvents=ringing").unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![(
            Place::RequestBody,
            "/StatusCallbackEvents".to_owned(),
            Kind::Undeclared
        )]
    );
}

#[test]
fn a_repeated_scalar_and_a_bad_format_fail() {
    let found = create("To=a&To=c&From=b&StatusCallback=not%20a%20url").unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![
            (Place::RequestBody, "/To".to_owned(), Kind::WrongType),
            (
                Place::RequestBody,
                "/StatusCallback".to_owned(),
                Kind::BadFormat
            ),
        ]
    );
}

#[test]
fn the_content_type_must_be_declared() {
    let found = spec()
        .check_request(
            "POST",
            &calls_path(),
            &[],
            Some("application/json"),
            br#"{"To":"a","From":"b"}"#,
        )
        .unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![(Place::RequestBody, String::new(), Kind::ContentType)]
    );
    let ok = spec().check_request(
        "POST",
        &calls_path(),
        &[],
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        b"To=a&From=b",
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn a_body_where_none_is_declared_fails() {
    let found = spec()
        .check_request("DELETE", &call_path(), &[], Some("text/plain"), b"x")
        .unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![(Place::RequestBody, String::new(), Kind::UnexpectedBody)]
    );
}

#[test]
fn query_parameters_are_declared_and_typed() {
    let query = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        spec().check_request("GET", &calls_path(), &pairs, None, b"")
    };
    assert!(query(&[("Status", "in-progress"), ("PageSize", "20")]).is_ok());
    let found = query(&[("Status", "done"), ("PageSize", "0"), ("Limit", "5")]).unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![
            (Place::Query, "/Status".to_owned(), Kind::BadEnum),
            (Place::Query, "/PageSize".to_owned(), Kind::OutOfRange),
            (Place::Query, "/Limit".to_owned(), Kind::Undeclared),
        ]
    );
}

#[test]
fn path_parameters_are_checked_with_path_item_parameters_merged() {
    let ok = spec()
        .check_request("GET", &call_path(), &[], None, b"")
        .unwrap();
    assert_eq!(ok.path_params[1], ("Sid".to_owned(), CALL.to_owned()));
    let found = spec()
        .check_request(
            "GET",
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/CAnope.json"),
            &[],
            None,
            b"",
        )
        .unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![
            (Place::Path, "/Sid".to_owned(), Kind::OutOfRange),
            (Place::Path, "/Sid".to_owned(), Kind::PatternMismatch),
        ]
    );
}

#[test]
fn unknown_routes_and_methods_are_reported() {
    let found = spec()
        .check_request("GET", "/2010-04-01/Nothing.json", &[], None, b"")
        .unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![(Place::Route, String::new(), Kind::NoRoute)]
    );
    let found = spec()
        .check_request("PUT", &call_path(), &[], None, b"")
        .unwrap_err();
    assert_eq!(
        kinds(&found),
        vec![(Place::Route, String::new(), Kind::MethodNotAllowed)]
    );
    assert!(
        found[0].message.contains("declared: GET, DELETE"),
        "{}",
        found[0]
    );
}

#[test]
fn documents_share_one_base_and_literal_segments_win() {
    let summary = spec()
        .check_request("get", "/v2/Attempts/Summary", &[], None, b"")
        .unwrap();
    assert_eq!(summary.operation_id.as_deref(), Some("Summary"));
    assert_eq!(summary.server, "https://verify.example.com");
    let one = spec()
        .check_request("GET", "/v2/Attempts/VL1", &[], None, b"")
        .unwrap();
    assert_eq!(one.template, "/v2/Attempts/{Sid}");
}

#[test]
fn a_good_response_passes() {
    assert_eq!(respond(200, &good_call()), vec![]);
    let page = json!({"calls": [good_call()], "page": 0, "next_page_uri": null});
    let found = spec().check_response("GET", &calls_path(), 200, page.to_string().as_bytes());
    assert_eq!(found, vec![]);
}

#[test]
fn a_response_missing_a_required_field_fails() {
    let mut call = good_call();
    call.as_object_mut().unwrap().remove("sid");
    assert_eq!(
        kinds(&respond(200, &call)),
        vec![(
            Place::ResponseBody,
            "/sid".to_owned(),
            Kind::MissingRequired
        )]
    );
}

#[test]
fn a_response_field_of_the_wrong_type_fails() {
    let mut call = good_call();
    call["duration"] = json!(15);
    call["queue_time"] = json!("1000");
    let found = respond(200, &call);
    assert_eq!(
        kinds(&found),
        vec![
            (Place::ResponseBody, "/duration".to_owned(), Kind::WrongType),
            (
                Place::ResponseBody,
                "/queue_time".to_owned(),
                Kind::WrongType
            ),
        ]
    );
    assert_eq!(found[0].message, "integer 15 where string is required");
}

#[test]
fn null_passes_only_where_nullable() {
    let mut call = good_call();
    call["status"] = Value::Null;
    assert_eq!(
        kinds(&respond(200, &call)),
        vec![(Place::ResponseBody, "/status".to_owned(), Kind::WrongType)]
    );
}

#[test]
fn enum_refs_accept_null_only_when_asked() {
    let mut call = good_call();
    call["status"] = Value::Null;
    let lenient = spec().nullable_enum_refs(true);
    assert_eq!(
        lenient.check_response("GET", &call_path(), 200, call.to_string().as_bytes()),
        vec![]
    );
    call["status"] = json!(3);
    let found = lenient.check_response("GET", &call_path(), 200, call.to_string().as_bytes());
    assert_eq!(
        kinds(&found),
        vec![(Place::ResponseBody, "/status".to_owned(), Kind::WrongType)]
    );
}

#[test]
fn empty_strings_pass_as_null_only_when_asked_and_only_where_nullable() {
    let mut call = good_call();
    call["price_unit"] = json!("");
    call["sid"] = json!("");
    let strict = respond(200, &call);
    assert_eq!(strict.len(), 2, "{strict:?}");
    let lenient = spec().empty_strings_as_null(true);
    let found = lenient.check_response("GET", &call_path(), 200, call.to_string().as_bytes());
    assert_eq!(
        kinds(&found),
        vec![(
            Place::ResponseBody,
            "/sid".to_owned(),
            Kind::PatternMismatch
        )]
    );
}

#[test]
fn a_bad_enum_value_in_a_nested_array_fails() {
    let mut call = good_call();
    call["status"] = json!("initiated");
    let page = json!({"calls": [good_call(), call]});
    let found = spec().check_response("GET", &calls_path(), 200, page.to_string().as_bytes());
    assert_eq!(
        kinds(&found),
        vec![(
            Place::ResponseBody,
            "/calls/1/status".to_owned(),
            Kind::BadEnum
        )]
    );
}

#[test]
fn undeclared_response_properties_fail_unless_allowed() {
    let mut call = good_call();
    call["friendlyName"] = json!("x");
    assert_eq!(
        kinds(&respond(200, &call)),
        vec![(
            Place::ResponseBody,
            "/friendlyName".to_owned(),
            Kind::Undeclared
        )]
    );
    let lenient = spec().allow_undeclared_properties(true);
    assert_eq!(
        lenient.check_response("GET", &call_path(), 200, call.to_string().as_bytes()),
        vec![]
    );
}

#[test]
fn formats_and_uri_maps_are_checked_in_responses() {
    let mut call = good_call();
    call["date_created"] = json!("2010-08-31T20:36:28Z");
    call["subresource_uris"] = json!({"recordings": 1});
    let found = respond(200, &call);
    assert_eq!(
        kinds(&found),
        vec![
            (
                Place::ResponseBody,
                "/date_created".to_owned(),
                Kind::BadFormat
            ),
            (
                Place::ResponseBody,
                "/subresource_uris/recordings".to_owned(),
                Kind::WrongType
            ),
        ]
    );
}

#[test]
fn undeclared_statuses_fail_unless_an_error_schema_covers_them() {
    let error = json!({"code": 20404, "message": "not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404});
    let found = respond(404, &error);
    assert_eq!(
        kinds(&found),
        vec![(Place::Status, String::new(), Kind::UndeclaredStatus)]
    );
    let with_errors = spec().with_error_schema(json!({
        "type": "object",
        "required": ["code", "message", "status"],
        "properties": {
            "code": {"type": "integer"},
            "message": {"type": "string"},
            "more_info": {"type": "string", "format": "uri"},
            "status": {"type": "integer"}
        }
    }));
    let check = |body: &Value, status| {
        with_errors.check_response("GET", &call_path(), status, body.to_string().as_bytes())
    };
    assert_eq!(check(&error, 404), vec![]);
    let incomplete = json!({"message": "not found", "status": "404"});
    assert_eq!(
        kinds(&check(&incomplete, 404)),
        vec![
            (
                Place::ResponseBody,
                "/code".to_owned(),
                Kind::MissingRequired
            ),
            (Place::ResponseBody, "/status".to_owned(), Kind::WrongType),
        ]
    );
    assert_eq!(
        kinds(&check(&error, 302)),
        vec![(Place::Status, String::new(), Kind::UndeclaredStatus)]
    );
}

#[test]
fn bodiless_statuses_and_broken_json() {
    let delete = |body: &[u8]| spec().check_response("DELETE", &call_path(), 204, body);
    assert_eq!(delete(b""), vec![]);
    assert_eq!(
        kinds(&delete(b"{}")),
        vec![(Place::ResponseBody, String::new(), Kind::UnexpectedBody)]
    );
    let found = spec().check_response("GET", &call_path(), 200, b"{\"sid\":");
    assert_eq!(
        kinds(&found),
        vec![(Place::ResponseBody, String::new(), Kind::Syntax)]
    );
}

#[test]
fn a_ref_cycle_is_reported_not_followed_forever() {
    let mut doc = voice();
    doc["components"]["schemas"]["call"] = json!({"$ref": "#/components/schemas/loop"});
    doc["components"]["schemas"]["loop"] = json!({"$ref": "#/components/schemas/call"});
    let spec = Spec::from_documents(vec![("voice".to_owned(), doc)]).unwrap();
    let found = spec.check_response("GET", &call_path(), 200, good_call().to_string().as_bytes());
    assert_eq!(
        kinds(&found),
        vec![(Place::ResponseBody, String::new(), Kind::Unsupported)]
    );
}

#[test]
fn the_same_operation_in_two_documents_is_refused() {
    let result = Spec::from_documents(vec![("a".to_owned(), voice()), ("b".to_owned(), voice())]);
    assert!(
        matches!(result, Err(Error::Collision { ref first, ref second, .. }) if first == "a" && second == "b"),
        "{result:?}"
    );
}

#[test]
fn documents_that_are_not_openapi_3_are_refused() {
    let swagger = json!({"swagger": "2.0", "paths": {}});
    assert!(matches!(
        Spec::from_documents(vec![("s".to_owned(), swagger)]),
        Err(Error::Invalid { .. })
    ));
    let missing = Spec::load(&[std::path::PathBuf::from("no-such-dir/spec.json")]);
    assert!(matches!(missing, Err(Error::Read { .. })));
}

#[test]
fn load_reads_files() {
    let path = std::env::temp_dir().join(format!("oas-check-{}.json", std::process::id()));
    std::fs::write(&path, voice().to_string()).unwrap();
    let loaded = Spec::load(std::slice::from_ref(&path));
    std::fs::remove_file(&path).unwrap();
    let loaded = loaded.unwrap();
    assert!(
        loaded
            .check_request("GET", &call_path(), &[], None, b"")
            .is_ok()
    );
}

#[test]
fn a_report_reads_well() {
    let broken = json!({
        "sid": "CA1",
        "status": "initiated",
        "duration": 15,
        "price_unit": "dollars",
        "date_created": "Wed, 31 Aug 2010 20:36:28 +0000",
        "queue_time": 3_000_000_000_u64,
        "extra": true
    });
    let report: Vec<String> = respond(200, &broken)
        .iter()
        .map(ToString::to_string)
        .collect();
    insta::assert_snapshot!(report.join("\n"));
}

/// A miniature in OpenAPI 3.1's own words: type lists with `null`, and an optional reference
/// written as `oneOf` with `{type: null}`, as utoipa writes them.
fn three_one() -> Spec {
    let doc = json!({
        "openapi": "3.1.0",
        "paths": {"/things": {"post": {
            "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object",
                "properties": {"record": {"type": ["boolean", "null"]}, "name": {"type": "string"}}
            }}}},
            "responses": {"200": {"content": {"application/json": {"schema": {
                "type": "object",
                "required": ["status", "label"],
                "properties": {
                    "status": {"type": "string", "const": "success"},
                    "label": {"type": ["string", "null"]},
                    "part": {"oneOf": [{"$ref": "#/components/schemas/Part"}, {"type": "null"}]},
                    "either": {"anyOf": [{"type": "integer"}, {"type": "string", "format": "uuid"}]},
                    "both": {"allOf": [{"$ref": "#/components/schemas/Part"}, {"required": ["extra"]}]}
                }
            }}}}}
        }}},
        "components": {"schemas": {"Part": {
            "type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}, "extra": {"type": "string"}}
        }}}
    });
    Spec::from_documents(vec![("three_one.json".into(), doc)]).unwrap()
}

#[test]
fn openapi_3_1_type_lists_and_compositions_are_checked() {
    let spec = three_one();
    let check =
        |body: Value| spec.check_response("POST", "/things", 200, body.to_string().as_bytes());
    assert!(check(json!({"status": "success", "label": null})).is_empty());
    let found = check(
        json!({"status": "success", "label": "x", "part": {"n": 1}, "either": 3,
        "both": {"n": 2, "extra": "e"}}),
    );
    assert!(found.is_empty(), "{found:?}");
    assert!(check(json!({"status": "success", "label": "x", "part": null})).is_empty());
    assert!(check(json!({"status": "success", "label": "x", "either": "0190f0a0-0000-7000-8000-000000000000"})).is_empty());

    let kinds_of = |body: Value| -> Vec<(String, Kind)> {
        check(body)
            .into_iter()
            .map(|v| (v.pointer, v.kind))
            .collect()
    };
    assert_eq!(
        kinds_of(json!({"status": "error", "label": "x"})),
        vec![("/status".to_owned(), Kind::BadEnum)]
    );
    assert_eq!(
        kinds_of(json!({"status": "success", "label": 3})),
        vec![("/label".to_owned(), Kind::WrongType)]
    );
    assert_eq!(
        kinds_of(json!({"status": "success", "label": "x", "part": {"n": "one"}})),
        vec![("/part".to_owned(), Kind::WrongType)]
    );
    assert_eq!(
        kinds_of(json!({"status": "success", "label": "x", "either": "not a uuid"})),
        vec![("/either".to_owned(), Kind::WrongType)]
    );
    assert_eq!(
        kinds_of(json!({"status": "success", "label": "x", "both": {"n": 2}})),
        vec![("/both/extra".to_owned(), Kind::MissingRequired)]
    );
}

#[test]
fn form_fields_typed_with_a_3_1_type_list_are_read_as_their_type() {
    let spec = three_one();
    let form = Some("application/x-www-form-urlencoded");
    assert!(
        spec.check_request("POST", "/things", &[], form, b"record=true&name=a")
            .is_ok()
    );
    let found = spec
        .check_request("POST", "/things", &[], form, b"record=maybe")
        .unwrap_err();
    assert_eq!(found[0].kind, Kind::WrongType);
}
