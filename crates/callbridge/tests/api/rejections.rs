//! Every refusal, whoever writes it (router, body limit, extractor, store), is the error
//! envelope with the right status, and no database text reaches the client.

use std::time::Duration;

use callbridge::store::testing::TestStore;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::calls_log::agent_with_token;
use crate::helpers::{expect_error, spawn_app, spawn_app_with_store};

#[tokio::test]
async fn a_wrong_method_is_405_in_the_envelope() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert!(response.headers().contains_key("allow"));
    let (status, body) = expect_error(response).await;
    assert_eq!(status, 405);
    assert_eq!(body["code"], 405);
    assert_eq!(body["message"], "DELETE is not allowed on /healthz");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_the_envelope() {
    let app = spawn_app().await;
    let big = json!({"email": "x".repeat(300 * 1024)});
    let (status, body) = expect_error(app.post_json("/setup/email/init", &big).await).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], 413);
}

#[tokio::test]
async fn a_bad_query_parameter_is_400_in_the_envelope() {
    let app = spawn_app().await;
    let (_, token) = agent_with_token(&app, "ada@example.com", "+14155550111").await;
    let response = app
        .client
        .get(app.url("/calls?limit=many"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, body) = expect_error(response).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("limit"),
        "{body}"
    );
}

#[tokio::test]
async fn bodies_that_are_not_utf8_are_400() {
    let app = spawn_app().await;
    for (content_type, bytes) in [
        (
            "application/x-www-form-urlencoded",
            b"email=ada%FF@example.com".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"email=ada\xff@example.com".to_vec(),
        ),
        (
            "application/json",
            b"{\"email\": \"ada\xff@example.com\"}".to_vec(),
        ),
    ] {
        let response = app
            .client
            .post(app.url("/setup/email/init"))
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let (status, body) = expect_error(response).await;
        assert_eq!(status, 400, "{content_type}: {body}");
    }
    assert!(app.store.list_agents().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_in_the_envelope() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /setup/email/init HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["code"], 408);
}

/// A database that answers reads but refuses every write, as a read-only file does.
async fn read_only_store() -> (tempfile::TempDir, std::sync::Arc<dyn TestStore>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let url = format!("sqlite://{}", path.display());
    callbridge::store::testing::open(&url)
        .await
        .unwrap()
        .close()
        .await;
    let store = callbridge::store::testing::connect(&format!("{url}?immutable=true"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_database_that_cannot_be_written_is_503_and_not_ready_and_says_nothing_of_itself() {
    let (_dir, store) = read_only_store().await;
    let app = spawn_app_with_store(store).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let (status, body) = expect_error(app.get("/readyz").await).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = expect_error(
        app.post_json("/setup/email/init", &json!({"email": "ada@example.com"}))
            .await,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], 503);
    let text = body.to_string().to_lowercase();
    for word in [
        "sqlite",
        "readonly",
        "read-only",
        "attempt to write",
        "rate_limits",
        "sql",
    ] {
        assert!(!text.contains(word), "{word} in {body}");
    }
}
