//! Pieces shared by the resources: dates, pages, HTTP methods.

use std::fmt;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{Error, client::Product};

/// The 2010 API writes dates as RFC 2822 (`Tue, 31 Aug 2010 20:36:28 +0000`).
pub(crate) mod rfc2822 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(at) => serializer.serialize_str(&at.to_rfc2822()),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                DateTime::parse_from_rfc2822(&text)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

/// GET or POST, for the `*Method` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Get => "GET",
            Self::Post => "POST",
        })
    }
}

/// One page of a list, with the link to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The resources on this page.
    pub items: Vec<T>,
    /// Zero-based page number.
    pub page: Option<u32>,
    /// Page size used.
    pub page_size: Option<u32>,
    /// Where the next page is, if there is one.
    pub next_page_uri: Option<String>,
}

/// A resource that appears in lists of the 2010 API under `LIST_KEY`.
pub trait Listed: DeserializeOwned {
    /// The JSON key of the array in a list response (`calls`, `conferences`, …).
    const LIST_KEY: &'static str;
}

#[derive(Deserialize)]
struct PageMeta {
    page: Option<u32>,
    page_size: Option<u32>,
    next_page_uri: Option<String>,
}

pub(crate) fn decode_page<T: Listed>(
    value: &serde_json::Value,
) -> Result<Page<T>, serde_json::Error> {
    let meta = PageMeta::deserialize(value)?;
    let items = match value.get(T::LIST_KEY) {
        Some(list) => Vec::<T>::deserialize(list)?,
        None => {
            return Err(serde::de::Error::missing_field(T::LIST_KEY));
        }
    };
    Ok(Page {
        items,
        page: meta.page,
        page_size: meta.page_size,
        next_page_uri: meta.next_page_uri,
    })
}

impl crate::Client {
    /// The URL of one resource of the 2010 API: `{collection}/{sid}.json`.
    pub(crate) fn instance_url(&self, collection: &str, sid: &str) -> url::Url {
        self.api_url(&[collection, &format!("{sid}.json")])
    }

    /// The URL of a list of the 2010 API: `{collection}.json`.
    pub(crate) fn list_url(&self, collection: &str) -> url::Url {
        self.api_url(&[&format!("{collection}.json")])
    }

    /// Fetches one resource of the 2010 API.
    pub(crate) async fn fetch_instance<T: DeserializeOwned>(
        &self,
        collection: &str,
        sid: &str,
    ) -> Result<T, Error> {
        self.get(
            self.instance_url(collection, sid),
            &crate::form::Form::new(),
        )
        .await
    }

    pub(crate) async fn get_page<T: Listed>(
        &self,
        url: url::Url,
        query: &crate::form::Form,
    ) -> Result<Page<T>, Error> {
        let value: serde_json::Value = self.get(url, query).await?;
        decode_page(&value).map_err(|source| Error::Decode {
            status: 200,
            source,
        })
    }

    /// The page after `page`, or `None` on the last one.
    pub async fn next_page<T: Listed>(&self, page: &Page<T>) -> Result<Option<Page<T>>, Error> {
        let Some(uri) = &page.next_page_uri else {
            return Ok(None);
        };
        let url = self.resolve(Product::Api, uri)?;
        self.get_page(url, &crate::form::Form::new())
            .await
            .map(Some)
    }
}
