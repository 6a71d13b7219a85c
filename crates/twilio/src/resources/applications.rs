//! TwiML Applications of the 2010 API: where a Voice SDK client's outgoing calls are sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{HttpMethod, Listed, Page, rfc2822};
use crate::{
    Client, Error,
    form::{Form, ToForm},
};

/// `POST Applications` and `POST Applications/{Sid}`: the Voice settings; absent fields are
/// left as they are on an update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationParams {
    /// Its name in the Console (what a set-up finds it by again).
    pub friendly_name: Option<String>,
    /// Fetched when a client calls out.
    pub voice_url: Option<String>,
    /// How the Voice URL is requested.
    pub voice_method: Option<HttpMethod>,
    /// Told of each call's end.
    pub status_callback: Option<String>,
    /// How the Status Callback is requested.
    pub status_callback_method: Option<HttpMethod>,
}

impl ToForm for ApplicationParams {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("FriendlyName", self.friendly_name.as_ref())
            .opt("VoiceUrl", self.voice_url.as_ref())
            .opt("VoiceMethod", self.voice_method)
            .opt("StatusCallback", self.status_callback.as_ref())
            .opt("StatusCallbackMethod", self.status_callback_method);
        form
    }
}

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

impl Listed for Application {
    const LIST_KEY: &'static str = "applications";
}

impl Client {
    /// Fetches a TwiML Application.
    pub async fn fetch_application(&self, sid: &str) -> Result<Application, Error> {
        self.fetch_instance("Applications", sid).await
    }

    /// Creates a TwiML Application.
    pub async fn create_application(
        &self,
        params: &ApplicationParams,
    ) -> Result<Application, Error> {
        self.post(self.list_url("Applications"), &params.to_form())
            .await
    }

    /// Changes a TwiML Application.
    pub async fn update_application(
        &self,
        sid: &str,
        params: &ApplicationParams,
    ) -> Result<Application, Error> {
        self.post(self.instance_url("Applications", sid), &params.to_form())
            .await
    }

    /// The account's TwiML Applications named `friendly_name` (all of them when `None`), first
    /// page only.
    pub async fn list_applications(
        &self,
        friendly_name: Option<&str>,
        page_size: u32,
    ) -> Result<Page<Application>, Error> {
        let mut query = Form::new();
        query
            .opt("FriendlyName", friendly_name)
            .opt("PageSize", Some(page_size));
        self.get_page(self.list_url("Applications"), &query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_settings_given_are_sent() {
        let params = ApplicationParams {
            friendly_name: Some("callbridge".into()),
            voice_url: Some("https://calls.example.com/browser/voice".into()),
            voice_method: Some(HttpMethod::Post),
            ..ApplicationParams::default()
        };
        let form = params.to_form();
        assert_eq!(form.get("FriendlyName"), Some("callbridge"));
        assert_eq!(form.get("VoiceMethod"), Some("POST"));
        assert_eq!(form.get("StatusCallback"), None);
    }

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
