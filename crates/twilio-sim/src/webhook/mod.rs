//! Webhooks: signed exactly as Twilio signs them, recorded for `GET /sim/webhooks`, sent with the
//! connection settings their URL's fragment asks for (retries included), optionally to a
//! load-balanced target, duplicated, reordered or delayed for chaos testing.

mod clients;
mod lanes;
mod overrides;

use std::time::Duration;

use rand::Rng as _;
use tokio::sync::oneshot;
use url::Url;

use crate::model::WebhookRecord;
use crate::state::{Shared, SimEvent};
pub(crate) use clients::Clients;
pub(crate) use lanes::Lanes;
use overrides::{Failure, Overrides};

/// A request the simulator makes to the application.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    /// twiml | status | conference-status | recording-status | action
    pub(crate) kind: &'static str,
    pub(crate) url: String,
    pub(crate) method: String,
    pub(crate) params: Vec<(String, String)>,
}

/// The application's answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// Something for a call's delivery queue to send.
#[derive(Debug)]
pub(crate) enum Job {
    /// A status callback: nobody waits for its answer.
    Notify(Outgoing),
    /// A TwiML or action request: the call waits for the answer.
    Fetch(Outgoing, oneshot::Sender<Result<Reply, String>>),
}

impl Job {
    fn outgoing(&self) -> &Outgoing {
        match self {
            Self::Notify(out) | Self::Fetch(out, _) => out,
        }
    }
}

/// Queues a status callback. Without jitter, each call's callbacks and TwiML requests are
/// delivered one at a time in the order they happened (see [`lanes`]), so an application sees
/// every call's story in order; with jitter each callback waits a random time first (and so they
/// reorder, as Twilio's may).
pub(crate) fn enqueue(shared: &Shared, out: Outgoing) {
    let jitter = shared.config.webhook_jitter_ms;
    if jitter == 0 {
        lanes::push(shared, Job::Notify(out));
        return;
    }
    let Some(shared) = shared.me.upgrade() else {
        return;
    };
    let delay = rand::rng().random_range(0..=jitter);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let _ = deliver(&shared, &out).await;
    });
}

/// Requests TwiML (a call's Url, a Gather or Dial action, a Redirect) and returns the answer.
/// Without jitter the request waits for its call's callbacks queued before it, so it never
/// overtakes them; with jitter it goes at once, and the callbacks it overtakes arrive after it.
pub(crate) async fn request(shared: &Shared, out: Outgoing) -> Result<Reply, String> {
    if shared.config.webhook_jitter_ms > 0 {
        return deliver(shared, &out).await;
    }
    let (tx, rx) = oneshot::channel();
    lanes::push(shared, Job::Fetch(out, tx));
    rx.await
        .unwrap_or_else(|_| Err("the simulator is shutting down".to_owned()))
}

/// Sends a webhook now, retrying as its URL's connection overrides say, and returns the
/// application's last answer. A 2xx is not required here: callers decide what a non-2xx means.
pub(crate) async fn deliver(shared: &Shared, out: &Outgoing) -> Result<Reply, String> {
    let token = crate::sid::new_sid("ID");
    let first = send_with_retries(shared, out, &token).await;
    if shared.config.webhook_duplicate_rate > 0.0
        && rand::rng().random_bool(shared.config.webhook_duplicate_rate.min(1.0))
    {
        let _ = send_with_retries(shared, out, &token).await;
    }
    first
}

/// Every attempt carries the same idempotency token, as Twilio's retries do; the total timeout
/// bounds them all together.
async fn send_with_retries(shared: &Shared, out: &Outgoing, token: &str) -> Result<Reply, String> {
    let overrides = Url::parse(&out.url)
        .ok()
        .map_or_else(Overrides::default, |u| Overrides::parse(u.fragment()));
    let deadline = tokio::time::Instant::now() + overrides.total();
    let mut attempt = 0;
    loop {
        let budget = deadline.saturating_duration_since(tokio::time::Instant::now());
        let (result, failure) = send_once(shared, out, token, &overrides, budget).await;
        let again = failure.is_some_and(|f| overrides.policy.retries(f))
            && attempt < overrides.retries
            && tokio::time::Instant::now() < deadline;
        if !again {
            return result;
        }
        attempt += 1;
    }
}

/// The URL to request, the form to send and the signature.
type Signed = (Url, Vec<(String, String)>, String);

/// The signed URL and form for a request: GET carries the parameters in the query and signs that URL.
fn signed_request(auth_token: &str, out: &Outgoing) -> Result<Signed, String> {
    let mut url =
        Url::parse(&out.url).map_err(|e| format!("invalid webhook URL {}: {e}", out.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("webhook URL {} is not http(s)", out.url));
    }
    url.set_fragment(None);
    if out.method == "GET" {
        url.query_pairs_mut().extend_pairs(out.params.iter());
        let sig = twilio::signature::sign(auth_token, url.as_str(), &[]);
        Ok((url, Vec::new(), sig))
    } else {
        let sig = twilio::signature::sign(auth_token, url.as_str(), &out.params);
        Ok((url, out.params.clone(), sig))
    }
}

