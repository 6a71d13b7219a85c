//! The Verify v2 and Sync v1 services a set-up creates: `/v2/Services` and `/v1/Services`.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::common::{Listed, Page};
use crate::{Client, Error, client::Product, form::Form};

/// A Verify or a Sync service, as far as a set-up needs it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Service {
    /// `VA…` (Verify) or `IS…` (Sync).
    pub sid: String,
    /// Its name in the Console (what a set-up finds it by again).
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// When created.
    #[serde(default)]
    pub date_created: Option<DateTime<Utc>>,
}

impl Listed for Service {
    const LIST_KEY: &'static str = "services";
}

/// The largest page both lists give (Sync allows 100 at most).
const PAGE_SIZE: u32 = 100;

impl Client {
    /// Creates a Verify service.
    pub async fn create_verify_service(&self, friendly_name: &str) -> Result<Service, Error> {
        let mut form = Form::new();
        form.set("FriendlyName", friendly_name);
        self.post(self.url(Product::Verify, &["v2", "Services"]), &form)
            .await
    }

    /// The account's Verify services, first page (up to 100).
    pub async fn list_verify_services(&self) -> Result<Page<Service>, Error> {
        let mut query = Form::new();
        query.opt("PageSize", Some(PAGE_SIZE));
        self.get_page(self.url(Product::Verify, &["v2", "Services"]), &query)
            .await
    }

    /// Creates a Sync service.
    pub async fn create_sync_service(&self, friendly_name: &str) -> Result<Service, Error> {
        let mut form = Form::new();
        form.set("FriendlyName", friendly_name);
        self.post(self.url(Product::Sync, &["v1", "Services"]), &form)
            .await
    }

    /// The account's Sync services, first page (up to 100).
    pub async fn list_sync_services(&self) -> Result<Page<Service>, Error> {
        let mut query = Form::new();
        query.opt("PageSize", Some(PAGE_SIZE));
        self.get_page(self.url(Product::Sync, &["v1", "Services"]), &query)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::common::decode_page;

    #[test]
    fn a_v2_list_reads_its_services() {
        let page: Page<Service> = decode_page(&serde_json::json!({
            "services": [{"sid": "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "friendly_name": "callbridge",
                          "date_created": "2015-07-30T20:00:00Z"}],
            "meta": {"page": 0, "page_size": 50, "key": "services", "next_page_url": null}
        }))
        .unwrap();
        assert_eq!(page.items[0].friendly_name.as_deref(), Some("callbridge"));
        assert!(page.items[0].date_created.is_some());
    }
}
