//! The client over real HTTP against a stub server: what goes on the wire, what comes back,
//! and when requests are repeated.

use std::time::Duration;

use twilio::{
    CallEvent, CallInstructions, CheckVerification, Client, ClientConfig, CreateCall,
    CreateDocument, Credentials, Error, ErrorCode, ListConferences, RetryPolicy, SecretString,
    UpdateParticipant,
};
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

const ACCOUNT: &str = "AC00000000000000000000000000000000";
const TOKEN: &str = "auth-token-value";

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn client(server: &MockServer, credentials: Credentials) -> Client {
    let mut config = ClientConfig::new(ACCOUNT, credentials);
    config.base_url = Some(server.uri().parse().unwrap());
    config.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
    };
    Client::new(config).unwrap()
}

fn token_client(server: &MockServer) -> Client {
    client(server, Credentials::AuthToken(SecretString::from(TOKEN)))
}

fn call_json() -> serde_json::Value {
    serde_json::from_str(include_str!("../fixtures/call.json")).unwrap()
}

fn form_pairs(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

#[tokio::test]
async fn create_call_posts_a_form_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json")))
        .and(header("authorization", basic(ACCOUNT, TOKEN).as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(call_json()))
        .expect(1)
        .mount(&server)
        .await;

    let mut params = CreateCall::new(
        "+15551230001",
        "+15551230000",
        CallInstructions::Twiml("<Response/>".to_owned()),
    );
    params.status_callback_event = vec![CallEvent::Initiated, CallEvent::Completed];
    let call = token_client(&server).create_call(&params).await.unwrap();
    assert_eq!(call.sid, "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

    let requests = server.received_requests().await.unwrap();
    let pairs = form_pairs(&requests[0]);
    let events: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "StatusCallbackEvent")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(events, ["initiated", "completed"]);
    assert!(pairs.contains(&("Twiml".to_owned(), "<Response/>".to_owned())));
}

#[tokio::test]
async fn api_keys_authenticate_with_the_key_but_keep_the_account_in_the_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/Calls/CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"
        )))
        .and(header("authorization", basic("SK1", "key-secret").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(call_json()))
        .expect(1)
        .mount(&server)
        .await;
    let key = Credentials::ApiKey {
        sid: "SK1".to_owned(),
        secret: SecretString::from("key-secret"),
    };
    let call = client(&server, key)
        .fetch_call("CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .unwrap();
    assert_eq!(call.to.as_deref(), Some("+14158675309"));
}

#[tokio::test]
async fn twilio_errors_keep_their_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21211,
            "message": "The 'To' number 123 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400
        })))
        .mount(&server)
        .await;
    let params = CreateCall::new(
        "123",
        "+15551230000",
        CallInstructions::Url("https://x".into()),
    );
    let err = token_client(&server)
        .create_call(&params)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(21211));
    assert_eq!(err.known_code(), Some(ErrorCode::InvalidToNumber));
    assert!(matches!(err, Error::Api { status: 400, .. }));
}

#[tokio::test]
async fn a_get_is_retried_on_503_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(call_json()))
        .mount(&server)
        .await;
    let call = token_client(&server).fetch_call("CA1").await.unwrap();
    assert_eq!(call.sid, "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_get_gives_up_after_the_retry_budget() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(serde_json::json!({"code": 20429, "message": "Too Many Requests", "status": 429})),
        )
        .mount(&server)
        .await;
    let err = token_client(&server)
        .list_conferences(&ListConferences::default())
        .await
        .unwrap_err();
    assert_eq!(err.known_code(), Some(ErrorCode::TooManyRequests));
    // One attempt and two retries.
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_create_is_never_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let params = CreateCall::new("+1555", "+1556", CallInstructions::Url("https://x".into()));
    let err = token_client(&server)
        .create_call(&params)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn list_sends_filters_as_query_parameters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/Conferences.json"
        )))
        .and(query_param("FriendlyName", "cb-1 & co"))
        .and(query_param("Status", "in-progress"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::from_str::<serde_json::Value>(include_str!(
                    "../fixtures/conferences_page.json"
                ))
                .unwrap(),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = token_client(&server)
        .list_conferences(&ListConferences {
            friendly_name: Some("cb-1 & co".to_owned()),
            status: Some(twilio::ConferenceStatus::InProgress),
            page_size: None,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
}

#[tokio::test]
async fn participants_are_addressed_by_conference_and_call() {
    let server = MockServer::start().await;
    let participant: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/participant.json")).unwrap();
    let url = format!("/2010-04-01/Accounts/{ACCOUNT}/Conferences/CF1/Participants/CA2.json");
    Mock::given(method("POST"))
        .and(path(url.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(participant))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(url.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let c = token_client(&server);
    let update = UpdateParticipant {
        muted: Some(true),
        ..UpdateParticipant::default()
    };
    c.update_participant("CF1", "CA2", &update).await.unwrap();
    c.delete_participant("CF1", "CA2").await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        form_pairs(&requests[0]),
        [("Muted".to_owned(), "true".to_owned())]
    );
}

#[tokio::test]
async fn verify_and_sync_go_to_their_paths() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/Services/VA1/VerificationCheck"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::from_str::<serde_json::Value>(include_str!(
                    "../fixtures/verification_check.json"
                ))
                .unwrap(),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/Services/IS1/Documents"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(
                serde_json::from_str::<serde_json::Value>(include_str!(
                    "../fixtures/document.json"
                ))
                .unwrap(),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/Services/IS1/Documents/verified_email_x"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({
            "code": 20404, "message": "The requested resource was not found", "status": 404
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = token_client(&server);
    let check = c
        .check_verification(
            "VA1",
            &CheckVerification {
                to: "+15017122661".to_owned(),
                code: "123456".to_owned(),
            },
        )
        .await
        .unwrap();
    assert!(check.is_approved());
    c.create_document(
        "IS1",
        &CreateDocument {
            unique_name: Some("verified_email_x".to_owned()),
            data: Some(serde_json::json!({"email": "x"})),
            ttl: None,
        },
    )
    .await
    .unwrap();
    let err = c
        .fetch_document("IS1", "verified_email_x")
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn a_success_with_an_unreadable_body_is_a_decode_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
        .mount(&server)
        .await;
    let err = token_client(&server).fetch_call("CA1").await.unwrap_err();
    assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
}

#[tokio::test]
async fn next_page_follows_twilios_link_and_stops_at_the_end() {
    let server = MockServer::start().await;
    let calls_path = format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json");
    Mock::given(method("GET"))
        .and(path(calls_path.as_str()))
        .and(query_param("PageToken", "PA1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "calls": [call_json()], "page": 1, "page_size": 1, "next_page_uri": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(calls_path.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "calls": [call_json()], "page": 0, "page_size": 1,
            "next_page_uri": format!("{calls_path}?PageSize=1&Page=1&PageToken=PA1")
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = token_client(&server);
    let first = c
        .list_calls(&twilio::ListCalls {
            page_size: Some(1),
            ..twilio::ListCalls::default()
        })
        .await
        .unwrap();
    let second = c.next_page(&first).await.unwrap().unwrap();
    assert_eq!(second.page, Some(1));
    assert_eq!(second.items.len(), 1);
    assert!(c.next_page(&second).await.unwrap().is_none());
}
