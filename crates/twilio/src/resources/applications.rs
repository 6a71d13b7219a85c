//! TwiML Applications of the 2010 API: where a Voice SDK client's outgoing calls are sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::rfc2822;
use crate::{Client, Error};

/// The Application resource, as far as Voice uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// `AP…`.
    pub sid: String,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// Its name in the Console.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// Fetched when a client calls out.
    #[serde(default)]
    pub voice_url: Option<String>,
    /// `GET` or `POST`.
    #[serde(default)]
    pub voice_method: Option<String>,
    /// Fetched when the Voice URL fails.
    #[serde(default)]
    pub voice_fallback_url: Option<String>,
    /// Told of each call's end.
    #[serde(default)]
    pub status_callback: Option<String>,
    /// `GET` or `POST`.
    #[serde(default)]
    pub status_callback_method: Option<String>,
    /// When created.
    #[serde(default, with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default, with = "rfc2822")]
    pub date_updated: Option<DateTime<Utc>>,
}

impl Client {
    /// Fetches a TwiML Application.
    pub async fn fetch_application(&self, sid: &str) -> Result<Application, Error> {
        self.fetch_instance("Applications", sid).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_openapi_example() {
        let app: Application =
            serde_json::from_str(include_str!("../../fixtures/application.json")).unwrap();
        assert_eq!(app.sid, "APaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(app.voice_url.as_deref(), Some("http://example.com"));
        assert_eq!(app.voice_method.as_deref(), Some("GET"));
        assert_eq!(app.status_callback.as_deref(), Some("http://example.com"));
        assert!(app.date_created.is_some());
    }
}
