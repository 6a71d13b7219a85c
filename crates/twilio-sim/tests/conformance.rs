//! OpenAPI conformance: every `twilio::Client` method, run against the simulator through a recording
//! proxy, with every request and every response checked against Twilio's OpenAPI documents.
//!
//! Requests check the client (every form field declared and typed, required ones present); responses
//! check the simulator (status declared, JSON shape, types, enums, formats, SID patterns). Error
//! bodies, which Twilio's documents do not describe, are checked against Twilio's error shape.

#[path = "conformance/coverage.rs"]
#[macro_use]
mod coverage;
#[path = "conformance/proxy.rs"]
mod proxy;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use oas_check::Spec;
use serde_json::{Value, json};
use twilio::{
    ApplicationParams, Beep, CallEvent, CallInstructions, CallStatus, CallUpdateStatus,
    CheckVerification, Client, ClientConfig, ConferenceEvent, ConferenceRecord, ConferenceStatus,
    ConferenceUpdateStatus, CreateCall, CreateDocument, CreateParticipant, CreateVerification,
    Credentials, Error, HttpMethod, ListCalls, ListConferences, ListIncomingPhoneNumbers,
    ListRecordings, MachineDetection, RecordingEvent, RecordingStatus, SecretString, UpdateCall,
    UpdateConference, UpdateDocument, UpdateParticipant, VerificationStatus, VerifyChannel,
};
use twilio_sim::{NumberBehaviour, Sim, SimConfig};

use coverage::{Coverage, client_methods, expected_operations};
use proxy::{Exchange, Proxy, start_sink};

const CALLER_ID: &str = "+15005550006";
const AGENT: &str = "+15550107001";
const CUSTOMER: &str = "+15550107002";
const SECOND: &str = "+15550107003";
const ROOM: &str = "conformance-room";
const VERIFY_SERVICE: &str = "VA0123456789abcdef0123456789abcdef";
const SYNC_SERVICE: &str = "IS0123456789abcdef0123456789abcdef";
const API_KEY: &str = "SK0123456789abcdef0123456789abcdef";
const API_SECRET: &str = "conformance-api-key-secret";
const SPEC_FILES: [&str; 3] = [
    "twilio_api_v2010.json",
    "twilio_verify_v2.json",
    "twilio_sync_v1.json",
];

/// Twilio's OpenAPI documents, vendored in `specs/twilio-oai` at the repository root.
fn spec_dir() -> PathBuf {
    match std::env::var_os("TWILIO_OAI_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/twilio-oai"),
    }
}

fn spec() -> Spec {
    let files: Vec<PathBuf> = SPEC_FILES.iter().map(|f| spec_dir().join(f)).collect();
    let error_schema: Value =
        serde_json::from_str(include_str!("conformance/twilio_error.json")).unwrap();
    Spec::load(&files)
        .unwrap()
        .with_error_schema(error_schema)
        // Two quirks of Twilio's documents that Twilio's own examples show (see their docs).
        .nullable_enum_refs(true)
        .empty_strings_as_null(true)
}

fn client(base: &url::Url, account: &str, credentials: Credentials) -> Client {
    let mut config = ClientConfig::new(account, credentials);
    config.base_url = Some(base.clone());
    Client::new(config).unwrap()
}