fn load_balanced(shared: &Shared, url: &Url) -> Url {
    let targets = &shared.config.webhook_targets;
    if targets.is_empty() {
        return url.clone();
    }
    let target = &targets[rand::rng().random_range(0..targets.len())];
    let mut routed = url.clone();
    let _ = routed.set_scheme(target.scheme());
    let _ = routed.set_host(target.host_str());
    let _ = routed.set_port(target.port());
    routed
}

/// One attempt, and why it failed if it did (an answer that is not 2xx or 3xx is a failure the
/// retry policy may retry; the caller still gets it as an answer).
async fn send_once(
    shared: &Shared,
    out: &Outgoing,
    token: &str,
    overrides: &Overrides,
    budget: Duration,
) -> (Result<Reply, String>, Option<Failure>) {
    let (url, form, signature) = match signed_request(&shared.config.auth_token, out) {
        Ok(r) => r,
        Err(e) => {
            record(shared, out, &out.url, "", token, None, Some(e.clone()));
            return (Err(e), None);
        }
    };
    let target = load_balanced(shared, &url);
    let http = shared.clients.get(overrides);
    let request = if out.method == "GET" {
        http.get(target.clone())
    } else {
        http.post(target.clone()).form(&form)
    };
    let result = request
        .timeout(budget.min(overrides.connect() + overrides.read()))
        .header("X-Twilio-Signature", &signature)
        .header("I-Twilio-Idempotency-Token", token)
        .header("Accept", "text/xml, application/xml, text/html, */*")
        .send()
        .await;
    let answer = match result {
        Ok(resp) => {
            let status = resp.status().as_u16();
            resp.text().await.map(|body| Reply { status, body })
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok(reply) => {
            record(
                shared,
                out,
                target.as_str(),
                &signature,
                token,
                Some(reply.status),
                None,
            );
            let failure = (reply.status >= 400).then_some(Failure::Status(reply.status));
            (Ok(reply), failure)
        }
        Err(e) => {
            let failure = if e.is_connect() {
                Failure::Connect
            } else {
                Failure::Read
            };
            let msg = with_causes(&e);
            record(
                shared,
                out,
                target.as_str(),
                &signature,
                token,
                None,
                Some(msg.clone()),
            );
            (Err(msg), Some(failure))
        }
    }
}

/// An error with what caused it (reqwest's own message names only the URL).
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn record(
    shared: &Shared,
    out: &Outgoing,
    delivered_to: &str,
    signature: &str,
    token: &str,
    status: Option<u16>,
    error: Option<String>,
) {
    let time = shared.now_rfc3339();
    let params = out
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect::<serde_json::Map<_, _>>();
    match (&status, &error) {
        (Some(s), _) => {
            tracing::debug!(target: "twilio_sim::webhook", "{} {} {} -> {s}", out.kind, out.method, out.url)
        }
        (None, Some(e)) => {
            tracing::warn!(target: "twilio_sim::webhook", "{} {} {} failed: {e}", out.kind, out.method, out.url)
        }
        (None, None) => {}
    }
    // Recorded before it is announced, so that whoever waits for the event finds it listed.
    let limit = shared.config.webhook_log_limit;
    shared.model().remember_webhook(
        WebhookRecord {
            kind: out.kind,
            method: out.method.clone(),
            url: out.url.clone(),
            delivered_to: delivered_to.to_owned(),
            params,
            signature: signature.to_owned(),
            idempotency_token: token.to_owned(),
            status,
            error,
            time: time.clone(),
        },
        limit,
    );
    let _ = shared.events.send(SimEvent::Webhook {
        at: time,
        kind: out.kind.to_owned(),
        url: out.url.clone(),
        status,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_requests_sign_the_url_with_its_query() {
        let out = Outgoing {
            kind: "status",
            url: "https://app.example/status?x=1".into(),
            method: "GET".into(),
            params: vec![("CallSid".into(), "CA1".into())],
        };
        let (url, form, sig) = signed_request("tok", &out).unwrap();
        assert_eq!(url.as_str(), "https://app.example/status?x=1&CallSid=CA1");
        assert!(form.is_empty());
        assert_eq!(sig, twilio::signature::sign("tok", url.as_str(), &[]));
    }

    #[test]
    fn post_requests_sign_url_and_form() {
        let out = Outgoing {
            kind: "status",
            url: "https://app.example/status".into(),
            method: "POST".into(),
            params: vec![("B".into(), "2".into()), ("A".into(), "1".into())],
        };
        let (_, form, sig) = signed_request("tok", &out).unwrap();
        assert_eq!(form.len(), 2);
        assert_eq!(
            sig,
            twilio::signature::sign("tok", "https://app.example/status", &out.params)
        );
        let bad = Outgoing {
            url: "ftp://x".into(),
            ..out
        };
        assert!(signed_request("tok", &bad).is_err());
    }
}
