//! A recording proxy between the client and the simulator, and a sink for the simulator's webhooks.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use url::Url;

/// One request as the client sent it and the answer as the simulator gave it.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub request_body: Vec<u8>,
    pub status: u16,
    pub response_content_type: Option<String>,
    pub response_body: Vec<u8>,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Upstream {
    base: Url,
    http: reqwest::Client,
    log: Arc<Mutex<Vec<Exchange>>>,
}

/// Forwards everything to `upstream` and keeps a copy of every exchange, in order.
pub struct Proxy {
    pub base: Url,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl Proxy {
    pub async fn start(upstream: Url) -> Proxy {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Upstream {
            base: upstream,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            log: Arc::clone(&log),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let app = axum::Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Proxy { base, log }
    }

    /// How many exchanges have completed so far.
    pub fn len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }
}

async fn forward(
    State(upstream): State<Arc<Upstream>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut target = upstream.base.clone();
    target.set_path(uri.path());
    target.set_query(uri.query());
    let mut request = upstream.http.request(method.clone(), target);
    for (name, value) in &headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let answer = match request.body(body.clone()).send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let response_body = answer.bytes().await.unwrap_or_default();
    upstream.log.lock().unwrap().push(Exchange {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("<binary>").to_owned()))
            .collect(),
        request_body: body.to_vec(),
        status: status.as_u16(),
        response_content_type: content_type
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        response_body: response_body.to_vec(),
    });
    let mut response = (status, response_body).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}

/// Answers every webhook with TwiML that keeps a call waiting, so URL-driven calls stay up.
pub async fn start_sink() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let app = axum::Router::new().fallback(|| async {
        (
            [(header::CONTENT_TYPE, "text/xml")],
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="600"/></Response>"#,
        )
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}
