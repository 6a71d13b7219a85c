//! The checker against Twilio's published documents: they load and route together, and Twilio's own
//! response examples for the operations callbridge uses pass, while the same examples broken fail.

use std::path::PathBuf;

use oas_check::{Kind, Spec};
use serde_json::{Value, json};

fn spec_dir() -> PathBuf {
    // The specs are vendored in `specs/twilio-oai` at the repository root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/twilio-oai")
}

fn documents() -> Vec<(String, Value)> {
    [
        "twilio_api_v2010.json",
        "twilio_verify_v2.json",
        "twilio_sync_v1.json",
        "twilio_voice_v1.json",
    ]
    .iter()
    .map(|name| {
        let text = std::fs::read(spec_dir().join(name)).unwrap();
        ((*name).to_owned(), serde_json::from_slice(&text).unwrap())
    })
    .collect()
}

const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// (method, template, a concrete path) of every operation the `twilio` client calls.
fn used_operations() -> Vec<(&'static str, &'static str, String)> {
    let api = |rest: &str| format!("/2010-04-01/Accounts/{ACCOUNT}/{rest}");
    let conf = "CFaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let call = "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    vec![
        ("post", "/2010-04-01/Accounts/{AccountSid}/Calls.json", api("Calls.json")),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Calls.json", api("Calls.json")),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json", api(&format!("Calls/{call}.json"))),
        ("post", "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json", api(&format!("Calls/{call}.json"))),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Conferences.json", api("Conferences.json")),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Conferences/{Sid}.json", api(&format!("Conferences/{conf}.json"))),
        ("post", "/2010-04-01/Accounts/{AccountSid}/Conferences/{Sid}.json", api(&format!("Conferences/{conf}.json"))),
        ("post", "/2010-04-01/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants.json", api(&format!("Conferences/{conf}/Participants.json"))),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}.json", api(&format!("Conferences/{conf}/Participants/{call}.json"))),
        ("post", "/2010-04-01/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}.json", api(&format!("Conferences/{conf}/Participants/{call}.json"))),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Recordings.json", api("Recordings.json")),
        ("get", "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json", api("Recordings/REaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json")),
        ("get", "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json", api("IncomingPhoneNumbers.json")),
        ("post", "/v2/Services/{ServiceSid}/Verifications", "/v2/Services/VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Verifications".to_owned()),
        ("post", "/v2/Services/{ServiceSid}/VerificationCheck", "/v2/Services/VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/VerificationCheck".to_owned()),
        ("post", "/v1/Services/{ServiceSid}/Documents", "/v1/Services/ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Documents".to_owned()),
        ("get", "/v1/Services/{ServiceSid}/Documents/{Sid}", "/v1/Services/ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Documents/ETaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned()),
        ("post", "/v1/Services/{ServiceSid}/Documents/{Sid}", "/v1/Services/ISaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Documents/ETaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned()),
    ]
}

/// Every `(status, example)` Twilio gives for an operation's JSON responses.
fn examples<'a>(
    docs: &'a [(String, Value)],
    method: &str,
    template: &str,
) -> Vec<(u16, &'a Value)> {
    let operation = docs
        .iter()
        .find_map(|(_, root)| root["paths"].get(template))
        .and_then(|item| item.get(method))
        .unwrap_or_else(|| panic!("{method} {template} is in no document"));
    let mut out = Vec::new();
    for (status, response) in operation["responses"].as_object().unwrap() {
        let Some(found) = response.pointer("/content/application~1json/examples") else {
            continue;
        };
        for example in found.as_object().unwrap().values() {
            out.push((status.parse().unwrap(), &example["value"]));
        }
    }
    out
}

#[test]
fn twilios_documents_load_and_route_every_operation_callbridge_uses() {
    let spec = Spec::from_documents(documents()).unwrap();
    for (method, template, path) in used_operations() {
        let operation = spec.check_request(method, &path, &[], None, b"");
        match operation {
            Ok(op) => assert_eq!(op.template, template),
            // Operations with required form fields refuse an empty body, but must still route.
            Err(found) => assert!(
                found.iter().all(|v| v.kind == Kind::MissingRequired),
                "{method} {path}: {found:?}"
            ),
        }
    }
}

#[test]
fn twilios_own_examples_pass() {
    let docs = documents();
    let spec = Spec::from_documents(docs.clone())
        .unwrap()
        .nullable_enum_refs(true)
        .empty_strings_as_null(true);
    let mut checked = 0;
    for (method, template, path) in used_operations() {
        for (status, example) in examples(&docs, method, template) {
            let found = spec.check_response(method, &path, status, example.to_string().as_bytes());
            let report: Vec<String> = found.iter().map(ToString::to_string).collect();
            assert!(
                found.is_empty(),
                "{method} {template} example:\n{}",
                report.join("\n")
            );
            checked += 1;
        }
    }
    assert!(
        checked >= used_operations().len(),
        "only {checked} examples"
    );
}

#[test]
fn twilios_examples_broken_fail() {
    let docs = documents();
    let spec = Spec::from_documents(docs.clone()).unwrap();
    let (method, template, path) = &used_operations()[2];
    let (status, example) = examples(&docs, method, template)[0];
    let mut call = example.clone();
    call["status"] = json!("ringing-ish");
    call["duration"] = json!(15);
    call.as_object_mut().unwrap().remove("sid");
    let kinds: Vec<Kind> = spec
        .check_response(method, path, status, call.to_string().as_bytes())
        .iter()
        .map(|v| v.kind)
        .collect();
    assert!(kinds.contains(&Kind::BadEnum), "{kinds:?}");
    assert!(kinds.contains(&Kind::WrongType), "{kinds:?}");
}
