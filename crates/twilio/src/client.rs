//! The REST client: configuration, credentials, URLs per product, sending with retries.

use std::{fmt, sync::Arc, time::Duration};

use reqwest::{Method, header};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::{
    Error,
    form::Form,
    retry::{RetryPolicy, parse_retry_after},
};

/// How the client authenticates (HTTP basic auth either way).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Account SID and auth token.
    AuthToken(SecretString),
    /// An API key (`SK…`) and its secret; the account SID still names the account in paths.
    ApiKey {
        /// The key's SID.
        sid: String,
        /// The key's secret.
        secret: SecretString,
    },
}

/// Everything the client needs to know.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The account (`AC…`) whose resources are used.
    pub account_sid: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// One base URL for every product (the simulator); `None` uses Twilio's own hosts.
    pub base_url: Option<Url>,
    /// Limit for one HTTP exchange.
    pub timeout: Duration,
    /// Retrying of requests that are safe to repeat.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// Twilio's hosts, a 30 s timeout and the default retry policy.
    pub fn new(account_sid: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            account_sid: account_sid.into(),
            credentials,
            base_url: None,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The Twilio products we use, each on its own host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Product {
    /// `api.twilio.com`, `/2010-04-01/…`.
    Api,
    /// `verify.twilio.com`, `/v2/…`.
    Verify,
    /// `sync.twilio.com`, `/v1/…`.
    Sync,
}

impl Product {
    fn host(self) -> &'static str {
        match self {
            Self::Api => "https://api.twilio.com",
            Self::Verify => "https://verify.twilio.com",
            Self::Sync => "https://sync.twilio.com",
        }
    }
}

/// A typed async client for the Twilio REST resources callbridge uses. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A response's status and body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Client {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        if let Some(base) = &config.base_url
            && base.cannot_be_a_base()
        {
            return Err(Error::Config(format!("base URL {base} cannot take paths")));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("callbridge-twilio/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Transport)?;
        Ok(Self {
            http,
            config: Arc::new(config),
        })
    }

    /// The account whose resources this client uses.
    pub fn account_sid(&self) -> &str {
        &self.config.account_sid
    }

    /// The URL of `segments` (each percent-encoded as one path segment) under `product`.
    pub(crate) fn url(&self, product: Product, segments: &[&str]) -> Url {
        let mut url = match &self.config.base_url {
            Some(base) => base.clone(),
            None => Url::parse(product.host()).expect("Twilio's hosts are valid URLs"),
        };
        url.path_segments_mut()
            .expect("checked in Client::new that the base can take paths")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// `/2010-04-01/Accounts/{AccountSid}/` followed by `segments`.
    pub(crate) fn api_url(&self, segments: &[&str]) -> Url {
        let mut all = vec!["2010-04-01", "Accounts", self.account_sid()];
        all.extend_from_slice(segments);
        self.url(Product::Api, &all)
    }

    /// A URI Twilio returned (such as `next_page_uri`), resolved against `product`'s base.
    pub(crate) fn resolve(&self, product: Product, uri: &str) -> Result<Url, Error> {
        let base = self.url(product, &[]);
        // A URI starting with "/" would drop a base path prefix, so join it without the slash.
        let mut base_dir = base.clone();
        if !base_dir.path().ends_with('/') {
            base_dir.set_path(&format!("{}/", base_dir.path()));
        }
        base_dir
            .join(uri.trim_start_matches('/'))
            .map_err(|e| Error::Config(format!("cannot resolve {uri} against {base}: {e}")))
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &Form,
    ) -> Result<T, Error> {
        let mut url = url;
        if !query.fields().is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.fields().iter().map(|(k, v)| (*k, v.as_str())));
        }
        decode(&self.send(Method::GET, url, None).await?)
    }

    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        url: Url,
        form: &Form,
    ) -> Result<T, Error> {
        decode(&self.send(Method::POST, url, Some(form)).await?)
    }

    /// A GET whose body is not JSON (a recording's audio), handed over unread so that it can be
    /// streamed on; a non-success status becomes [`Error::Api`].
    pub(crate) async fn get_raw(&self, url: Url) -> Result<reqwest::Response, Error> {
        let response = self
            .request(Method::GET, url, None)
            .header(header::ACCEPT, "*/*")
            .send()
            .await
            .map_err(Error::Transport)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let body = response.bytes().await.map_err(Error::Transport)?;
        Err(Error::from_response(status, &body))
    }

    pub(crate) async fn delete(&self, url: Url) -> Result<(), Error> {
        self.send(Method::DELETE, url, None).await.map(drop)
    }

    /// Sends, retrying where safe; a non-success status becomes [`Error::Api`].
    async fn send(&self, method: Method, url: Url, form: Option<&Form>) -> Result<Reply, Error> {
        let retry = self.config.retry;
        let mut attempt = 0;
        loop {
            let response = self
                .request(method.clone(), url.clone(), form)
                .send()
                .await
                .map_err(Error::Transport)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
            let body = response.bytes().await.map_err(Error::Transport)?.to_vec();
            if (200..300).contains(&status) {
                return Ok(Reply { status, body });
            }
            if !retry.should_retry(&method, status, attempt) {
                return Err(Error::from_response(status, &body));
            }
            let wait = retry.delay(attempt, retry_after);
            tracing::debug!(%method, path = url.path(), status, attempt, ?wait, "retrying Twilio request");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn request(&self, method: Method, url: Url, form: Option<&Form>) -> reqwest::RequestBuilder {
        let (user, password) = match &self.config.credentials {
            Credentials::AuthToken(token) => (self.config.account_sid.as_str(), token),
            Credentials::ApiKey { sid, secret } => (sid.as_str(), secret),
        };
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(user, Some(password.expose_secret()))
            .header(header::ACCEPT, "application/json");
        if let Some(form) = form {
            request = request
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.encode());
        }
        request
    }
}

