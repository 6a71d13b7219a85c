//! Connections that never finish a request are closed, and the service keeps answering.

use std::time::Duration;

use callbridge::store::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app_with;

/// More than the connection cap below, well under the machine's open-file limit.
const SLOW_CLIENTS: usize = 1500;
/// Every check here is bounded by this; the connections are closed long before it.
const DEADLINE: Duration = Duration::from_secs(30);

fn host_port(address: &str) -> String {
    address.trim_start_matches("http://").to_owned()
}

/// Waits until the server closes `stream` (end of file or reset), reading whatever it sends.
async fn closed_by_server(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn clients_that_never_finish_their_headers_are_closed_and_healthz_keeps_answering() {
    let _turn = crate::helpers::one_heavy_test_at_a_time().await;
    let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
        raw.header_read_timeout = Some("1s".into());
        raw.max_connections = Some("200".into());
    })
    .await;
    let target = host_port(&app.address);
    let mut slow = Vec::with_capacity(SLOW_CLIENTS);
    for _ in 0..SLOW_CLIENTS {
        let mut stream = TcpStream::connect(&target).await.unwrap();
        // The blank line that would end the headers never comes.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    let healthz = tokio::time::timeout(DEADLINE, app.get("/healthz"))
        .await
        .expect("/healthz answered while slow clients held connections");
    assert_eq!(healthz.status(), 200);
    tokio::time::timeout(
        DEADLINE,
        futures::future::join_all(slow.into_iter().map(closed_by_server)),
    )
    .await
    .expect("every slow connection was closed by the server");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
        raw.keep_alive_timeout = Some("200ms".into());
    })
    .await;
    let mut stream = TcpStream::connect(host_port(&app.address)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("{\"status\":\"ok\"}") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
    }
    // The connection stays open for another request, but not forever.
    tokio::time::timeout(DEADLINE, closed_by_server(stream))
        .await
        .expect("the idle connection was closed");
}
