//! Conferences: `/2010-04-01/Accounts/{AccountSid}/Conferences`.

use std::{collections::BTreeMap, fmt};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{HttpMethod, Listed, Page, rfc2822};
use crate::{
    Client, Error,
    form::{Form, ToForm},
};

/// A conference's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConferenceStatus {
    /// Created, waiting for a participant that starts it.
    Init,
    /// Running.
    InProgress,
    /// Over.
    Completed,
    /// A status this client does not know yet.
    #[serde(other)]
    Unknown,
}

impl fmt::Display for ConferenceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Init => "init",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Unknown => "unknown",
        })
    }
}

/// Why a conference ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonConferenceEnded {
    /// Ended by an update to `completed`.
    ConferenceEndedViaApi,
    /// A participant with `endConferenceOnExit` left.
    ParticipantWithEndConferenceOnExitLeft,
    /// A participant with `endConferenceOnExit` was removed.
    ParticipantWithEndConferenceOnExitKicked,
    /// The last participant was removed.
    LastParticipantKicked,
    /// The last participant left.
    LastParticipantLeft,
    /// A reason this client does not know yet.
    #[serde(other)]
    Unknown,
}

/// The Conference resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conference {
    /// `CF…`.
    pub sid: String,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// When created.
    #[serde(default, with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default, with = "rfc2822")]
    pub date_updated: Option<DateTime<Utc>>,
    /// API version.
    #[serde(default)]
    pub api_version: Option<String>,
    /// The name given in `<Conference>` or on participant create.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// Where its media is mixed.
    #[serde(default)]
    pub region: Option<String>,
    /// Current status.
    #[serde(default)]
    pub status: Option<ConferenceStatus>,
    /// This resource's URI.
    #[serde(default)]
    pub uri: Option<String>,
    /// Related resources.
    #[serde(default)]
    pub subresource_uris: Option<BTreeMap<String, String>>,
    /// Why it ended, once it has.
    #[serde(default)]
    pub reason_conference_ended: Option<ReasonConferenceEnded>,
    /// The call whose leaving ended it.
    #[serde(default)]
    pub call_sid_ending_conference: Option<String>,
}

impl Listed for Conference {
    const LIST_KEY: &'static str = "conferences";
}

/// `GET Conferences.json` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListConferences {
    /// Only conferences with this name.
    pub friendly_name: Option<String>,
    /// Only conferences in this status.
    pub status: Option<ConferenceStatus>,
    /// Resources per page.
    pub page_size: Option<u32>,
}

impl ToForm for ListConferences {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("FriendlyName", self.friendly_name.as_ref())
            .opt("Status", self.status)
            .opt("PageSize", self.page_size);
        form
    }
}

/// `POST Conferences/{Sid}.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateConference {
    /// `completed` ends the conference and hangs up every participant.
    pub status: Option<ConferenceUpdateStatus>,
    /// TwiML or audio announced to everyone in the conference.
    pub announce_url: Option<String>,
    /// Method for `announce_url`.
    pub announce_method: Option<HttpMethod>,
}

/// What an update may set a conference's status to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConferenceUpdateStatus {
    /// End the conference.
    Completed,
}

impl fmt::Display for ConferenceUpdateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("completed")
    }
}

impl ToForm for UpdateConference {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("Status", self.status)
            .opt("AnnounceUrl", self.announce_url.as_ref())
            .opt("AnnounceMethod", self.announce_method);
        form
    }
}

impl Client {
    /// Fetches a conference by SID.
    pub async fn fetch_conference(&self, sid: &str) -> Result<Conference, Error> {
        self.fetch_instance("Conferences", sid).await
    }

    /// Lists conferences, one page at a time.
    pub async fn list_conferences(
        &self,
        params: &ListConferences,
    ) -> Result<Page<Conference>, Error> {
        self.get_page(self.list_url("Conferences"), &params.to_form())
            .await
    }

    /// Updates a conference (in practice: ends it).
    pub async fn update_conference(
        &self,
        sid: &str,
        params: &UpdateConference,
    ) -> Result<Conference, Error> {
        self.post(self.instance_url("Conferences", sid), &params.to_form())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::common::decode_page;

    #[test]
    fn decodes_the_openapi_examples() {
        let conference: Conference =
            serde_json::from_str(include_str!("../../fixtures/conference.json")).unwrap();
        assert!(conference.sid.starts_with("CF"));
        assert!(conference.status.is_some());
        let value =
            serde_json::from_str(include_str!("../../fixtures/conferences_page.json")).unwrap();
        let page: Page<Conference> = decode_page(&value).unwrap();
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.items[1].friendly_name.as_deref(), Some("MyRoom"));
        assert_eq!(page.items[0].status, Some(ConferenceStatus::InProgress));
        assert_eq!(page.items[2].status, Some(ConferenceStatus::Completed));
        assert_eq!(
            page.items[2].reason_conference_ended,
            Some(ReasonConferenceEnded::ParticipantWithEndConferenceOnExitLeft)
        );
    }

    #[test]
    fn reads_why_a_conference_ended() {
        let conference: Conference = serde_json::from_str(
            r#"{"sid":"CF1","status":"completed","reason_conference_ended":"participant-with-end-conference-on-exit-left","call_sid_ending_conference":"CA1"}"#,
        )
        .unwrap();
        assert_eq!(
            conference.reason_conference_ended,
            Some(ReasonConferenceEnded::ParticipantWithEndConferenceOnExitLeft)
        );
    }

    #[test]
    fn list_and_update_fields() {
        let list = ListConferences {
            friendly_name: Some("cb-42".to_owned()),
            status: Some(ConferenceStatus::InProgress),
            page_size: None,
        };
        assert_eq!(
            list.to_form().encode(),
            "FriendlyName=cb-42&Status=in-progress"
        );
        let update = UpdateConference {
            status: Some(ConferenceUpdateStatus::Completed),
            ..UpdateConference::default()
        };
        assert_eq!(update.to_form().encode(), "Status=completed");
    }
}