fn decode<T: DeserializeOwned>(reply: &Reply) -> Result<T, Error> {
    serde_json::from_slice(&reply.body).map_err(|source| Error::Decode {
        status: reply.status,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: Option<&str>) -> Client {
        let mut config = ClientConfig::new(
            "AC123",
            Credentials::AuthToken(SecretString::from("token-secret-value")),
        );
        config.base_url = base.map(|b| Url::parse(b).unwrap());
        Client::new(config).unwrap()
    }

    #[test]
    fn each_product_has_its_host() {
        let c = client(None);
        assert_eq!(
            c.api_url(&["Calls.json"]).as_str(),
            "https://api.twilio.com/2010-04-01/Accounts/AC123/Calls.json"
        );
        assert_eq!(
            c.url(Product::Verify, &["v2", "Services", "VA1", "Verifications"])
                .as_str(),
            "https://verify.twilio.com/v2/Services/VA1/Verifications"
        );
        assert_eq!(
            c.url(Product::Sync, &["v1", "Services", "IS1", "Documents"])
                .as_str(),
            "https://sync.twilio.com/v1/Services/IS1/Documents"
        );
    }

    #[test]
    fn a_base_url_takes_every_product_and_keeps_its_prefix() {
        let c = client(Some("http://127.0.0.1:4010/twilio/"));
        assert_eq!(
            c.api_url(&["Calls.json"]).as_str(),
            "http://127.0.0.1:4010/twilio/2010-04-01/Accounts/AC123/Calls.json"
        );
        assert_eq!(
            c.url(Product::Verify, &["v2", "Services"]).as_str(),
            "http://127.0.0.1:4010/twilio/v2/Services"
        );
        assert_eq!(
            c.resolve(Product::Api, "/2010-04-01/Accounts/AC123/Calls.json?Page=1")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4010/twilio/2010-04-01/Accounts/AC123/Calls.json?Page=1"
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        let c = client(Some("http://localhost:1"));
        assert_eq!(
            c.api_url(&["Conferences", "a b/c?", "Participants.json"])
                .as_str(),
            "http://localhost:1/2010-04-01/Accounts/AC123/Conferences/a%20b%2Fc%3F/Participants.json"
        );
    }

    #[test]
    fn a_base_that_cannot_take_paths_is_refused() {
        let mut config = ClientConfig::new("AC1", Credentials::AuthToken(SecretString::from("t")));
        config.base_url = Some(Url::parse("mailto:x@example.com").unwrap());
        assert!(matches!(Client::new(config), Err(Error::Config(_))));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let c = client(None);
        assert!(!format!("{c:?}").contains("token-secret-value"));
        let key = Credentials::ApiKey {
            sid: "SK1".to_owned(),
            secret: SecretString::from("key-secret-value"),
        };
        let text = format!("{:?}", ClientConfig::new("AC1", key));
        assert!(text.contains("SK1"));
        assert!(!text.contains("key-secret-value"));
    }
}
