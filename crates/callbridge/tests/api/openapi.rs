//! `GET /openapi.json` against the running service: every operation it lists is routed, and
//! real exchanges (onboarding, calls, the call log, Airtable, errors) match what it says, checked
//! request by request and answer by answer.

use std::collections::BTreeSet;
use std::time::Duration;

use airtable::fake::{FakeAirtable, FakeConfig};
use oas_check::Spec;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::airtable_call::with_airtable;
use crate::calls_flow::{AGENT_PHONE, CUSTOMER, customer_who_answers, keen_agent};
use crate::helpers::{TestApp, backends, spawn_browser_app_with};

const PATIENCE: Duration = Duration::from_secs(60);

async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

fn operations(document: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            found.push((method.to_uppercase(), path.clone()));
        }
    }
    found
}

/// What the router says to a request for a route it does not have.
fn unrouted(status: u16, body: &str) -> bool {
    status == 405 || (status == 404 && body.contains("no route for"))
}

#[tokio::test]
async fn every_operation_in_the_document_is_answered_by_the_router() {
    let db = backends().await.remove(0);
    let app = spawn_browser_app_with(db, |_| {}).await;
    let document = document(&app).await;
    let listed = operations(&document);
    assert!(listed.len() >= 30, "{listed:?}");
    for (method, template) in &listed {
        let path = template.replace("{id}", &Uuid::new_v4().to_string());
        let request = app.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(&path),
        );
        let request = if method == "GET" {
            request
        } else {
            request.json(&json!({}))
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(
            !unrouted(status, &body),
            "{method} {template} is documented but not routed: {status} {body}"
        );
    }
    // And the check itself can fail: a route nobody registered.
    let response = app.get("/calls/x/transcript").await;
    let status = response.status().as_u16();
    assert!(unrouted(status, &response.text().await.unwrap()));

    let page = app.get("/docs").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    for (method, template) in &listed {
        assert!(
            html.contains(&format!("{method}</span> <code>{template}</code>")),
            "{method} {template} is not on /docs"
        );
    }
    let style = app.get("/assets/docs.css").await;
    assert_eq!(style.status(), 200);
    assert!(
        style.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    app.stop().await;
}

/// A client that checks each request against the document before sending it, and each JSON
/// answer after, collecting every violation.
struct Contract<'a> {
    app: &'a TestApp,
    spec: Spec,
    violations: Vec<String>,
    answered: BTreeSet<String>,
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

impl<'a> Contract<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let document = document(app).await;
        let spec = Spec::from_documents(vec![("callbridge".into(), document)]).unwrap();
        Self {
            app,
            spec,
            violations: Vec::new(),
            answered: BTreeSet::new(),
        }
    }

    /// A request the document allows; its answer must be one the document lists.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
    ) -> (u16, Value) {
        self.exchange(method, path, token, body, true).await
    }

    /// A request the document refuses on purpose (a missing field, a bad limit): only the
    /// answer is checked.
    async fn send_bad(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
    ) -> (u16, Value) {
        self.exchange(method, path, token, body, false).await
    }

    async fn exchange(
        &mut self,
        method: &str,
        path_and_query: &str,
        token: Option<&str>,
        body: Body,
        check_request: bool,
    ) -> (u16, Value) {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, query),
            None => (path_and_query, ""),
        };
        let query_pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let (content_type, bytes) = match &body {
            Body::None => (None, Vec::new()),
            Body::Json(value) => (Some("application/json"), serde_json::to_vec(value).unwrap()),
            Body::Form(pairs) => (
                Some("application/x-www-form-urlencoded"),
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish()
                    .into_bytes(),
            ),
        };
        if check_request
            && let Err(found) =
                self.spec
                    .check_request(method, path, &query_pairs, content_type, &bytes)
        {
            for v in found {
                self.violations
                    .push(format!("request {method} {path_and_query}: {v}"));
            }
        }
        let mut request = self.app.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            self.app.url(path_and_query),
        );
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let answer = response.bytes().await.unwrap();
        for v in self.spec.check_response(method, path, status, &answer) {
            self.violations
                .push(format!("answer {status} to {method} {path_and_query}: {v}"));
        }
        match self.spec.route(method, path) {
            Ok(operation) => {
                self.answered.insert(format!(
                    "{} {} {status}",
                    operation.method, operation.template
                ));
            }
            Err(v) => self.violations.push(format!("{method} {path}: {v}")),
        }
        (
            status,
            serde_json::from_slice(&answer).unwrap_or(Value::Null),
        )
    }

    async fn code(&self, to: &str) -> String {
        self.app.sim_otp(to).await
    }

    /// Reads the call until it is over, through the contract like any other request.
    async fn until_settled(&mut self, token: &str, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (status, body) = self
                .send("GET", &format!("/calls/{id}"), Some(token), Body::None)
                .await;
            assert_eq!(status, 200);
            if matches!(body["data"]["state"].as_str(), Some("completed" | "failed")) {
                return body["data"].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "call {id} never settled: {body:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn assert_clean(&self) {
        assert!(
            self.violations.is_empty(),
            "{} exchanges differ from /openapi.json:\n{}",
            self.violations.len(),
            self.violations.join("\n")
        );
    }
}

