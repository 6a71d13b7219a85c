//! The REST client: configuration, URLs, and sending through the rate gate.

use std::{fmt, sync::Arc, time::Duration};

use rand::Rng as _;
use reqwest::{Method, header};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::{
    Error,
    pace::RateGate,
    records::{
        ListParams, MAX_PAGE_SIZE, MAX_RECORDS_PER_UPDATE, Page, Record, RecordUpdate, UpdateBody,
        UpdatedRecords,
    },
};

/// Airtable's API root.
pub const DEFAULT_BASE_URL: &str = "https://api.airtable.com";

/// Everything the client needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API root; [`DEFAULT_BASE_URL`] unless a fake stands in.
    pub base_url: Url,
    /// A personal access token, sent as a Bearer token.
    pub token: SecretString,
    /// `app…`.
    pub base_id: String,
    /// The table's name or id.
    pub table: String,
    /// Limit for one HTTP exchange.
    pub timeout: Duration,
    /// Attempts for a read (get, list page) whose error is retryable; 1 disables retrying.
    /// Updates are tried once: their caller owns retrying so it can keep writes in order.
    pub read_attempts: u32,
    /// Upper bound of the first wait before retrying a read after a server or transport error;
    /// it doubles with each attempt. After a 429 the gate's pause is the wait instead.
    pub retry_backoff: Duration,
    /// Paces every request; share one gate between all clients of a base.
    pub gate: RateGate,
}

impl Config {
    /// Airtable's own API root, a 30 s timeout, 3 read attempts, and Airtable's pacing.
    pub fn new(token: SecretString, base_id: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("the default base URL is valid"),
            token,
            base_id: base_id.into(),
            table: table.into(),
            timeout: Duration::from_secs(30),
            read_attempts: 3,
            retry_backoff: Duration::from_millis(500),
            gate: RateGate::default(),
        }
    }
}

