use std::ops::Deref;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Settings;
use crate::store::SharedStore;

/// What every handler may reach. Cloned for every request, more than once (each layer and
/// extractor that takes the state gets its own): one shared count to bump, where a struct of
/// handles would bump each handle's.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub settings: Arc<Settings>,
    pub store: SharedStore,
    pub metrics: PrometheusHandle,
    /// Twilio (or the simulator, per `TWILIO_BASE_URL`).
    pub twilio: twilio::Client,
    /// Wakes this instance's live call streams when a call changed.
    pub live: crate::calls::live::LiveHub,
    /// Wakes this instance's call effects worker when a transition queued effects.
    pub effects: crate::calls::effects::EffectsHandle,
    /// The Airtable integration, when `AIRTABLE_*` is configured.
    pub airtable: Option<crate::airtable::Airtable>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings)
            .field("store", &self.store)
            .field("twilio", &self.twilio)
            .finish_non_exhaustive()
    }
}

/// The Twilio client the settings describe: `TWILIO_BASE_URL` as the one base for every product,
/// the API key when one is set, else the auth token.
pub fn twilio_client(settings: &Settings) -> Result<twilio::Client, twilio::Error> {
    let credentials = match &settings.twilio.api_key {
        Some(key) => twilio::Credentials::ApiKey {
            sid: key.sid.clone(),
            secret: key.secret.clone(),
        },
        None => twilio::Credentials::AuthToken(settings.twilio.auth_token.clone()),
    };
    let mut config = twilio::ClientConfig::new(settings.twilio.account_sid.clone(), credentials);
    config.base_url.clone_from(&settings.twilio.base_url);
    config.timeout = settings.timeouts.twilio;
    twilio::Client::new(config)
}