#[tokio::test]
async fn real_exchanges_match_the_document_on_both_backends() {
    for db in backends().await {
        let fake = FakeAirtable::start(FakeConfig::default()).await;
        let app = spawn_browser_app_with(db, |raw| {
            with_airtable(raw, &fake);
            raw.allowed_email_domains = Some("example.com".into());
        })
        .await;
        let mut c = Contract::new(&app).await;
        let email = "ada@example.com";

        // Onboarding, its refusals included.
        let (status, _) = c
            .send_bad("POST", "/setup/email/init", None, Body::Json(json!({})))
            .await;
        assert_eq!(status, 400);
        let (status, _) = c
            .send(
                "POST",
                "/setup/email/init",
                None,
                Body::Json(json!({"email": "eve@elsewhere.test"})),
            )
            .await;
        assert_eq!(status, 422);
        let (status, _) = c
            .send(
                "POST",
                "/setup/email/init",
                None,
                Body::Json(json!({"email": email})),
            )
            .await;
        assert_eq!(status, 200);
        let (status, _) = c
            .send(
                "POST",
                "/setup/email/validate",
                None,
                Body::Json(json!({"email": email, "code": "000000"})),
            )
            .await;
        assert_eq!(status, 401);
        let code = c.code(email).await;
        let (status, body) = c
            .send(
                "POST",
                "/setup/email/validate",
                None,
                Body::Json(json!({"email": email, "code": code})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let setup_token = body["data"]["token"].as_str().unwrap().to_owned();
        let (status, _) = c
            .send(
                "POST",
                "/setup/phone/init",
                None,
                Body::Form(vec![
                    ("token", setup_token.clone()),
                    ("phone", AGENT_PHONE.into()),
                ]),
            )
            .await;
        assert_eq!(status, 200);
        let code = c.code(AGENT_PHONE).await;
        let (status, body) = c
            .send(
                "POST",
                "/setup/phone/validate",
                None,
                Body::Form(vec![
                    ("token", setup_token),
                    ("phone", AGENT_PHONE.into()),
                    ("code", code),
                ]),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let token = body["data"]["token"].as_str().unwrap().to_owned();

        // The one-step form, for a second agent.
        let (other_email, other_phone) = ("bob@example.com", "+14155550177");
        let (status, _) = c
            .send(
                "POST",
                "/setup/init",
                None,
                Body::Json(json!({"email": other_email, "phone": other_phone})),
            )
            .await;
        assert_eq!(status, 200);
        let (email_code, phone_code) = (c.code(other_email).await, c.code(other_phone).await);
        let (status, _) = c
            .send(
                "POST",
                "/setup/validate",
                None,
                Body::Json(json!({"email": other_email, "email_code": email_code,
                    "phone": other_phone, "phone_code": phone_code})),
            )
            .await;
        assert_eq!(status, 200);

        // The agent's own view and preferences.
        let (status, _) = c.send("GET", "/setup/me", None, Body::None).await;
        assert_eq!(status, 401);
        let (status, me) = c.send("GET", "/setup/me", Some(&token), Body::None).await;
        assert_eq!((status, me["data"]["email"].as_str()), (200, Some(email)));
        let (status, _) = c
            .send(
                "PATCH",
                "/setup/me",
                Some(&token),
                Body::Json(json!({"defaultMode": "browser"})),
            )
            .await;
        assert_eq!(status, 200);
        let (status, _) = c
            .send_bad(
                "PATCH",
                "/setup/me",
                Some(&token),
                Body::Json(json!({"defaultMode": "fax"})),
            )
            .await;
        assert_eq!(status, 400);
        let (status, _) = c
            .send("GET", "/browser/token", Some(&token), Body::None)
            .await;
        assert_eq!(status, 200);

        // A call, start to end, and the log.
        app.sim.set_number(AGENT_PHONE, keen_agent());
        app.sim.set_number(CUSTOMER, customer_who_answers());
        let (status, _) = c
            .send(
                "POST",
                "/phone-to-phone/start",
                Some(&token),
                Body::Json(json!({"RecipientNumber": "+442071838750"})),
            )
            .await;
        assert_eq!(status, 422, "abroad is refused by default");
        let (status, started) = c
            .send(
                "POST",
                "/call/start",
                Some(&token),
                Body::Form(vec![("to", CUSTOMER.into()), ("record", "true".into())]),
            )
            .await;
        assert!(matches!(status, 200 | 202), "{status} {started}");
        let id = started["data"]["id"].as_str().unwrap().to_owned();
        let (status, _) = c
            .send("GET", &format!("/calls/{id}"), Some(&token), Body::None)
            .await;
        assert_eq!(status, 200);
        let (status, _) = c
            .send(
                "GET",
                &format!("/calls/{}", Uuid::now_v7()),
                Some(&token),
                Body::None,
            )
            .await;
        assert_eq!(status, 404);
        let (status, _) = c
            .send(
                "POST",
                &format!("/calls/{id}/hangup"),
                Some(&token),
                Body::None,
            )
            .await;
        assert_eq!(status, 202);
        c.until_settled(&token, &id).await;
        let (status, _) = c
            .send(
                "POST",
                &format!("/calls/{id}/hangup"),
                Some(&token),
                Body::None,
            )
            .await;
        assert_eq!(status, 409);
        let (status, page) = c
            .send(
                "GET",
                "/calls?limit=5&state=completed,failed",
                Some(&token),
                Body::None,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(page["data"]["calls"][0]["id"], id.as_str());
        let (status, _) = c
            .send_bad("GET", "/calls?limit=0", Some(&token), Body::None)
            .await;
        assert_eq!(status, 400);

        // Airtable: one record, and a campaign over a view.
        let record = fake.insert_record(json!({"Phone": CUSTOMER}));
        let broken = fake.insert_record(json!({"Phone": "nope"}));
        fake.set_view("To call", [record.clone()]);
        let (status, _) = c
            .send(
                "POST",
                "/airtable/call",
                Some(&token),
                Body::Json(json!({"recordId": broken})),
            )
            .await;
        assert_eq!(status, 422);
        let (status, started) = c
            .send(
                "POST",
                "/airtable/call",
                Some(&token),
                Body::Json(json!({"recordId": record})),
            )
            .await;
        assert!(matches!(status, 200 | 202), "{status} {started}");
        let record_call = started["data"]["id"].as_str().unwrap().to_owned();
        let (status, _) = c
            .send(
                "POST",
                "/airtable/call",
                Some(&token),
                Body::Json(json!({"recordId": record})),
            )
            .await;
        assert_eq!(status, 409, "the record's call is not over");
        c.send(
            "POST",
            &format!("/calls/{record_call}/hangup"),
            Some(&token),
            Body::None,
        )
        .await;
        c.until_settled(&token, &record_call).await;
        let (status, campaign) = c
            .send(
                "POST",
                "/airtable/campaigns",
                Some(&token),
                Body::Json(json!({"view": "To call", "agent": email})),
            )
            .await;
        assert_eq!(status, 200, "{campaign}");
        let campaign_id = campaign["data"]["id"].as_str().unwrap().to_owned();
        let (status, _) = c
            .send(
                "GET",
                &format!("/airtable/campaigns/{campaign_id}"),
                Some(&token),
                Body::None,
            )
            .await;
        assert_eq!(status, 200);
        // Whether the one call is still on decides between 200 and 409: both are listed.
        for action in ["pause", "resume", "cancel"] {
            let (status, _) = c
                .send(
                    "POST",
                    &format!("/airtable/campaigns/{campaign_id}/{action}"),
                    Some(&token),
                    Body::None,
                )
                .await;
            assert!(matches!(status, 200 | 409), "{action}: {status}");
        }

        // Twilio's side refuses what Twilio did not sign; operations answer in their shape.
        let (status, _) = c
            .send_bad(
                "POST",
                "/phone-to-phone/status",
                None,
                Body::Form(vec![("CallSid", "CA1".into())]),
            )
            .await;
        assert_eq!(status, 403);
        for path in ["/healthz", "/readyz"] {
            let (status, _) = c.send("GET", path, None, Body::None).await;
            assert_eq!(status, 200);
        }

        c.assert_clean();
        for expected in [
            "POST /setup/email/init 200",
            "POST /setup/phone/validate 200",
            "POST /setup/validate 200",
            "PATCH /setup/me 200",
            "POST /call/start 200",
            "POST /phone-to-phone/start 422",
            "GET /calls 200",
            "GET /calls/{id} 200",
            "POST /calls/{id}/hangup 409",
            "POST /airtable/campaigns 200",
            "GET /airtable/campaigns/{id} 200",
            "GET /browser/token 200",
        ] {
            let answered = c.answered.iter().any(|a| {
                a == expected || (expected == "POST /call/start 200" && a == "POST /call/start 202")
            });
            assert!(answered, "{expected} was not exercised: {:?}", c.answered);
        }
        app.stop().await;
    }
}