/// A typed async client for one Airtable table. Cheap to clone; clones share the gate.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<Config>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `config`.
    pub fn new(config: Config) -> Result<Self, Error> {
        if config.base_url.cannot_be_a_base() {
            return Err(Error::Config(format!(
                "base URL {} cannot take paths",
                config.base_url
            )));
        }
        for (name, value) in [("base id", &config.base_id), ("table", &config.table)] {
            if value.trim().is_empty() {
                return Err(Error::Config(format!("the {name} is empty")));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("callbridge-airtable/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Transport)?;
        Ok(Self {
            http,
            config: Arc::new(config),
        })
    }

    /// The gate this client's requests pass through.
    pub fn gate(&self) -> &RateGate {
        &self.config.gate
    }

    /// `GET /v0/{base}/{table}/{record}`.
    pub async fn get_record(&self, record_id: &str) -> Result<Record, Error> {
        let url = self.table_url(&[record_id]);
        self.read(|| self.send(Method::GET, url.clone(), None))
            .await
    }

    /// `GET /v0/{base}/{table}`: one page.
    pub async fn list_records(&self, params: &ListParams) -> Result<Page, Error> {
        let mut url = self.table_url(&[]);
        let pairs = params.query_pairs();
        if !pairs.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        }
        self.read(|| self.send(Method::GET, url.clone(), None))
            .await
    }

    /// Every record of `view` (the whole table when `None`), in the view's order, following
    /// `offset` from page to page with the largest pages Airtable serves.
    pub async fn list_all(
        &self,
        view: Option<&str>,
        fields: &[String],
    ) -> Result<Vec<Record>, Error> {
        let mut params = ListParams {
            view: view.map(str::to_owned),
            page_size: Some(MAX_PAGE_SIZE),
            offset: None,
            fields: fields.to_vec(),
        };
        let mut records = Vec::new();
        loop {
            let page = self.list_records(&params).await?;
            records.extend(page.records);
            match page.offset {
                Some(offset) => params.offset = Some(offset),
                None => return Ok(records),
            }
        }
    }

    /// `PATCH /v0/{base}/{table}`: changes only the named fields of up to
    /// [`MAX_RECORDS_PER_UPDATE`] records, atomically; `typecast` lets Airtable convert values
    /// (e.g. create a missing select option). Tried once, see [`Config::read_attempts`].
    pub async fn update_records(
        &self,
        updates: &[RecordUpdate],
        typecast: bool,
    ) -> Result<Vec<Record>, Error> {
        if updates.len() > MAX_RECORDS_PER_UPDATE {
            return Err(Error::TooManyRecords {
                count: updates.len(),
            });
        }
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let body = serde_json::to_vec(&UpdateBody {
            records: updates,
            typecast,
        })
        .expect("string-keyed JSON always serializes");
        let answer: UpdatedRecords = self
            .send(Method::PATCH, self.table_url(&[]), Some(body))
            .await?;
        Ok(answer.records)
    }

    /// `/v0/{base}/{table}` followed by `more`, each percent-encoded as one path segment.
    fn table_url(&self, more: &[&str]) -> Url {
        let mut url = self.config.base_url.clone();
        url.path_segments_mut()
            .expect("checked in Client::new that the base can take paths")
            .pop_if_empty()
            .extend(["v0", &self.config.base_id, &self.config.table])
            .extend(more);
        url
    }

    /// Repeats a read while its error is retryable and attempts remain.
    async fn read<T, F, Fut>(&self, attempt: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let attempts = self.config.read_attempts.max(1);
        let mut made = 0;
        loop {
            made += 1;
            match attempt().await {
                Err(e) if e.is_retryable() && made < attempts => {
                    // After a 429 the gate already holds the next request back.
                    if !e.is_rate_limited() {
                        let wait = backoff(self.config.retry_backoff, made - 1);
                        tracing::debug!(error = %e, attempt = made, ?wait, "retrying Airtable read");
                        tokio::time::sleep(wait).await;
                    }
                }
                other => return other,
            }
        }
    }

    /// One exchange through the gate; a 429 pauses the gate for Airtable's wait.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        json_body: Option<Vec<u8>>,
    ) -> Result<T, Error> {
        self.config.gate.acquire().await;
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(self.config.token.expose_secret())
            .header(header::ACCEPT, "application/json");
        if let Some(body) = json_body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(Error::Transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(Error::Transport)?;
        if !(200..300).contains(&status) {
            let error = Error::from_response(status, &body);
            if let Some(wait) = error.retry_after() {
                self.config.gate.penalize(wait);
            }
            tracing::debug!(%method, path = url.path(), %error, "Airtable refused a request");
            return Err(error);
        }
        serde_json::from_slice(&body).map_err(|source| Error::Decode { status, source })
    }
}

/// Full jitter under a ceiling that doubles per attempt.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str, table: &str) -> Client {
        let mut config = Config::new(SecretString::from("pat-secret-value"), "appBASE", table);
        config.base_url = Url::parse(base).unwrap();
        Client::new(config).unwrap()
    }

    #[test]
    fn table_names_are_percent_encoded_as_one_segment() {
        let c = client("https://api.airtable.com", "Leads / Q3 ?#");
        assert_eq!(
            c.table_url(&["rec1"]).as_str(),
            "https://api.airtable.com/v0/appBASE/Leads%20%2F%20Q3%20%3F%23/rec1"
        );
    }

    #[test]
    fn a_base_url_keeps_its_path_prefix() {
        let c = client("http://127.0.0.1:9/airtable/", "Leads");
        assert_eq!(
            c.table_url(&[]).as_str(),
            "http://127.0.0.1:9/airtable/v0/appBASE/Leads"
        );
    }

    #[test]
    fn unusable_configurations_are_refused() {
        let mut config = Config::new(SecretString::from("t"), "appX", "Leads");
        config.base_url = Url::parse("mailto:x@example.com").unwrap();
        assert!(matches!(Client::new(config), Err(Error::Config(_))));
        let config = Config::new(SecretString::from("t"), "appX", " ");
        assert!(matches!(Client::new(config), Err(Error::Config(_))));
    }

    #[test]
    fn debug_never_prints_the_token() {
        let c = client("https://api.airtable.com", "Leads");
        let text = format!("{c:?}");
        assert!(text.contains("appBASE"));
        assert!(!text.contains("pat-secret-value"));
    }

    #[test]
    fn backoff_stays_under_its_doubling_ceiling() {
        let base = Duration::from_millis(100);
        for attempt in 0..5 {
            assert!(backoff(base, attempt) <= base * 2u32.pow(attempt));
        }
        assert_eq!(backoff(Duration::ZERO, 3), Duration::ZERO);
        // Huge attempt numbers saturate instead of overflowing.
        let _ = backoff(Duration::from_secs(1), u32::MAX);
    }

    #[tokio::test]
    async fn more_than_ten_updates_are_refused_before_sending() {
        // Nothing listens on port 9: a request would fail as Transport, not TooManyRecords.
        let c = client("http://127.0.0.1:9", "Leads");
        let updates: Vec<RecordUpdate> = (0..11)
            .map(|i| RecordUpdate {
                id: format!("rec{i}"),
                fields: serde_json::Map::new(),
            })
            .collect();
        let error = c.update_records(&updates, true).await.unwrap_err();
        assert!(
            matches!(error, Error::TooManyRecords { count: 11 }),
            "{error}"
        );
        assert!(c.update_records(&[], true).await.unwrap().is_empty());
    }
}
