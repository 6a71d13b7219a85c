//! Recordings and incoming phone numbers of the 2010 API.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{HttpMethod, Listed, Page, rfc2822};
use crate::{
    Client, Error,
    form::{Form, ToForm},
};

/// A recording's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordingStatus {
    /// Recording.
    InProgress,
    /// Paused.
    Paused,
    /// Stopped.
    Stopped,
    /// Being processed.
    Processing,
    /// Ready.
    Completed,
    /// Nothing was recorded.
    Absent,
    /// Deleted.
    Deleted,
    /// A status this client does not know yet.
    #[serde(other)]
    Unknown,
}

/// The Recording resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// `RE…`.
    pub sid: String,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// API version.
    #[serde(default)]
    pub api_version: Option<String>,
    /// The recorded call.
    #[serde(default)]
    pub call_sid: Option<String>,
    /// The recorded conference, if it was one.
    #[serde(default)]
    pub conference_sid: Option<String>,
    /// When created.
    #[serde(default, with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default, with = "rfc2822")]
    pub date_updated: Option<DateTime<Utc>>,
    /// When recording began.
    #[serde(default, with = "rfc2822")]
    pub start_time: Option<DateTime<Utc>>,
    /// Seconds, as a string.
    #[serde(default)]
    pub duration: Option<String>,
    /// Charge, as a decimal string.
    #[serde(default)]
    pub price: Option<String>,
    /// Currency of `price`.
    #[serde(default)]
    pub price_unit: Option<String>,
    /// Current status.
    #[serde(default)]
    pub status: Option<RecordingStatus>,
    /// Audio channels.
    #[serde(default)]
    pub channels: Option<i64>,
    /// What started the recording (`Conference`, `OutboundAPI`, `DialVerb`, …).
    #[serde(default)]
    pub source: Option<String>,
    /// Error code if recording failed.
    #[serde(default)]
    pub error_code: Option<i64>,
    /// This resource's URI.
    #[serde(default)]
    pub uri: Option<String>,
    /// Encryption details, when encrypted.
    #[serde(default)]
    pub encryption_details: Option<serde_json::Value>,
    /// Related resources.
    #[serde(default)]
    pub subresource_uris: Option<BTreeMap<String, String>>,
    /// Where the media can be downloaded.
    #[serde(default)]
    pub media_url: Option<String>,
}

impl Listed for Recording {
    const LIST_KEY: &'static str = "recordings";
}

/// `GET Recordings.json` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRecordings {
    /// Only recordings of this call.
    pub call_sid: Option<String>,
    /// Only recordings of this conference.
    pub conference_sid: Option<String>,
    /// Resources per page.
    pub page_size: Option<u32>,
}

impl ToForm for ListRecordings {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("CallSid", self.call_sid.as_ref())
            .opt("ConferenceSid", self.conference_sid.as_ref())
            .opt("PageSize", self.page_size);
        form
    }
}

/// What a number can do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// Voice calls.
    pub voice: bool,
    /// SMS.
    pub sms: bool,
    /// MMS.
    pub mms: bool,
    /// Fax.
    pub fax: bool,
}

/// The IncomingPhoneNumber resource (the fields callbridge looks at; others are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncomingPhoneNumber {
    /// `PN…`.
    pub sid: String,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The number, E.164.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Display name.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// What the number can do.
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    /// When created.
    #[serde(default, with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default, with = "rfc2822")]
    pub date_updated: Option<DateTime<Utc>>,
    /// Voice webhook.
    #[serde(default)]
    pub voice_url: Option<String>,
    /// Method of the voice webhook.
    #[serde(default)]
    pub voice_method: Option<HttpMethod>,
    /// TwiML App handling voice, instead of `voice_url`.
    #[serde(default)]
    pub voice_application_sid: Option<String>,
    /// Status callback for calls to the number.
    #[serde(default)]
    pub status_callback: Option<String>,
    /// SMS webhook.
    #[serde(default)]
    pub sms_url: Option<String>,
    /// Provisioning status.
    #[serde(default)]
    pub status: Option<String>,
    /// This resource's URI.
    #[serde(default)]
    pub uri: Option<String>,
}

impl Listed for IncomingPhoneNumber {
    const LIST_KEY: &'static str = "incoming_phone_numbers";
}

/// `GET IncomingPhoneNumbers.json` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListIncomingPhoneNumbers {
    /// Only numbers matching this (full or partial) number.
    pub phone_number: Option<String>,
    /// Resources per page.
    pub page_size: Option<u32>,
}

impl ToForm for ListIncomingPhoneNumbers {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("PhoneNumber", self.phone_number.as_ref())
            .opt("PageSize", self.page_size);
        form
    }
}

impl Client {
    /// Fetches a recording's metadata.
    pub async fn fetch_recording(&self, sid: &str) -> Result<Recording, Error> {
        self.fetch_instance("Recordings", sid).await
    }

    /// A recording's audio as MP3 (`Recordings/{sid}.mp3`), unread, for streaming.
    pub async fn recording_audio(&self, sid: &str) -> Result<reqwest::Response, Error> {
        let file = format!("{sid}.mp3");
        self.get_raw(self.api_url(&["Recordings", &file])).await
    }

    /// Lists recordings, one page at a time.
    pub async fn list_recordings(&self, params: &ListRecordings) -> Result<Page<Recording>, Error> {
        self.get_page(self.list_url("Recordings"), &params.to_form())
            .await
    }

    /// Lists the account's phone numbers (to check that a caller ID is ours).
    pub async fn list_incoming_phone_numbers(
        &self,
        params: &ListIncomingPhoneNumbers,
    ) -> Result<Page<IncomingPhoneNumber>, Error> {
        self.get_page(self.list_url("IncomingPhoneNumbers"), &params.to_form())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::common::decode_page;

    #[test]
    fn decodes_the_openapi_examples() {
        let recording: Recording =
            serde_json::from_str(include_str!("../../fixtures/recording.json")).unwrap();
        assert_eq!(recording.sid, "REaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(recording.status, Some(RecordingStatus::Completed));
        assert_eq!(recording.channels, Some(1));
        assert_eq!(recording.error_code, None);

        let value =
            serde_json::from_str(include_str!("../../fixtures/recordings_page.json")).unwrap();
        let page: Page<Recording> = decode_page(&value).unwrap();
        assert!(!page.items.is_empty());

        let value = serde_json::from_str(include_str!(
            "../../fixtures/incoming_phone_numbers_page.json"
        ))
        .unwrap();
        let page: Page<IncomingPhoneNumber> = decode_page(&value).unwrap();
        let number = &page.items[0];
        assert_eq!(number.phone_number.as_deref(), Some("+18089255327"));
        assert_eq!(
            number.capabilities,
            Some(Capabilities {
                voice: true,
                sms: false,
                mms: true,
                fax: false
            })
        );
    }

    #[test]
    fn list_filters() {
        let list = ListRecordings {
            call_sid: Some("CA1".to_owned()),
            conference_sid: Some("CF1".to_owned()),
            page_size: None,
        };
        assert_eq!(list.to_form().encode(), "CallSid=CA1&ConferenceSid=CF1");
        let numbers = ListIncomingPhoneNumbers {
            phone_number: Some("+15551230000".to_owned()),
            page_size: Some(1),
        };
        assert_eq!(
            numbers.to_form().encode(),
            "PhoneNumber=%2B15551230000&PageSize=1"
        );
    }
}
