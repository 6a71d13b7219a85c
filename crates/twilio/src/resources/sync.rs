//! Sync v1 Documents: `/v1/Services/{ServiceSid}/Documents`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Client, Error,
    client::Product,
    form::{Form, ToForm},
};

/// `POST Documents`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateDocument {
    /// A name to address the document by instead of its SID.
    pub unique_name: Option<String>,
    /// The document's JSON content (sent as a JSON string, as Twilio expects).
    pub data: Option<serde_json::Value>,
    /// Seconds until the document expires; none means never.
    pub ttl: Option<u64>,
}

impl ToForm for CreateDocument {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("UniqueName", self.unique_name.as_ref())
            .opt("Data", self.data.as_ref())
            .opt("Ttl", self.ttl);
        form
    }
}

/// `POST Documents/{Sid}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateDocument {
    /// The new JSON content.
    pub data: Option<serde_json::Value>,
    /// New time to live, in seconds.
    pub ttl: Option<u64>,
}

impl ToForm for UpdateDocument {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("Data", self.data.as_ref()).opt("Ttl", self.ttl);
        form
    }
}

/// The Document resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// `ET…`.
    pub sid: String,
    /// Its unique name, if it has one.
    #[serde(default)]
    pub unique_name: Option<String>,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The Sync service.
    #[serde(default)]
    pub service_sid: Option<String>,
    /// This resource's URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Related resources.
    #[serde(default)]
    pub links: Option<BTreeMap<String, String>>,
    /// Revision, for conditional updates.
    #[serde(default)]
    pub revision: Option<String>,
    /// The JSON content.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// When it expires, if it does.
    #[serde(default)]
    pub date_expires: Option<DateTime<Utc>>,
    /// When created.
    #[serde(default)]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default)]
    pub date_updated: Option<DateTime<Utc>>,
    /// Identity of the creator (`system` for REST).
    #[serde(default)]
    pub created_by: Option<String>,
}

impl Client {
    /// `v1/Services/{service}/Documents`, then `rest`.
    fn document_url(&self, service_sid: &str, rest: &[&str]) -> url::Url {
        let mut segments = vec!["v1", "Services", service_sid, "Documents"];
        segments.extend_from_slice(rest);
        self.url(Product::Sync, &segments)
    }

    /// Creates a document.
    pub async fn create_document(
        &self,
        service_sid: &str,
        params: &CreateDocument,
    ) -> Result<Document, Error> {
        let url = self.document_url(service_sid, &[]);
        self.post(url, &params.to_form()).await
    }

    /// Fetches a document by SID or unique name.
    pub async fn fetch_document(
        &self,
        service_sid: &str,
        sid_or_unique_name: &str,
    ) -> Result<Document, Error> {
        let url = self.document_url(service_sid, &[sid_or_unique_name]);
        self.get(url, &Form::new()).await
    }

    /// Replaces a document's content.
    pub async fn update_document(
        &self,
        service_sid: &str,
        sid_or_unique_name: &str,
        params: &UpdateDocument,
    ) -> Result<Document, Error> {
        let url = self.document_url(service_sid, &[sid_or_unique_name]);
        self.post(url, &params.to_form()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_sent_as_a_json_string() {
        let create = CreateDocument {
            unique_name: Some("verified_email_YUBiLmM=".to_owned()),
            data: Some(serde_json::json!({"email": "a@b.c", "verifiedAt": "2024-01-01T00:00:00Z"})),
            ttl: None,
        };
        let form = create.to_form();
        assert_eq!(form.get("UniqueName"), Some("verified_email_YUBiLmM="));
        let data: serde_json::Value = serde_json::from_str(form.get("Data").unwrap()).unwrap();
        assert_eq!(data["email"], "a@b.c");
        insta::assert_snapshot!(form.encoded_lines());
    }

    #[test]
    fn decodes_the_openapi_example() {
        let document: Document =
            serde_json::from_str(include_str!("../../fixtures/document.json")).unwrap();
        assert_eq!(document.sid, "ETaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(document.unique_name.as_deref(), Some("unique_name"));
        assert_eq!(document.data, Some(serde_json::json!({})));
        assert!(document.links.unwrap().contains_key("permissions"));
    }
}
