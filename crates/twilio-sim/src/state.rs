//! What every part of the simulator shares: configuration, clock, model, webhook queues, event feed.

use std::sync::{Mutex, MutexGuard, Weak};

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use url::Url;

use crate::clock::Clock;
use crate::config::{NumberBehaviour, SimConfig};
use crate::fault::CallsCreateFault;
use crate::model::{Model, TimelineEntry};
use crate::webhook::{Clients, Lanes};

/// Something that happened inside the simulator, for live timelines (`Sim::subscribe`).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SimEvent {
    /// A call changed state or executed a verb.
    Call {
        /// RFC 3339 time of the event.
        at: String,
        /// Call SID.
        sid: String,
        /// Called number.
        to: String,
        /// What happened, e.g. `ringing`, `say "Hello."`, `gather -> 1`.
        event: String,
    },
    /// A conference event (`conference-start`, `participant-join`, …).
    Conference {
        /// RFC 3339 time of the event.
        at: String,
        /// Conference SID.
        sid: String,
        /// Its friendly name.
        name: String,
        /// Twilio's event name.
        event: String,
        /// The participant's call, for participant events.
        call_sid: Option<String>,
    },
    /// A webhook was delivered (or failed).
    Webhook {
        /// RFC 3339 time of the event.
        at: String,
        /// twiml | status | conference-status | recording-status | action
        kind: String,
        /// The URL it was signed for.
        url: String,
        /// HTTP status of the answer; `None` when the request failed.
        status: Option<u16>,
    },
    /// A verification code was "sent".
    Verification {
        /// RFC 3339 time of the event.
        at: String,
        /// Address the code went to.
        to: String,
        /// sms | call | email | whatsapp
        channel: String,
        /// The code, as the message would have carried it.
        code: String,
    },
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) clock: Clock,
    pub(crate) base_url: Url,
    model: Mutex<Model>,
    pub(crate) events: broadcast::Sender<SimEvent>,
    pub(crate) device_events: broadcast::Sender<crate::devices::DeviceEvent>,
    /// The simulator itself, for the webhook queues' tasks, which outlive the caller's borrow.
    pub(crate) me: Weak<Shared>,
    pub(crate) clients: Clients,
    pub(crate) lanes: Lanes,
    pub(crate) shutdown: watch::Receiver<bool>,
    calls_create_fault: Mutex<CallsCreateFault>,
}

impl Shared {
    pub(crate) fn new(
        config: SimConfig,
        base_url: Url,
        me: Weak<Shared>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let mut model = Model {
            numbers: config.numbers.clone(),
            ..Model::default()
        };
        let now = chrono::Utc::now();
        for (sid, secret) in &config.api_keys {
            model.key_order.push(sid.clone());
            model.keys.insert(
                sid.clone(),
                crate::model::KeyRec {
                    sid: sid.clone(),
                    friendly_name: None,
                    secret: secret.clone(),
                    date_created: now,
                    date_updated: now,
                },
            );
        }
        let (events, _) = broadcast::channel(4096);
        let (device_events, _) = broadcast::channel(1024);
        Self {
            clock: Clock::new(config.time_scale),
            config,
            base_url,
            model: Mutex::new(model),
            events,
            device_events,
            me,
            clients: Clients::default(),
            lanes: Lanes::default(),
            shutdown,
            calls_create_fault: Mutex::default(),
        }
    }

    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        self.model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fault a call to `to` meets, if any, counting it against the fault's `times`.
    pub(crate) fn take_calls_create_fault(&self, to: Option<&str>) -> Option<CallsCreateFault> {
        let mut fault = self
            .calls_create_fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *fault == CallsCreateFault::default() {
            return None;
        }
        if fault.to.as_deref().is_some_and(|only| Some(only) != to) {
            return None;
        }
        match fault.times {
            Some(0) => return None,
            Some(n) => fault.times = Some(n - 1),
            None => {}
        }
        Some(fault.clone())
    }

    pub(crate) fn set_calls_create_fault(&self, fault: CallsCreateFault) {
        *self
            .calls_create_fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fault;
    }

    pub(crate) fn now_rfc3339(&self) -> String {
        self.clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// The secret of an API key the account has, configured or created through the Keys resource.
    pub(crate) fn key_secret(&self, sid: &str) -> Option<String> {
        self.model().keys.get(sid).map(|k| k.secret.clone())
    }

    pub(crate) fn behaviour(&self, number: &str) -> NumberBehaviour {
        self.model()
            .numbers
            .get(number)
            .cloned()
            .unwrap_or_else(|| self.config.default_behaviour.clone())
    }

    /// Appends to a call's timeline, logs it and publishes it. Takes the locked model.
    pub(crate) fn note(&self, model: &mut Model, sid: &str, event: impl Into<String>) {
        let event = event.into();
        let at = self.now_rfc3339();
        let Some(call) = model.calls.get_mut(sid) else {
            return;
        };
        tracing::info!(target: "twilio_sim::call", "{sid} {} {event}", call.to);
        call.timeline.push(TimelineEntry {
            at: at.clone(),
            event: event.clone(),
        });
        let _ = self.events.send(SimEvent::Call {
            at,
            sid: sid.to_owned(),
            to: call.to.clone(),
            event,
        });
    }

    /// The path prefix of every 2010-04-01 resource of the account.
    pub(crate) fn account_path(&self) -> String {
        format!("/2010-04-01/Accounts/{}", self.config.account_sid)
    }

    /// An absolute URL on the simulator for a path.
    pub(crate) fn absolute(&self, path: &str) -> String {
        let mut base = self.base_url.as_str().trim_end_matches('/').to_owned();
        base.push_str(path);
        base
    }
}
