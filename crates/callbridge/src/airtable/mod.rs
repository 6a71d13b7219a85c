//! The Airtable integration: start a call from a record (`POST /airtable/call`), write each
//! call's outcome back to its record through the durable outbox, and dial a whole view one
//! record after another (campaigns).
//!
//! Nothing here hooks into the call flow: the write-back follows the call rows in the store, so
//! it works the same whichever instance handled a webhook, and after a crash.

mod api;
pub(crate) mod campaigns;
pub mod dialer;
mod errors;
mod lead;
mod pacing;
mod records;
pub(crate) mod settings;
pub mod snapshot;
mod tasks;
mod writeback;
mod writer;

use std::sync::Arc;

use secrecy::SecretString;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use errors::AirtableError;
pub use pacing::Pacer;
pub use records::{MARK, UPDATE, record_key};
pub use settings::{FieldNames, Tuning};
pub use tasks::run as run_background;

use crate::config::AirtableSettings;
use crate::state::AppState;
use crate::store::SharedStore;

/// Everything the integration needs at run time; cheap to clone.
#[derive(Debug, Clone)]
pub struct Airtable {
    pub client: airtable::Client,
    pub pacer: Pacer,
    pub fields: Arc<FieldNames>,
    pub tuning: Tuning,
    pub store: SharedStore,
}

impl Airtable {
    /// The client and pacer for the configured base.
    pub fn new(settings: &AirtableSettings, store: SharedStore) -> Result<Self, AirtableError> {
        use secrecy::ExposeSecret as _;
        let gate = airtable::pace::RateGate::new(airtable::pace::GateConfig {
            penalty_scale: settings.tuning.penalty_scale,
            ..airtable::pace::GateConfig::AIRTABLE
        });
        let mut config = airtable::Config::new(
            SecretString::from(settings.token.expose_secret().to_owned()),
            settings.base_id.clone(),
            settings.table.clone(),
        );
        config.base_url = settings.base_url.clone();
        config.timeout = settings.tuning.request_timeout();
        // Every attempt must take a shared pacing slot first, so retries are ours to make.
        config.read_attempts = 1;
        config.gate = gate;
        Ok(Self {
            client: airtable::Client::new(config)?,
            pacer: Pacer::new(
                store.clone(),
                &settings.base_id,
                settings.tuning.penalty_scale,
            ),
            fields: Arc::new(settings.fields.clone()),
            tuning: settings.tuning,
            store,
        })
    }
}

/// The outcomes an agent picks from in a session campaign; empty for a per-record campaign.
pub async fn session_dispositions(
    store: &dyn crate::store::Store,
    campaign: &str,
) -> Result<Vec<String>, crate::store::StoreError> {
    Ok(campaigns::settings_of(store, campaign)
        .await?
        .map(|s| s.dispositions)
        .unwrap_or_default())
}

/// The Airtable routes; they answer 404 when the integration is not configured.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::call))
        .routes(routes!(campaigns::http::create))
        .routes(routes!(campaigns::http::progress))
        .routes(routes!(campaigns::events::events))
        .routes(routes!(campaigns::http::pause))
        .routes(routes!(campaigns::http::resume))
        .routes(routes!(campaigns::http::cancel))
        .routes(routes!(dialer::http::join))
        .routes(routes!(dialer::http::wrap_up))
        .routes(routes!(dialer::http::pause_session))
        .routes(routes!(dialer::http::resume_session))
        .routes(routes!(dialer::http::leave))
        .routes(routes!(dialer::webhooks::agent_status))
        .routes(routes!(dialer::webhooks::detection))
        .routes(routes!(dialer::webhooks::customer_status))
}