/// Runs `probe` until it yields something; bounded, so a broken simulator fails instead of hanging.
macro_rules! eventually {
    ($what:expr, $probe:block) => {{
        let mut found = None;
        for _ in 0..400 {
            if let Some(x) = $probe {
                found = Some(x);
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        found.unwrap_or_else(|| panic!("gave up waiting for {}", $what))
    }};
}

fn api_error(result: Result<impl std::fmt::Debug, Error>) -> (u16, Option<u32>) {
    match result {
        Err(Error::Api { status, code, .. }) => (status, code),
        other => panic!("expected a Twilio error, got {other:?}"),
    }
}

#[tokio::test]
async fn every_client_call_conforms_to_twilios_openapi_documents() {
    let spec = spec();
    let sim = Sim::start(SimConfig {
        time_scale: 0.01,
        api_keys: vec![(API_KEY.to_owned(), API_SECRET.to_owned())],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let proxy = Proxy::start(sim.base_url()).await;
    let sink = start_sink().await;
    let hook = |path: &str| sink.join(path).unwrap().to_string();
    let account = sim.account_sid().to_owned();
    let twilio = client(
        &proxy.base,
        &account,
        Credentials::AuthToken(SecretString::from(sim.auth_token().to_owned())),
    );
    let mut cov = Coverage::default();
    for number in [AGENT, CUSTOMER, SECOND] {
        sim.set_number(
            number,
            NumberBehaviour {
                ring_ms: 200,
                ..NumberBehaviour::default()
            },
        );
    }

    // What a set-up makes: the TwiML App browser agents call through, an API key, a Verify and
    // a Sync service, each found again by its name.
    let made = exercise!(
        cov,
        proxy,
        twilio.create_application(&ApplicationParams {
            friendly_name: Some("agents".into()),
            voice_url: Some(hook("voice")),
            voice_method: Some(HttpMethod::Post),
            ..ApplicationParams::default()
        })
    )
    .unwrap();
    let changed = exercise!(
        cov,
        proxy,
        twilio.update_application(
            &made.sid,
            &ApplicationParams {
                status_callback: Some(hook("status")),
                status_callback_method: Some(HttpMethod::Post),
                ..ApplicationParams::default()
            }
        )
    )
    .unwrap();
    assert_eq!(changed.voice_url.as_deref(), Some(hook("voice").as_str()));
    let app = exercise!(cov, proxy, twilio.fetch_application(&made.sid)).unwrap();
    assert_eq!(
        app.status_callback.as_deref(),
        Some(hook("status").as_str())
    );
    let named = exercise!(cov, proxy, twilio.list_applications(Some("agents"), 20)).unwrap();
    assert_eq!(named.items.len(), 1);
    let key = exercise!(cov, proxy, twilio.create_key("set-up")).unwrap();
    let fetched = exercise!(cov, proxy, twilio.fetch_key(&key.sid)).unwrap();
    assert_eq!(fetched.friendly_name.as_deref(), Some("set-up"));
    let verify = exercise!(cov, proxy, twilio.create_verify_service("callbridge")).unwrap();
    let listed = exercise!(cov, proxy, twilio.list_verify_services()).unwrap();
    assert!(listed.items.iter().any(|s| s.sid == verify.sid));
    let sync = exercise!(cov, proxy, twilio.create_sync_service("callbridge")).unwrap();
    let listed = exercise!(cov, proxy, twilio.list_sync_services()).unwrap();
    assert!(listed.items.iter().any(|s| s.sid == sync.sid));

    // Phone numbers.
    let numbers = exercise!(
        cov,
        proxy,
        twilio.list_incoming_phone_numbers(&ListIncomingPhoneNumbers {
            phone_number: Some(CALLER_ID.to_owned()),
            page_size: Some(20),
        })
    )
    .unwrap();
    assert!(
        numbers
            .items
            .iter()
            .any(|n| n.phone_number.as_deref() == Some(CALLER_ID))
    );

    // Calls: inline TwiML joining a conference, with every optional field the client can send.
    let mut create = CreateCall::new(
        AGENT,
        CALLER_ID,
        CallInstructions::Twiml(format!(
            "<Response><Dial><Conference>{ROOM}</Conference></Dial></Response>"
        )),
    );
    create.status_callback = Some(hook("status?leg=agent"));
    create.status_callback_method = Some(HttpMethod::Post);
    create.status_callback_event = CallEvent::ALL.to_vec();
    create.timeout = Some(30);
    create.machine_detection = Some(MachineDetection::Enable);
    create.machine_detection_timeout = Some(10);
    create.async_amd = Some(true);
    create.async_amd_status_callback = Some(hook("amd?leg=agent"));
    create.async_amd_status_callback_method = Some(HttpMethod::Post);
    create.record = Some(true);
    create.recording_status_callback = Some(hook("recording"));
    create.recording_status_callback_event =
        vec![RecordingEvent::InProgress, RecordingEvent::Completed];
    let agent = exercise!(cov, proxy, twilio.create_call(&create)).unwrap();

    // A second call driven by a URL.
    let mut by_url = CreateCall::new(SECOND, CALLER_ID, CallInstructions::Url(hook("twiml")));
    by_url.method = Some(HttpMethod::Post);
    let second = exercise!(cov, proxy, twilio.create_call(&by_url)).unwrap();

    let fetched = eventually!("the agent to answer", {
        let call = exercise!(cov, proxy, twilio.fetch_call(&agent.sid)).unwrap();
        (call.status == Some(CallStatus::InProgress)).then_some(call)
    });
    assert_eq!(fetched.to.as_deref(), Some(AGENT));

    let listed = exercise!(
        cov,
        proxy,
        twilio.list_calls(&ListCalls {
            to: Some(AGENT.to_owned()),
            from: Some(CALLER_ID.to_owned()),
            status: Some(CallStatus::InProgress),
            page_size: Some(20),
        })
    )
    .unwrap();
    assert!(listed.items.iter().any(|c| c.sid == agent.sid));
    let first_page = exercise!(
        cov,
        proxy,
        twilio.list_calls(&ListCalls {
            page_size: Some(1),
            ..ListCalls::default()
        })
    )
    .unwrap();
    assert_eq!(first_page.items.len(), 1);
    let second_page = exercise!(cov, proxy, twilio.next_page(&first_page))
        .unwrap()
        .expect("two calls make two pages");
    assert_eq!(second_page.items.len(), 1);
    assert_ne!(second_page.items[0].sid, first_page.items[0].sid);

    // Conferences.
    let conference = eventually!(
        "the conference to exist (one caller: Twilio keeps it in init)",
        {
            let page = exercise!(
                cov,
                proxy,
                twilio.list_conferences(&ListConferences {
                    friendly_name: Some(ROOM.to_owned()),
                    status: Some(ConferenceStatus::Init),
                    page_size: Some(20),
                })
            )
            .unwrap();
            page.items.into_iter().next()
        }
    );
    let conference = exercise!(cov, proxy, twilio.fetch_conference(&conference.sid)).unwrap();
    assert_eq!(conference.friendly_name.as_deref(), Some(ROOM));

    // Participants: created by the conference's friendly name, with every optional field.
    let mut join = CreateParticipant::new(CALLER_ID, CUSTOMER);
    join.label = Some("customer".to_owned());
    join.status_callback = Some(hook("status?leg=customer"));
    join.status_callback_method = Some(HttpMethod::Post);
    join.status_callback_event = vec![
        CallEvent::Initiated,
        CallEvent::Answered,
        CallEvent::Completed,
    ];
    join.timeout = Some(30);
    join.record = Some(false);
    join.beep = Some(Beep::OnEnter);
    join.start_conference_on_enter = Some(true);
    join.end_conference_on_exit = Some(false);
    join.early_media = Some(true);
    join.conference_status_callback = Some(hook("conference"));
    join.conference_status_callback_method = Some(HttpMethod::Post);
    join.conference_status_callback_event = vec![
        ConferenceEvent::Start,
        ConferenceEvent::End,
        ConferenceEvent::Join,
        ConferenceEvent::Leave,
    ];
    join.conference_record = Some(ConferenceRecord::RecordFromStart);
    join.conference_recording_status_callback = Some(hook("conference-recording"));
    join.conference_recording_status_callback_event = vec![RecordingEvent::Completed];
    join.wait_url = Some(hook("wait"));
    join.wait_method = Some(HttpMethod::Post);
    join.muted = Some(false);
    join.coaching = Some(true);
    join.call_sid_to_coach = Some(agent.sid.clone());
    join.machine_detection = Some(MachineDetection::DetectMessageEnd);
    join.machine_detection_timeout = Some(30);
    join.amd_status_callback = Some(hook("amd?leg=customer"));
    join.amd_status_callback_method = Some(HttpMethod::Post);
    let participant = exercise!(cov, proxy, twilio.create_participant(ROOM, &join)).unwrap();
    assert_eq!(
        participant.conference_sid.as_deref(),
        Some(conference.sid.as_str())
    );
    let customer_sid = participant.call_sid.clone();

    eventually!("the customer to join", {
        let p = exercise!(
            cov,
            proxy,
            twilio.fetch_participant(&conference.sid, &customer_sid)
        )
        .unwrap();
        (p.status == Some(twilio::ParticipantStatus::Connected)).then_some(p)
    });
    let by_label = exercise!(
        cov,
        proxy,
        twilio.fetch_participant(&conference.sid, "customer")
    )
    .unwrap();
    assert_eq!(by_label.call_sid, customer_sid);
    let held = exercise!(
        cov,
        proxy,
        twilio.update_participant(
            &conference.sid,
            &customer_sid,
            &UpdateParticipant {
                hold: Some(true),
                muted: Some(true),
                hold_url: Some(hook("hold")),
                hold_method: Some(HttpMethod::Get),
                announce_url: Some(hook("announce?to=customer")),
                announce_method: Some(HttpMethod::Post),
                wait_url: Some(hook("wait")),
                wait_method: Some(HttpMethod::Post),
                beep_on_exit: Some(false),
                end_conference_on_exit: Some(false),
                coaching: Some(false),
                call_sid_to_coach: None,
            }
        )
    )
    .unwrap();
    assert_eq!(held.hold, Some(true));
    assert_eq!(held.muted, Some(true));
    exercise!(
        cov,
        proxy,
        twilio.delete_participant(&conference.sid, &customer_sid)
    )
    .unwrap();

    let announced = exercise!(
        cov,
        proxy,
        twilio.update_conference(
            &conference.sid,
            &UpdateConference {
                announce_url: Some(hook("announce?to=all")),
                announce_method: Some(HttpMethod::Post),
                ..UpdateConference::default()
            }
        )
    )
    .unwrap();
    assert_eq!(announced.sid, conference.sid);

    // Redirect the second call, end the conference (and with it the agent's Dial), hang up.
    let redirected = exercise!(
        cov,
        proxy,
        twilio.update_call(
            &second.sid,
            &UpdateCall {
                url: Some(hook("twiml?redirected=1")),
                method: Some(HttpMethod::Post),
                ..UpdateCall::default()
            }
        )
    )
    .unwrap();
    assert_eq!(redirected.sid, second.sid);
    let ended = exercise!(
        cov,
        proxy,
        twilio.update_conference(
            &conference.sid,
            &UpdateConference {
                status: Some(ConferenceUpdateStatus::Completed),
                ..UpdateConference::default()
            }
        )
    )
    .unwrap();
    assert_eq!(ended.sid, conference.sid);
    exercise!(
        cov,
        proxy,
        twilio.update_call(
            &second.sid,
            &UpdateCall {
                twiml: Some("<Response><Hangup/></Response>".to_owned()),
                ..UpdateCall::default()
            }
        )
    )
    .ok();
    exercise!(
        cov,
        proxy,
        twilio.update_call(
            &agent.sid,
            &UpdateCall {
                status: Some(CallUpdateStatus::Completed),
                ..UpdateCall::default()
            }
        )
    )
    .ok();
    eventually!("the agent's call to end", {
        let call = exercise!(cov, proxy, twilio.fetch_call(&agent.sid)).unwrap();
        call.status
            .is_some_and(CallStatus::is_final)
            .then_some(call)
    });

    // Recordings: the agent's call was recorded.
    let recording = eventually!("the call's recording", {
        let page = exercise!(
            cov,
            proxy,
            twilio.list_recordings(&ListRecordings {
                call_sid: Some(agent.sid.clone()),
                page_size: Some(20),
                ..ListRecordings::default()
            })
        )
        .unwrap();
        page.items
            .into_iter()
            .find(|r| r.status == Some(RecordingStatus::Completed))
    });
    let recording = exercise!(cov, proxy, twilio.fetch_recording(&recording.sid)).unwrap();
    assert_eq!(recording.call_sid.as_deref(), Some(agent.sid.as_str()));
    exercise!(
        cov,
        proxy,
        twilio.list_recordings(&ListRecordings {
            conference_sid: Some(conference.sid.clone()),
            ..ListRecordings::default()
        })
    )
    .unwrap();

    // Verify: email and SMS, a wrong code, then the right one read from the control API.
    let control = reqwest::Client::new();
    for (to, channel) in [
        ("agent@example.com", VerifyChannel::Email),
        ("+15550107009", VerifyChannel::Sms),
    ] {
        let sent = exercise!(
            cov,
            proxy,
            twilio.create_verification(
                VERIFY_SERVICE,
                &CreateVerification {
                    to: to.to_owned(),
                    channel,
                }
            )
        )
        .unwrap();
        assert_eq!(sent.status, Some(VerificationStatus::Pending));
        let otp: Value = control
            .get(sim.base_url().join("sim/verifications").unwrap())
            .query(&[("to", to)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = otp["code"].as_str().unwrap().to_owned();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let denied = exercise!(
            cov,
            proxy,
            twilio.check_verification(
                VERIFY_SERVICE,
                &CheckVerification {
                    to: to.to_owned(),
                    code: wrong.to_owned(),
                }
            )
        )
        .unwrap();
        assert!(!denied.is_approved());
        let approved = exercise!(
            cov,
            proxy,
            twilio.check_verification(
                VERIFY_SERVICE,
                &CheckVerification {
                    to: to.to_owned(),
                    code,
                }
            )
        )
        .unwrap();
        assert!(approved.is_approved());
    }

    // Sync documents, by SID and by unique name.
    let document = exercise!(
        cov,
        proxy,
        twilio.create_document(
            SYNC_SERVICE,
            &CreateDocument {
                unique_name: Some("verified_email_YWdlbnRAZXhhbXBsZS5jb20=".to_owned()),
                data: Some(
                    json!({"email": "agent@example.com", "verifiedAt": "2024-01-01T00:00:00Z"})
                ),
                ttl: Some(3600),
            }
        )
    )
    .unwrap();
    let by_name = exercise!(
        cov,
        proxy,
        twilio.fetch_document(SYNC_SERVICE, "verified_email_YWdlbnRAZXhhbXBsZS5jb20=")
    )
    .unwrap();
    assert_eq!(by_name.sid, document.sid);
    let updated = exercise!(
        cov,
        proxy,
        twilio.update_document(
            SYNC_SERVICE,
            &document.sid,
            &UpdateDocument {
                data: Some(json!({"email": "agent@example.com", "phone": CUSTOMER})),
                ttl: Some(7200),
            }
        )
    )
    .unwrap();
    assert_eq!(
        updated.data,
        Some(json!({"email": "agent@example.com", "phone": CUSTOMER}))
    );
    exercise!(
        cov,
        proxy,
        twilio.fetch_document(SYNC_SERVICE, &document.sid)
    )
    .unwrap();

    // API key credentials work like the auth token.
    let keyed = client(
        &proxy.base,
        &account,
        Credentials::ApiKey {
            sid: API_KEY.to_owned(),
            secret: SecretString::from(API_SECRET),
        },
    );
    exercise!(cov, proxy, keyed.fetch_call(&agent.sid)).unwrap();

    // Errors: wrong credentials, and well-formed SIDs that do not exist.
    let intruder = client(
        &proxy.base,
        &account,
        Credentials::AuthToken(SecretString::from("wrong-token")),
    );
    assert_eq!(
        api_error(exercise!(cov, proxy, intruder.fetch_call(&agent.sid))),
        (401, Some(20003))
    );
    assert_eq!(
        api_error(exercise!(
            cov,
            proxy,
            intruder.create_verification(
                VERIFY_SERVICE,
                &CreateVerification {
                    to: "agent@example.com".to_owned(),
                    channel: VerifyChannel::Email,
                }
            )
        )),
        (401, Some(20003))
    );
    let nowhere = "CAffffffffffffffffffffffffffffffff";
    assert_eq!(
        api_error(exercise!(cov, proxy, twilio.fetch_call(nowhere))).0,
        404
    );
    assert_eq!(
        api_error(exercise!(
            cov,
            proxy,
            twilio.fetch_conference("CFffffffffffffffffffffffffffffffff")
        ))
        .0,
        404
    );
    assert_eq!(
        api_error(exercise!(
            cov,
            proxy,
            twilio.fetch_participant(&conference.sid, nowhere)
        ))
        .0,
        404
    );
    assert_eq!(
        api_error(exercise!(
            cov,
            proxy,
            twilio.fetch_recording("REffffffffffffffffffffffffffffffff")
        ))
        .0,
        404
    );
    assert_eq!(
        api_error(exercise!(
            cov,
            proxy,
            twilio.fetch_application("APffffffffffffffffffffffffffffffff")
        ))
        .0,
        404
    );
    assert_eq!(
        api_error(exercise!(
            cov,
            proxy,
            twilio.fetch_document(SYNC_SERVICE, "ETffffffffffffffffffffffffffffffff")
        ))
        .0,
        404
    );
    let (status, _) = api_error(exercise!(
        cov,
        proxy,
        twilio.check_verification(
            VERIFY_SERVICE,
            &CheckVerification {
                to: "nobody@example.com".to_owned(),
                code: "123456".to_owned(),
            }
        )
    ));
    assert_eq!(status, 404);

    let exchanges = proxy.exchanges();
    // Twilio's documents describe a recording's JSON only; its audio is the same URI with
    // `.mp3`, so the client's audio download is checked here, outside them.
    let audio = twilio.recording_audio(&recording.sid).await.unwrap();
    assert_eq!(audio.headers()["content-type"], "audio/mpeg");
    assert!(!audio.bytes().await.unwrap().is_empty());
    let violations = check_all(&spec, &exchanges);
    let coverage_gaps = check_coverage(&spec, &exchanges, &cov);
    sim.shutdown().await;
    eprintln!(
        "checked {} exchanges from {} client calls",
        exchanges.len(),
        cov.calls.len()
    );
    assert!(
        violations.is_empty() && coverage_gaps.is_empty(),
        "{} of {} exchanges break Twilio's OpenAPI documents:\n{}\n\ncoverage:\n{}",
        violations.len(),
        exchanges.len(),
        violations.join("\n"),
        coverage_gaps.join("\n"),
    );
}

/// One REST request through the proxy with the account's basic auth: (status, JSON body).
async fn rest(
    http: &reqwest::Client,
    sim: &Sim,
    method: reqwest::Method,
    url: url::Url,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = http
        .request(method.clone(), url)
        .basic_auth(sim.account_sid(), Some(sim.auth_token()));
    if method == reqwest::Method::POST {
        request = request.form(form);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// Applications and Keys, which `twilio::Client` does not wrap, driven by hand: every request is
/// one the documents allow, every answer matches their schemas, and every operation succeeds once.
#[tokio::test]
async fn applications_and_keys_conform_to_twilios_openapi_documents() {
    let spec = spec();
    let sim = Sim::start(SimConfig {
        time_scale: 0.01,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let proxy = Proxy::start(sim.base_url()).await;
    let sink = start_sink().await;
    let hook = |path: &str| sink.join(path).unwrap().to_string();
    let http = reqwest::Client::new();
    let api = |rest: &str| {
        proxy
            .base
            .join(&format!("2010-04-01/Accounts/{}{rest}", sim.account_sid()))
            .unwrap()
    };
    use reqwest::Method as M;

    let (voice, fallback, status, sms) = (
        hook("voice"),
        hook("voice-fallback"),
        hook("status"),
        hook("sms"),
    );
    let (code, app) = rest(
        &http,
        &sim,
        M::POST,
        api("/Applications.json"),
        &[
            ("FriendlyName", "browser agents"),
            ("ApiVersion", "2010-04-01"),
            ("VoiceUrl", &voice),
            ("VoiceMethod", "POST"),
            ("VoiceFallbackUrl", &fallback),
            ("VoiceFallbackMethod", "GET"),
            ("StatusCallback", &status),
            ("StatusCallbackMethod", "POST"),
            ("VoiceCallerIdLookup", "false"),
            ("SmsUrl", &sms),
            ("SmsMethod", "POST"),
            ("SmsFallbackUrl", &sms),
            ("SmsFallbackMethod", "POST"),
            ("SmsStatusCallback", &sms),
            ("MessageStatusCallback", &sms),
            ("PublicApplicationConnectEnabled", "true"),
        ],
    )
    .await;
    assert_eq!(code, 201, "{app}");
    let app_sid = app["sid"].as_str().unwrap().to_owned();
    let app_url = api(&format!("/Applications/{app_sid}.json"));
    rest(
        &http,
        &sim,
        M::GET,
        api("/Applications.json?FriendlyName=browser+agents&PageSize=20"),
        &[],
    )
    .await;
    rest(&http, &sim, M::GET, app_url.clone(), &[]).await;
    rest(
        &http,
        &sim,
        M::POST,
        app_url.clone(),
        &[("FriendlyName", "renamed"), ("VoiceUrl", &voice)],
    )
    .await;
    let (code, call) = rest(
        &http,
        &sim,
        M::POST,
        api("/Calls.json"),
        &[
            ("To", AGENT),
            ("From", CALLER_ID),
            ("ApplicationSid", &app_sid),
        ],
    )
    .await;
    assert_eq!(code, 201, "{call}");
    rest(
        &http,
        &sim,
        M::POST,
        api("/Calls.json"),
        &[
            ("To", AGENT),
            ("From", CALLER_ID),
            ("ApplicationSid", "APffffffffffffffffffffffffffffffff"),
        ],
    )
    .await;
    rest(&http, &sim, M::DELETE, app_url.clone(), &[]).await;
    let (code, _) = rest(&http, &sim, M::GET, app_url, &[]).await;
    assert_eq!(code, 404);

    let (code, key) = rest(
        &http,
        &sim,
        M::POST,
        api("/Keys.json"),
        &[("FriendlyName", "browser tokens")],
    )
    .await;
    assert_eq!(code, 201, "{key}");
    assert!(key["secret"].is_string());
    let key_url = api(&format!("/Keys/{}.json", key["sid"].as_str().unwrap()));
    rest(&http, &sim, M::GET, api("/Keys.json?PageSize=20"), &[]).await;
    rest(&http, &sim, M::GET, key_url.clone(), &[]).await;
    rest(
        &http,
        &sim,
        M::POST,
        key_url.clone(),
        &[("FriendlyName", "renamed")],
    )
    .await;
    rest(&http, &sim, M::DELETE, key_url.clone(), &[]).await;
    let (code, _) = rest(&http, &sim, M::GET, key_url, &[]).await;
    assert_eq!(code, 404);

    let exchanges = proxy.exchanges();
    let mut problems = check_all(&spec, &exchanges);
    let apps = format!("{}/Applications", coverage_api());
    let keys = format!("{}/Keys", coverage_api());
    for (verb, template) in [
        ("POST", format!("{apps}.json")),
        ("GET", format!("{apps}.json")),
        ("GET", format!("{apps}/{{Sid}}.json")),
        ("POST", format!("{apps}/{{Sid}}.json")),
        ("DELETE", format!("{apps}/{{Sid}}.json")),
        ("POST", format!("{}/Calls.json", coverage_api())),
        ("POST", format!("{keys}.json")),
        ("GET", format!("{keys}.json")),
        ("GET", format!("{keys}/{{Sid}}.json")),
        ("POST", format!("{keys}/{{Sid}}.json")),
        ("DELETE", format!("{keys}/{{Sid}}.json")),
    ] {
        problems.extend(never_succeeded(&spec, &exchanges, verb, &template));
    }
    sim.shutdown().await;
    assert!(
        problems.is_empty(),
        "{} problems in {} exchanges:\n{}",
        problems.len(),
        exchanges.len(),
        problems.join("\n")
    );
}

/// `Some` complaint unless an exchange the documents route to `verb template` succeeded.
fn never_succeeded(
    spec: &Spec,
    exchanges: &[Exchange],
    verb: &str,
    template: &str,
) -> Option<String> {
    let reached = exchanges.iter().any(|x| {
        (200..300).contains(&x.status)
            && spec
                .check_request(
                    &x.method,
                    &x.path,
                    &x.query,
                    x.header("content-type"),
                    &x.request_body,
                )
                .is_ok_and(|op| op.method == verb && op.template == template)
    });
    (!reached).then(|| format!("{verb} {template} never succeeded"))
}

/// What a set-up uses beyond `twilio::Client`, driven by hand: the account's number fetched and
/// pointed at a VoiceUrl, a Verify Service created and fetched, a Sync Service created, and a
/// filtered call list paged through its `next_page_uri`.
#[tokio::test]
async fn setup_resources_and_filtered_lists_conform_to_twilios_openapi_documents() {
    let spec = spec();
    let sim = Sim::start(SimConfig {
        time_scale: 0.01,
        incoming_numbers: vec![CALLER_ID.to_owned()],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let proxy = Proxy::start(sim.base_url()).await;
    let sink = start_sink().await;
    let voice = sink.join("voice").unwrap().to_string();
    let http = reqwest::Client::new();
    let api = |rest: &str| {
        proxy
            .base
            .join(&format!("2010-04-01/Accounts/{}{rest}", sim.account_sid()))
            .unwrap()
    };
    let at = |path: &str| proxy.base.join(path).unwrap();
    use reqwest::Method as M;

    let (_, page) = rest(
        &http,
        &sim,
        M::GET,
        api("/IncomingPhoneNumbers.json?PhoneNumber=%2B15005550006"),
        &[],
    )
    .await;
    let number_sid = page["incoming_phone_numbers"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let number_url = api(&format!("/IncomingPhoneNumbers/{number_sid}.json"));
    rest(&http, &sim, M::GET, number_url.clone(), &[]).await;
    let (code, number) = rest(
        &http,
        &sim,
        M::POST,
        number_url,
        &[
            ("VoiceUrl", &voice),
            ("VoiceMethod", "POST"),
            ("VoiceFallbackUrl", &voice),
            ("StatusCallback", &voice),
            ("FriendlyName", "callbridge"),
        ],
    )
    .await;
    assert_eq!(code, 200, "{number}");

    let (code, service) = rest(
        &http,
        &sim,
        M::POST,
        at("v2/Services"),
        &[("FriendlyName", "callbridge"), ("CodeLength", "6")],
    )
    .await;
    assert_eq!(code, 201, "{service}");
    let service_sid = service["sid"].as_str().unwrap().to_owned();
    rest(
        &http,
        &sim,
        M::GET,
        at(&format!("v2/Services/{service_sid}")),
        &[],
    )
    .await;
    let (code, sync) = rest(
        &http,
        &sim,
        M::POST,
        at("v1/Services"),
        &[("FriendlyName", "callbridge")],
    )
    .await;
    assert_eq!(code, 201, "{sync}");

    for _ in 0..3 {
        let (code, call) = rest(
            &http,
            &sim,
            M::POST,
            api("/Calls.json"),
            &[("To", AGENT), ("From", CALLER_ID), ("Twiml", "<Response/>")],
        )
        .await;
        assert_eq!(code, 201, "{call}");
    }
    rest(
        &http,
        &sim,
        M::POST,
        api("/Calls.json"),
        &[
            ("To", "+15005550002"),
            ("From", CALLER_ID),
            ("Twiml", "<Response/>"),
        ],
    )
    .await;
    // The documents type StartTime as a date-time (Twilio also takes a bare date).
    let tonight = chrono::Utc::now().format("%Y-%m-%dT23:59:59Z");
    let mut next = Some(format!(
        "/2010-04-01/Accounts/{}/Calls.json?To=%2B15550107001&StartTime%3C={tonight}&PageSize=1",
        sim.account_sid()
    ));
    let mut pages = 0;
    while let Some(uri) = next {
        let (code, page) = rest(&http, &sim, M::GET, at(uri.trim_start_matches('/')), &[]).await;
        assert_eq!(code, 200, "{page}");
        pages += 1;
        next = page["next_page_uri"].as_str().map(str::to_owned);
    }
    assert!(pages >= 1);

    let exchanges = proxy.exchanges();
    let mut problems = check_all(&spec, &exchanges);
    let numbers = format!("{}/IncomingPhoneNumbers/{{Sid}}.json", coverage_api());
    let calls = format!("{}/Calls.json", coverage_api());
    for (verb, template) in [
        ("GET", numbers.as_str()),
        ("POST", numbers.as_str()),
        ("POST", "/v2/Services"),
        ("GET", "/v2/Services/{Sid}"),
        ("POST", "/v1/Services"),
        ("GET", calls.as_str()),
    ] {
        problems.extend(never_succeeded(&spec, &exchanges, verb, template));
    }
    sim.shutdown().await;
    assert!(
        problems.is_empty(),
        "{} problems in {} exchanges:\n{}",
        problems.len(),
        exchanges.len(),
        problems.join("\n")
    );
}

fn coverage_api() -> &'static str {
    "/2010-04-01/Accounts/{AccountSid}"
}

/// Every violation of every exchange, one line each, naming the exchange.
fn check_all(spec: &Spec, exchanges: &[Exchange]) -> Vec<String> {
    let mut lines = Vec::new();
    for x in exchanges {
        let name = format!("{} {} -> {}", x.method, x.path, x.status);
        let content_type = x.header("content-type");
        if let Err(found) =
            spec.check_request(&x.method, &x.path, &x.query, content_type, &x.request_body)
        {
            lines.extend(found.iter().map(|v| format!("{name}: {v}")));
        }
        lines.extend(
            spec.check_response(&x.method, &x.path, x.status, &x.response_body)
                .iter()
                .map(|v| format!("{name}: {v}")),
        );
        if !x
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
        {
            lines.push(format!(
                "{name}: request without HTTP basic auth, which every document requires"
            ));
        }
        let bodiless = x.status == 204;
        let json_reply = x
            .response_content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json"));
        if !bodiless && !json_reply {
            lines.push(format!(
                "{name}: response content type {:?}, not application/json",
                x.response_content_type
            ));
        }
        if x.status >= 400 {
            lines.extend(
                error_semantics(x)
                    .into_iter()
                    .map(|why| format!("{name}: {why}")),
            );
        }
    }
    lines
}

/// What the error schema cannot say: the body's status is the HTTP status and its link names its code.
fn error_semantics(x: &Exchange) -> Vec<String> {
    let Ok(body) = serde_json::from_slice::<Value>(&x.response_body) else {
        return Vec::new();
    };
    let mut wrong = Vec::new();
    if body["status"] != json!(x.status) {
        wrong.push(format!(
            "error body says status {} on an HTTP {}",
            body["status"], x.status
        ));
    }
    if let (Some(code), Some(link)) = (body["code"].as_u64(), body["more_info"].as_str())
        && !link.ends_with(&format!("/{code}"))
    {
        wrong.push(format!("more_info {link} does not name code {code}"));
    }
    wrong
}

/// Every client method ran, and each reached its operation with a success at least once.
fn check_coverage(spec: &Spec, exchanges: &[Exchange], cov: &Coverage) -> Vec<String> {
    let expected = expected_operations();
    let methods = client_methods();
    let mut gaps = Vec::new();
    let listed: BTreeSet<&str> = expected.keys().copied().collect();
    let in_client: BTreeSet<&str> = methods.iter().map(String::as_str).collect();
    if listed != in_client {
        gaps.push(format!(
            "client methods {in_client:?} differ from the operations this test expects {listed:?}"
        ));
    }
    for method in &methods {
        let Some((verb, template)) = expected.get(method.as_str()) else {
            continue;
        };
        let reached = cov
            .calls
            .iter()
            .filter(|(name, _)| name == method)
            .flat_map(|(_, range)| exchanges[range.clone()].iter())
            .any(|x| {
                let routed = spec.check_request(
                    &x.method,
                    &x.path,
                    &x.query,
                    x.header("content-type"),
                    &x.request_body,
                );
                (200..300).contains(&x.status)
                    && routed.is_ok_and(|op| op.method == *verb && op.template == *template)
            });
        if !reached {
            gaps.push(format!(
                "{method} never reached {verb} {template} successfully"
            ));
        }
    }
    gaps
}
