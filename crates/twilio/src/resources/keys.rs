//! API Keys of the 2010 API: the credentials that sign Access Tokens (and may stand in for the
//! auth token on REST).

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;

use super::common::rfc2822;
use crate::{Client, Error, form::Form};

/// A key just created: the only time Twilio shows its secret.
#[derive(Debug, Clone, Deserialize)]
pub struct NewKey {
    /// `SK…`.
    pub sid: String,
    /// Its name in the Console.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// The secret, never shown again.
    pub secret: SecretString,
    /// When created.
    #[serde(default, with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
}

/// A key as Twilio lists it: without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Key {
    /// `SK…`.
    pub sid: String,
    /// Its name in the Console.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// When created.
    #[serde(default, with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
}

impl Client {
    /// Creates a Standard API key; its secret is in the answer only.
    pub async fn create_key(&self, friendly_name: &str) -> Result<NewKey, Error> {
        let mut form = Form::new();
        form.set("FriendlyName", friendly_name);
        self.post(self.list_url("Keys"), &form).await
    }

    /// Fetches a key (to learn whether it still exists).
    pub async fn fetch_key(&self, sid: &str) -> Result<Key, Error> {
        self.fetch_instance("Keys", sid).await
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn a_new_key_carries_its_secret_once() {
        let key: NewKey = serde_json::from_value(serde_json::json!({
            "sid": "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "friendly_name": "callbridge",
            "date_created": "Mon, 13 Jun 2016 22:50:08 +0000",
            "date_updated": "Mon, 13 Jun 2016 22:50:08 +0000",
            "secret": "foobar"
        }))
        .unwrap();
        assert_eq!(key.secret.expose_secret(), "foobar");
        assert!(!format!("{key:?}").contains("foobar"));
    }
}
