//! HTTP clients for webhooks, one per pair of connect and read timeouts: reqwest sets those per
//! client, and connection overrides set them per URL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::overrides::Overrides;

#[derive(Debug, Default)]
pub(crate) struct Clients(Mutex<HashMap<(u64, u64), reqwest::Client>>);

impl Clients {
    /// The client for these overrides' timeouts (cheap: a client is a handle to a shared pool).
    pub(crate) fn get(&self, overrides: &Overrides) -> reqwest::Client {
        let mut clients = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry((overrides.connect_ms, overrides.read_ms))
            .or_insert_with(|| build(overrides.connect(), overrides.read()))
            .clone()
    }
}

fn build(connect: Duration, read: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .read_timeout(read)
        .user_agent("TwilioProxy/1.1")
        // Well under the idle timeout servers commonly keep (60 s and more): a connection the
        // server is about to close is not picked for the next webhook.
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .expect("a default HTTP client builds")
}
