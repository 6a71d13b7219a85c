//! Which client methods the test ran, and which REST operation each one must reach.

use std::collections::BTreeMap;

/// The client's resource modules, read at compile time so that a method added to the client and not
/// exercised here fails the test.
const RESOURCE_MODULES: &str = include_str!("../../../twilio/src/resources/mod.rs");
const RESOURCE_SOURCES: [(&str, &str); 10] = [
    (
        "applications",
        include_str!("../../../twilio/src/resources/applications.rs"),
    ),
    (
        "calls",
        include_str!("../../../twilio/src/resources/calls.rs"),
    ),
    (
        "common",
        include_str!("../../../twilio/src/resources/common.rs"),
    ),
    (
        "conferences",
        include_str!("../../../twilio/src/resources/conferences.rs"),
    ),
    (
        "keys",
        include_str!("../../../twilio/src/resources/keys.rs"),
    ),
    (
        "participants",
        include_str!("../../../twilio/src/resources/participants.rs"),
    ),
    (
        "recordings",
        include_str!("../../../twilio/src/resources/recordings.rs"),
    ),
    (
        "services",
        include_str!("../../../twilio/src/resources/services.rs"),
    ),
    (
        "sync",
        include_str!("../../../twilio/src/resources/sync.rs"),
    ),
    (
        "verify",
        include_str!("../../../twilio/src/resources/verify.rs"),
    ),
];

/// The public async methods of `twilio::Client`: every one is a REST call.
/// Client methods whose operation Twilio's OpenAPI documents leave out; the test checks them
/// on their own.
pub const OUTSIDE_THE_DOCUMENTS: &[&str] = &["recording_audio"];

pub fn client_methods() -> Vec<String> {
    let declared: Vec<&str> = RESOURCE_MODULES
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let read: Vec<&str> = RESOURCE_SOURCES.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        declared, read,
        "the client has resource modules this test does not read"
    );
    let mut methods = Vec::new();
    for (_, source) in RESOURCE_SOURCES {
        for line in source.lines() {
            if let Some(rest) = line.trim().strip_prefix("pub async fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                methods.push(name);
            }
        }
    }
    methods.retain(|m| !OUTSIDE_THE_DOCUMENTS.contains(&m.as_str()));
    methods.sort();
    methods
}

const API: &str = "/2010-04-01/Accounts/{AccountSid}";

/// The operation (method, template) each client method must reach.
pub fn expected_operations() -> BTreeMap<&'static str, (&'static str, String)> {
    let api = |rest: &str| format!("{API}{rest}");
    BTreeMap::from([
        ("create_call", ("POST", api("/Calls.json"))),
        ("fetch_call", ("GET", api("/Calls/{Sid}.json"))),
        ("update_call", ("POST", api("/Calls/{Sid}.json"))),
        ("list_calls", ("GET", api("/Calls.json"))),
        ("next_page", ("GET", api("/Calls.json"))),
        ("fetch_conference", ("GET", api("/Conferences/{Sid}.json"))),
        ("list_conferences", ("GET", api("/Conferences.json"))),
        (
            "update_conference",
            ("POST", api("/Conferences/{Sid}.json")),
        ),
        (
            "create_participant",
            (
                "POST",
                api("/Conferences/{ConferenceSid}/Participants.json"),
            ),
        ),
        (
            "fetch_participant",
            (
                "GET",
                api("/Conferences/{ConferenceSid}/Participants/{CallSid}.json"),
            ),
        ),
        (
            "update_participant",
            (
                "POST",
                api("/Conferences/{ConferenceSid}/Participants/{CallSid}.json"),
            ),
        ),
        (
            "delete_participant",
            (
                "DELETE",
                api("/Conferences/{ConferenceSid}/Participants/{CallSid}.json"),
            ),
        ),
        ("fetch_recording", ("GET", api("/Recordings/{Sid}.json"))),
        (
            "fetch_application",
            ("GET", api("/Applications/{Sid}.json")),
        ),
        ("create_application", ("POST", api("/Applications.json"))),
        ("list_applications", ("GET", api("/Applications.json"))),
        (
            "update_application",
            ("POST", api("/Applications/{Sid}.json")),
        ),
        ("create_key", ("POST", api("/Keys.json"))),
        ("fetch_key", ("GET", api("/Keys/{Sid}.json"))),
        ("create_verify_service", ("POST", "/v2/Services".to_owned())),
        ("list_verify_services", ("GET", "/v2/Services".to_owned())),
        ("create_sync_service", ("POST", "/v1/Services".to_owned())),
        ("list_sync_services", ("GET", "/v1/Services".to_owned())),
        ("list_recordings", ("GET", api("/Recordings.json"))),
        (
            "list_incoming_phone_numbers",
            ("GET", api("/IncomingPhoneNumbers.json")),
        ),
        (
            "create_verification",
            ("POST", "/v2/Services/{ServiceSid}/Verifications".to_owned()),
        ),
        (
            "check_verification",
            (
                "POST",
                "/v2/Services/{ServiceSid}/VerificationCheck".to_owned(),
            ),
        ),
        (
            "create_document",
            ("POST", "/v1/Services/{ServiceSid}/Documents".to_owned()),
        ),
        (
            "fetch_document",
            (
                "GET",
                "/v1/Services/{ServiceSid}/Documents/{Sid}".to_owned(),
            ),
        ),
        (
            "update_document",
            (
                "POST",
                "/v1/Services/{ServiceSid}/Documents/{Sid}".to_owned(),
            ),
        ),
    ])
}

/// Which exchanges (indexes into the proxy's log) each client method call produced.
#[derive(Default, Debug)]
pub struct Coverage {
    pub calls: Vec<(&'static str, std::ops::Range<usize>)>,
}

impl Coverage {
    pub fn note(&mut self, method: &'static str, exchanges: std::ops::Range<usize>) {
        self.calls.push((method, exchanges));
    }
}

/// Runs `client.method(args…)`, noting which exchanges it caused under the method's name.
macro_rules! exercise {
    ($coverage:expr, $proxy:expr, $client:ident . $method:ident ( $($arg:expr),* $(,)? )) => {{
        let before = $proxy.len();
        let result = $client.$method($($arg),*).await;
        $coverage.note(stringify!($method), before..$proxy.len());
        result
    }};
}
