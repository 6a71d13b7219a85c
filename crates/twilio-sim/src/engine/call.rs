//! One call's task: ring, answer (or not), run TwiML, end, and tell the application at every step.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use url::Url;

use super::conference::{self, Leave};
use super::media::{self, Music, PLAY_MS, say_ms};
use super::twiml::{self, Dial, DialTarget, Gather, NumberNoun, Record, Verb};
use super::{
    JoinSpec, NewCall, Signal, Start, TwimlSource, amd, call_event, call_params, place_call,
    recording,
};
use crate::config::{Answer, NumberBehaviour};
use crate::model::{CallStatus, ConfStatus, VoicemailEntry};
use crate::state::Shared;
use crate::webhook::{self, Outgoing};

/// Simulated time between the REST request and the carrier taking the call.
const INITIATE_MS: u64 = 100;
/// Simulated time before a carrier reports failure.
const FAIL_MS: u64 = 200;

/// Why the task stopped following its script.
enum Stop {
    /// The call is over (callee hung up, or the API ended it).
    Hangup,
    /// New TwiML from the API.
    Redirect(TwimlSource),
    /// The simulator is shutting down.
    Shutdown,
}

/// What ended a wait.
enum Wake {
    Elapsed,
    Digits,
    Other(Signal),
}

/// What to do after a verb.
enum Flow {
    Next,
    Goto(TwimlSource),
    End,
}

/// How a call that never answered ends, or shutdown.
enum Unanswered {
    Status(CallStatus),
    Shutdown,
}

pub(crate) struct CallTask {
    shared: Arc<Shared>,
    sid: String,
    spec: NewCall,
    behaviour: NumberBehaviour,
    tx: mpsc::UnboundedSender<Signal>,
    rx: mpsc::UnboundedReceiver<Signal>,
    shutdown: watch::Receiver<bool>,
    /// Keys pressed and not yet consumed by a Gather or Record.
    keys: String,
    keys_scheduled: bool,
    /// URL of the TwiML document being executed (relative URLs resolve against it).
    doc_url: Option<String>,
    recording: Option<(String, Instant)>,
    /// When the call leaves the queue (later than now under a calls-per-second limit).
    dial_at: Instant,
    /// An inbound call's first TwiML request reports it `ringing`, as Twilio's do.
    ringing_fetch: bool,
}

impl std::fmt::Debug for CallTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallTask")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

impl CallTask {
    pub(crate) fn new(
        shared: Arc<Shared>,
        sid: String,
        spec: NewCall,
        behaviour: NumberBehaviour,
        dial_at: Instant,
        (tx, rx): (
            mpsc::UnboundedSender<Signal>,
            mpsc::UnboundedReceiver<Signal>,
        ),
    ) -> Self {
        let shutdown = shared.shutdown.clone();
        Self {
            shared,
            sid,
            spec,
            behaviour,
            tx,
            rx,
            shutdown,
            keys: String::new(),
            keys_scheduled: false,
            doc_url: None,
            recording: None,
            dial_at,
            ringing_fetch: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let status = match self.connect().await {
            Ok(()) => match self.converse().await {
                Ok(()) => CallStatus::Completed,
                Err(()) => return,
            },
            Err(Unanswered::Status(s)) => s,
            Err(Unanswered::Shutdown) => return,
        };
        self.finish(status);
    }

    fn with_model<R>(&self, f: impl FnOnce(&Shared, &mut crate::model::Model) -> R) -> R {
        let mut model = self.shared.model();
        f(&self.shared, &mut model)
    }

    fn note(&self, event: impl Into<String>) {
        let event = event.into();
        self.with_model(|s, m| s.note(m, &self.sid, event));
    }

    fn set_status(&self, status: CallStatus, event: Option<&str>) {
        self.with_model(|s, m| {
            let now = s.clock.now();
            if let Some(c) = m.calls.get_mut(&self.sid) {
                c.status = status;
                c.date_updated = now;
            }
            s.note(m, &self.sid, status.as_str());
            if let Some(e) = event {
                call_event(s, m, &self.sid, e);
            }
        });
    }

    // ---- ringing ----

    async fn connect(&mut self) -> Result<(), Unanswered> {
        if self.spec.direction == "inbound" {
            // Twilio has already taken an inbound call: nothing rings, and no progress events
            // are sent for it.
            self.set_status(CallStatus::Ringing, None);
            self.ringing_fetch = true;
            return Ok(());
        }
        if self.dial_at > Instant::now() {
            self.note("waiting for the account's calls-per-second limit");
            self.ring_until(self.dial_at).await?;
        }
        self.ring_wait(INITIATE_MS).await?;
        self.with_model(|s, m| {
            s.note(m, &self.sid, "initiated");
            call_event(s, m, &self.sid, "initiated");
        });
        if let Some(identity) = self.spec.to.strip_prefix("client:") {
            let identity = identity.to_owned();
            return self.ring_devices(&identity).await;
        }
        if self.behaviour.answer == Answer::Failed {
            self.ring_wait(FAIL_MS).await?;
            return Err(Unanswered::Status(CallStatus::Failed));
        }
        self.set_status(CallStatus::Ringing, Some("ringing"));
        self.with_model(|_, m| conference::set_pending_status(m, &self.sid, "ringing"));
        let timeout_ms = self.spec.timeout_s.saturating_mul(1000);
        let ring_ms = self.behaviour.ring_ms;
        match self.behaviour.answer {
            Answer::Busy => {
                self.ring_wait(ring_ms.min(timeout_ms)).await?;
                Err(Unanswered::Status(CallStatus::Busy))
            }
            Answer::Human | Answer::Machine if ring_ms < timeout_ms => {
                self.ring_wait(ring_ms).await
            }
            Answer::Person => self.ring_for_person(timeout_ms).await,
            _ => {
                self.ring_wait(timeout_ms).await?;
                Err(Unanswered::Status(CallStatus::NoAnswer))
            }
        }
    }

    /// Rings every registered device of `identity` until one accepts, all decline, or the
    /// timeout. With none registered, Twilio reports the call unanswered at once.
    async fn ring_devices(&mut self, identity: &str) -> Result<(), Unanswered> {
        let params = self.spec.client_params.clone();
        let mut ringing: HashSet<String> = self.with_model(|s, m| {
            crate::devices::ring(s, m, &self.sid, identity, &params)
                .into_iter()
                .collect()
        });
        self.set_status(CallStatus::Ringing, Some("ringing"));
        self.with_model(|_, m| conference::set_pending_status(m, &self.sid, "ringing"));
        if ringing.is_empty() {
            self.note(format!("no device registered as {identity}"));
            return Err(Unanswered::Status(CallStatus::NoAnswer));
        }
        let deadline = self
            .shared
            .clock
            .deadline(self.spec.timeout_s.saturating_mul(1000));
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Unanswered::Status(CallStatus::NoAnswer));
                }
                sig = self.rx.recv() => match sig {
                    Some(Signal::Accept(device)) if ringing.remove(&device) => {
                        self.with_model(|s, m| {
                            crate::devices::set_status(s, m, &device, &self.sid, "accepted");
                            for other in &ringing {
                                crate::devices::set_status(s, m, other, &self.sid, "canceled");
                            }
                        });
                        return Ok(());
                    }
                    Some(Signal::Reject(device)) if ringing.remove(&device) => {
                        self.with_model(|s, m| {
                            crate::devices::set_status(s, m, &device, &self.sid, "rejected");
                        });
                        if ringing.is_empty() {
                            return Err(Unanswered::Status(CallStatus::Busy));
                        }
                    }
                    Some(Signal::Hangup) => return Err(Unanswered::Status(CallStatus::Busy)),
                    Some(Signal::End | Signal::ParentGone) => {
                        return Err(Unanswered::Status(CallStatus::Canceled));
                    }
                    Some(Signal::Redirect(src)) => {
                        if let Start::Twiml(old) = &mut self.spec.start {
                            *old = src;
                        }
                    }
                    Some(_) => {}
                    None => return Err(Unanswered::Shutdown),
                },
                _ = self.shutdown.changed() => return Err(Unanswered::Shutdown),
            }
        }
    }

    /// Rings until the person playing the phone answers, declines or lets it ring out, or the
    /// caller's timeout passes.
    async fn ring_for_person(&mut self, timeout_ms: u64) -> Result<(), Unanswered> {
        self.note("ringing for a person at /sim/");
        let deadline = self.shared.clock.deadline(timeout_ms);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Unanswered::Status(CallStatus::NoAnswer));
                }
                sig = self.rx.recv() => match sig {
                    Some(Signal::PersonAnswers) => return Ok(()),
                    Some(Signal::PersonDeclines | Signal::Hangup) => {
                        return Err(Unanswered::Status(CallStatus::Busy));
                    }
                    Some(Signal::PersonIgnores) => return Err(Unanswered::Status(CallStatus::NoAnswer)),
                    Some(Signal::End | Signal::ParentGone) => {
                        return Err(Unanswered::Status(CallStatus::Canceled));
                    }
                    Some(Signal::Redirect(src)) => {
                        if let Start::Twiml(old) = &mut self.spec.start {
                            *old = src;
                        }
                    }
                    Some(Signal::Digits(d)) => self.keys.push_str(&d),
                    Some(_) => {}
                    None => return Err(Unanswered::Shutdown),
                },
                _ = self.shutdown.changed() => return Err(Unanswered::Shutdown),
            }
        }
    }

    /// Waits while the phone rings; the callee may decline and the API may cancel.
    async fn ring_wait(&mut self, sim_ms: u64) -> Result<(), Unanswered> {
        self.ring_until(self.shared.clock.deadline(sim_ms)).await
    }

    async fn ring_until(&mut self, deadline: Instant) -> Result<(), Unanswered> {
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return Ok(()),
                sig = self.rx.recv() => match sig {
                    Some(Signal::Hangup) => return Err(Unanswered::Status(CallStatus::Busy)),
                    Some(Signal::End | Signal::ParentGone) => return Err(Unanswered::Status(CallStatus::Canceled)),
                    Some(Signal::Redirect(src)) => {
                        if let Start::Twiml(old) = &mut self.spec.start {
                            *old = src;
                        }
                    }
                    Some(Signal::Digits(d)) => self.keys.push_str(&d),
                    Some(_) => {}
                    None => return Err(Unanswered::Shutdown),
                },
                _ = self.shutdown.changed() => return Err(Unanswered::Shutdown),
            }
        }
    }

    // ---- answered ----

    /// Whether detection holds the call's TwiML (and its `answered` event) until it decides.
    fn detects_synchronously(&self) -> bool {
        self.spec.amd.as_ref().is_some_and(|a| !a.asynchronous)
            && matches!(self.spec.start, Start::Twiml(_))
    }

    fn answer(&mut self) {
        let hold_answered = self.detects_synchronously();
        let recording = self.with_model(|s, m| {
            let now = s.clock.now();
            let call = m.calls.get_mut(&self.sid)?;
            call.status = CallStatus::InProgress;
            call.start_time = Some(now);
            call.answered_at = Some(Instant::now());
            call.date_updated = now;
            let record = call.record.clone();
            s.note(m, &self.sid, "in-progress");
            if !hold_answered {
                call_event(s, m, &self.sid, "answered");
            }
            let recording = record.map(|cb| {
                recording::start(s, m, Some(&self.sid), None, "OutboundAPI", cb.as_ref())
            });
            if let (Some((rec, _)), Some(call)) = (&recording, m.calls.get_mut(&self.sid)) {
                call.recording_sid = Some(rec.clone());
            }
            recording
        });
        self.recording = recording;
        if let Some(req) = self
            .spec
            .amd
            .clone()
            .filter(|a| a.asynchronous || !hold_answered)
        {
            self.detect_in_background(req);
        }
        if let Some(talk) = self.behaviour.talk_ms {
            let tx = self.tx.clone();
            let delay = self.shared.clock.real(talk);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(Signal::Hangup);
            });
        }
    }

    /// Records what detection decided on the call and in its timeline.
    fn set_answered_by(&self, verdict: amd::Verdict) {
        self.with_model(|s, m| {
            if let Some(c) = m.calls.get_mut(&self.sid) {
                c.answered_by = Some(verdict.answered_by.as_str().to_owned());
                c.machine_detection_ms = Some(verdict.after_ms);
            }
            s.note(
                m,
                &self.sid,
                format!(
                    "answered by {} (detected in {} ms)",
                    verdict.answered_by.as_str(),
                    verdict.after_ms
                ),
            );
        });
    }

    /// Asynchronous detection: the TwiML runs meanwhile, and the verdict goes to the AMD status
    /// callback if the call is still up by then.
    fn detect_in_background(&self, req: amd::Request) {
        let verdict = amd::decide(&self.behaviour, &req);
        let shared = Arc::clone(&self.shared);
        let sid = self.sid.clone();
        let delay = shared.clock.real(verdict.after_ms);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut model = shared.model();
            let Some(call) = model.calls.get_mut(&sid) else {
                return;
            };
            if call.status != CallStatus::InProgress {
                return;
            }
            call.answered_by = Some(verdict.answered_by.as_str().to_owned());
            call.machine_detection_ms = Some(verdict.after_ms);
            shared.note(
                &mut model,
                &sid,
                format!(
                    "answered by {} (detected in {} ms)",
                    verdict.answered_by.as_str(),
                    verdict.after_ms
                ),
            );
            if let Some(cb) = req.callback {
                webhook::enqueue(
                    &shared,
                    Outgoing {
                        kind: "amd-status",
                        url: cb.url,
                        method: cb.method,
                        params: vec![
                            ("AccountSid".to_owned(), shared.config.account_sid.clone()),
                            (
                                "AnsweredBy".to_owned(),
                                verdict.answered_by.as_str().to_owned(),
                            ),
                            ("CallSid".to_owned(), sid.clone()),
                            (
                                "MachineDetectionDuration".to_owned(),
                                verdict.after_ms.to_string(),
                            ),
                        ],
                    },
                );
            }
        });
    }

    /// Synchronous detection: listens until decided, then reports the call answered.
    async fn detect(&mut self, req: &amd::Request) -> Result<amd::Verdict, Stop> {
        self.note("answering machine detection");
        let verdict = amd::decide(&self.behaviour, req);
        self.pass(verdict.after_ms).await?;
        self.set_answered_by(verdict);
        self.with_model(|s, m| call_event(s, m, &self.sid, "answered"));
        Ok(verdict)
    }

    /// Runs the answered call. `Err` only on shutdown.
    async fn converse(&mut self) -> Result<(), ()> {
        self.answer();
        let start = self.spec.start.clone();
        let outcome = match start {
            Start::Twiml(src) => match self
                .spec
                .amd
                .clone()
                .filter(|_| self.detects_synchronously())
            {
                Some(req) => match self.detect(&req).await {
                    Ok(verdict) => {
                        let src = match src {
                            TwimlSource::Fetch {
                                url,
                                method,
                                mut extra,
                                kind,
                            } => {
                                extra.push((
                                    "MachineDetectionDuration".to_owned(),
                                    verdict.after_ms.to_string(),
                                ));
                                TwimlSource::Fetch {
                                    url,
                                    method,
                                    extra,
                                    kind,
                                }
                            }
                            inline => inline,
                        };
                        self.run_documents(src).await
                    }
                    Err(Stop::Redirect(next)) => self.run_documents(next).await,
                    Err(stop) => Err(stop),
                },
                None => self.run_documents(src).await,
            },
            Start::Conference(spec) => match self.in_conference(&spec, None).await {
                Ok(_) => Ok(()),
                Err(Stop::Redirect(src)) => self.run_documents(src).await,
                Err(Stop::Hangup) => Ok(()),
                Err(Stop::Shutdown) => Err(Stop::Shutdown),
            },
            Start::Leg { parent } => self.bridged_leg(&parent).await,
        };
        match outcome {
            Err(Stop::Shutdown) => Err(()),
            _ => Ok(()),
        }
    }

    async fn bridged_leg(&mut self, parent: &str) -> Result<(), Stop> {
        let parent_tx = self.with_model(|_, m| m.calls.get(parent).map(|c| c.signals.clone()));
        let Some(parent_tx) = parent_tx else {
            return Ok(());
        };
        let _ = parent_tx.send(Signal::LegAnswered(self.sid.clone()));
        loop {
            match self.wait_until(None).await {
                Ok(Wake::Other(Signal::ParentGone)) => return Ok(()),
                Ok(_) | Err(Stop::Redirect(_)) => {}
                Err(stop) => return Err(stop),
            }
        }
    }

    fn finish(&mut self, status: CallStatus) {
        let recording = self.recording.take();
        self.with_model(|s, m| {
            let now = s.clock.now();
            let Some(call) = m.calls.get_mut(&self.sid) else {
                return;
            };
            let duration = call.answered_at.map_or(0, |t| s.clock.sim_secs_since(t));
            call.status = status;
            call.end_time = Some(now);
            call.duration = Some(duration);
            call.date_updated = now;
            call.in_gather = false;
            let conf = call.conference_sid.clone();
            let parent = call.parent_call_sid.clone();
            let record_cb = call.record.clone().flatten();
            s.note(m, &self.sid, format!("{} ({duration}s)", status.as_str()));
            if let Some(conf) = conf {
                conference::leave(s, m, &conf, &self.sid, Leave::HungUp);
            }
            if let Some((rec, started)) = recording {
                recording::finish(s, m, &rec, started, record_cb.as_ref());
            }
            call_event(s, m, &self.sid, "completed");
            crate::devices::call_over(s, m, &self.sid);
            if let Some(parent) = parent.and_then(|p| m.calls.get(&p)) {
                let _ = parent.signals.send(Signal::LegEnded {
                    sid: self.sid.clone(),
                    status,
                    duration,
                });
            }
        });
    }

    // ---- waiting ----

    /// Waits for the deadline (or forever) while handling what happens to the call meanwhile.
    async fn wait_until(&mut self, deadline: Option<Instant>) -> Result<Wake, Stop> {
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => Ok(Wake::Elapsed),
            sig = self.rx.recv() => match sig {
                Some(Signal::Digits(d)) => {
                    self.note(format!("pressed {d}"));
                    self.keys.push_str(&d);
                    Ok(Wake::Digits)
                }
                Some(Signal::Hangup) => {
                    self.note("callee hung up");
                    Err(Stop::Hangup)
                }
                Some(Signal::End) => {
                    self.note("ended through the API");
                    Err(Stop::Hangup)
                }
                Some(Signal::Redirect(src)) => {
                    self.note("redirected through the API");
                    Err(Stop::Redirect(src))
                }
                Some(other) => Ok(Wake::Other(other)),
                None => Err(Stop::Shutdown),
            },
            _ = self.shutdown.changed() => Err(Stop::Shutdown),
        }
    }

    /// Time passes (Say, Pause, …); keys pressed meanwhile are kept for the next Gather.
    async fn pass(&mut self, sim_ms: u64) -> Result<(), Stop> {
        let deadline = self.shared.clock.deadline(sim_ms);
        loop {
            if let Wake::Elapsed = self.wait_until(Some(deadline)).await? {
                return Ok(());
            }
        }
    }

    /// A prompt that a key press interrupts. Returns whether it was interrupted.
    async fn prompt(&mut self, sim_ms: u64) -> Result<bool, Stop> {
        if !self.keys.is_empty() {
            return Ok(true);
        }
        let deadline = self.shared.clock.deadline(sim_ms);
        loop {
            match self.wait_until(Some(deadline)).await? {
                Wake::Elapsed => return Ok(false),
                Wake::Digits => return Ok(true),
                Wake::Other(_) => {}
            }
        }
    }

    // ---- TwiML ----

    async fn run_documents(&mut self, first: TwimlSource) -> Result<(), Stop> {
        let mut source = first;
        loop {
            let failed_url = match &source {
                TwimlSource::Fetch { url, .. } => self.resolve(url),
                TwimlSource::Inline(_) => None,
            };
            let mut loaded = self.load(source).await;
            if let (Err(code), Some(fallback)) = (&loaded, self.spec.fallback.clone()) {
                // Twilio asks the call's FallbackUrl once, saying what failed and why.
                self.note(format!("fallback {}", fallback.0));
                loaded = self
                    .load(TwimlSource::Fetch {
                        url: fallback.0,
                        method: fallback.1,
                        extra: vec![
                            ("ErrorCode".to_owned(), code.to_string()),
                            ("ErrorUrl".to_owned(), failed_url.unwrap_or_default()),
                        ],
                        kind: "fallback",
                    })
                    .await;
            }
            let verbs = match loaded {
                Ok(v) => v,
                Err(code) => {
                    self.with_model(|_, m| {
                        if let Some(c) = m.calls.get_mut(&self.sid) {
                            c.error_code = Some(code);
                        }
                    });
                    return Ok(());
                }
            };
            match self.run_verbs(&verbs).await {
                Ok(Flow::Goto(next)) | Err(Stop::Redirect(next)) => {
                    self.leave_conference(Leave::Redirected);
                    source = next;
                }
                Ok(Flow::Next | Flow::End) | Err(Stop::Hangup) => return Ok(()),
                Err(Stop::Shutdown) => return Err(Stop::Shutdown),
            }
        }
    }

    /// Gets and parses a document. `Err` is Twilio's error code (11200 HTTP error, 11205
    /// connection failure or timeout, 12100 parse).
    async fn load(&mut self, source: TwimlSource) -> Result<Vec<Verb>, u32> {
        let body = match source {
            TwimlSource::Inline(doc) => {
                self.doc_url = None;
                doc
            }
            TwimlSource::Fetch {
                url,
                method,
                extra,
                kind,
            } => {
                let Some(url) = self.resolve(&url) else {
                    self.note(format!("error 11200: cannot resolve URL {url:?}"));
                    return Err(11200);
                };
                let mut params = self
                    .with_model(|s, m| m.calls.get(&self.sid).map(|c| call_params(s, c)))
                    .unwrap_or_default();
                if std::mem::take(&mut self.ringing_fetch) {
                    super::set(&mut params, "CallStatus", "ringing");
                }
                params.extend(extra);
                let reply = webhook::request(
                    &self.shared,
                    Outgoing {
                        kind,
                        url: url.clone(),
                        method: method.clone(),
                        params,
                    },
                )
                .await;
                match reply {
                    Ok(r) if (200..300).contains(&r.status) => {
                        self.note(format!("fetched TwiML: {method} {url} -> {}", r.status));
                        self.doc_url = Some(url);
                        r.body
                    }
                    Ok(r) => {
                        self.note(format!("error 11200: {method} {url} -> HTTP {}", r.status));
                        return Err(11200);
                    }
                    Err(e) => {
                        self.note(format!("error 11205: {method} {url}: {e}"));
                        return Err(11205);
                    }
                }
            }
        };
        twiml::parse(&body).map_err(|e| {
            self.note(format!("error 12100: {e}"));
            12100
        })
    }

    fn resolve(&self, url: &str) -> Option<String> {
        if let Ok(abs) = Url::parse(url) {
            return Some(abs.to_string());
        }
        let base = Url::parse(self.doc_url.as_deref()?).ok()?;
        base.join(url).ok().map(|u| u.to_string())
    }

    async fn run_verbs(&mut self, verbs: &[Verb]) -> Result<Flow, Stop> {
        for verb in verbs {
            let flow = match verb {
                Verb::Say { text, loops } => {
                    self.note(format!("say {text:?}"));
                    self.leave_message(format!("say {text:?}"));
                    self.pass(say_ms(text, *loops)).await?;
                    Flow::Next
                }
                Verb::Play { loops } => {
                    self.note("play");
                    self.leave_message("play".to_owned());
                    self.pass(PLAY_MS * u64::from(*loops)).await?;
                    Flow::Next
                }
                Verb::Pause { length_s } => {
                    self.note(format!("pause {length_s}s"));
                    self.pass(length_s * 1000).await?;
                    Flow::Next
                }
                Verb::Gather(g) => self.gather(g).await?,
                Verb::Dial(d) => self.dial(d).await?,
                Verb::Record(r) => self.record(r).await?,
                Verb::Redirect { url, method } => {
                    self.note(format!("redirect {url}"));
                    Flow::Goto(TwimlSource::Fetch {
                        url: url.clone(),
                        method: method.clone(),
                        extra: Vec::new(),
                        kind: "twiml",
                    })
                }
                Verb::Hangup => {
                    self.note("hangup");
                    Flow::End
                }
                Verb::Reject { reason } => {
                    self.note(format!("reject ({reason})"));
                    Flow::End
                }
            };
            if !matches!(flow, Flow::Next) {
                return Ok(flow);
            }
        }
        self.note("end of TwiML");
        Ok(Flow::End)
    }

    /// What an answering machine records of a verb: all of it once its greeting is over, only the
    /// end of it while the greeting still plays.
    fn leave_message(&self, what: String) {
        if !amd::has_greeting(&self.behaviour) {
            return;
        }
        let greeting_ms = amd::greeting_end_ms(&self.behaviour);
        self.with_model(|s, m| {
            let Some(c) = m.calls.get_mut(&self.sid) else {
                return;
            };
            let Some(at) = c.answered_at else {
                return;
            };
            let whole = s.clock.sim_ms_since(at) >= greeting_ms;
            c.voicemail.push(VoicemailEntry { what, whole });
        });
    }

    fn set_in_gather(&self, on: bool) {
        self.with_model(|_, m| {
            if let Some(c) = m.calls.get_mut(&self.sid) {
                c.in_gather = on;
            }
        });
    }

    async fn gather(&mut self, g: &Gather) -> Result<Flow, Stop> {
        self.note("gather");
        if !self.keys_scheduled {
            self.keys_scheduled = true;
            if let Some(keys) = self.behaviour.digits.clone() {
                let tx = self.tx.clone();
                let delay = self.shared.clock.real(self.behaviour.digits_after_ms);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(Signal::Digits(keys));
                });
            }
        }
        self.set_in_gather(true);
        let collected = self.collect(g).await;
        self.set_in_gather(false);
        let (digits, finished_on) = collected?;
        self.note(format!("gathered {digits:?}"));
        let action = g.action.clone().or_else(|| self.doc_url.clone());
        // A finishOnKey pressed alone is no input: Twilio goes on to the next verb.
        let empty = digits.is_empty();
        match action {
            Some(url) if !empty || g.action_on_empty_result => {
                let mut extra = vec![("Digits".to_owned(), digits)];
                if let Some(k) = finished_on {
                    extra.push(("FinishedOnKey".to_owned(), k.to_string()));
                }
                Ok(Flow::Goto(TwimlSource::Fetch {
                    url,
                    method: g.method.clone(),
                    extra,
                    kind: "action",
                }))
            }
            _ => Ok(Flow::Next),
        }
    }

    /// Plays the prompts, then collects keys until numDigits, finishOnKey or the timeout.
    async fn collect(&mut self, g: &Gather) -> Result<(String, Option<char>), Stop> {
        for p in &g.prompts {
            let ms = match p {
                Verb::Say { text, loops } => say_ms(text, *loops),
                Verb::Play { loops } => PLAY_MS * u64::from(*loops),
                Verb::Pause { length_s } => length_s * 1000,
                _ => 0,
            };
            if self.prompt(ms).await? {
                break;
            }
        }
        let mut digits = String::new();
        let mut deadline = self.shared.clock.deadline(g.timeout_s * 1000);
        loop {
            while !self.keys.is_empty() {
                let k = self.keys.remove(0);
                if g.finish_on_key.contains(k) {
                    return Ok((digits, Some(k)));
                }
                digits.push(k);
                if g.num_digits.is_some_and(|n| digits.len() >= n) {
                    return Ok((digits, None));
                }
            }
            match self.wait_until(Some(deadline)).await? {
                Wake::Elapsed => return Ok((digits, None)),
                Wake::Digits => deadline = self.shared.clock.deadline(g.timeout_s * 1000),
                Wake::Other(_) => {}
            }
        }
    }

    async fn record(&mut self, r: &Record) -> Result<Flow, Stop> {
        self.note("record (beep)");
        let cb = r.recording_status_callback.clone();
        let (sid, started) = self.with_model(|s, m| {
            recording::start(s, m, Some(&self.sid), None, "RecordVerb", cb.as_ref())
        });
        let deadline = self
            .shared
            .clock
            .deadline(r.timeout_s.min(r.max_length_s) * 1000);
        let mut pressed = String::new();
        let mut timed_out = false;
        let outcome = loop {
            if let Some(pos) = self.keys.find(|k| r.finish_on_key.contains(k)) {
                pressed = self.keys[pos..=pos].to_owned();
                self.keys.clear();
                break Ok(());
            }
            match self.wait_until(Some(deadline)).await {
                Ok(Wake::Elapsed) => {
                    timed_out = true;
                    break Ok(());
                }
                Ok(_) => {}
                Err(stop) => break Err(stop),
            }
        };
        // The task may wake after its deadline: that lateness is not recorded sound.
        let started = if timed_out {
            started + tokio::time::Instant::now().saturating_duration_since(deadline)
        } else {
            started
        };
        let duration = self.shared.clock.sim_secs_since(started);
        self.with_model(|s, m| recording::finish(s, m, &sid, started, cb.as_ref()));
        outcome?;
        // Without an action Twilio requests the current document again, which loops unless the
        // application answers differently once the recording exists.
        match r.action.clone().or_else(|| self.doc_url.clone()) {
            Some(url) => Ok(Flow::Goto(TwimlSource::Fetch {
                url,
                method: r.method.clone(),
                extra: vec![
                    (
                        "RecordingUrl".to_owned(),
                        recording::media_url(&self.shared, &sid),
                    ),
                    ("RecordingDuration".to_owned(), duration.to_string()),
                    ("RecordingSid".to_owned(), sid),
                    ("Digits".to_owned(), pressed),
                ],
                kind: "action",
            })),
            None => Ok(Flow::Next),
        }
    }

    async fn dial(&mut self, d: &Dial) -> Result<Flow, Stop> {
        let extra = match &d.target {
            DialTarget::Conference(noun) => {
                let spec = JoinSpec {
                    conference_sid: None,
                    name: noun.name.clone(),
                    label: noun.label.clone(),
                    muted: noun.muted,
                    start_on_enter: noun.start_on_enter,
                    end_on_exit: noun.end_on_exit,
                    coaching: noun.coach.is_some(),
                    call_sid_to_coach: noun.coach.clone(),
                    beep_on_exit: noun.beep_on_exit,
                    status_callback: noun.status_callback.clone(),
                    wait: match &noun.wait {
                        Music::Url { url, method } => Music::Url {
                            url: self.resolve(url).unwrap_or_else(|| url.clone()),
                            method: method.clone(),
                        },
                        other => other.clone(),
                    },
                    record: noun
                        .record_from_start
                        .then(|| noun.recording_status_callback.clone()),
                };
                let conf_sid = self.in_conference(&spec, d.time_limit_s).await?;
                vec![
                    ("DialCallStatus".to_owned(), "completed".to_owned()),
                    ("ConferenceSid".to_owned(), conf_sid),
                ]
            }
            DialTarget::Numbers(numbers) => self.dial_numbers(d, numbers).await?,
        };
        Ok(match &d.action {
            Some(url) => Flow::Goto(TwimlSource::Fetch {
                url: url.clone(),
                method: d.method.clone(),
                extra,
                kind: "action",
            }),
            None => Flow::Next,
        })
    }

    fn leave_conference(&self, why: Leave) {
        self.with_model(|s, m| {
            if let Some(conf) = m
                .calls
                .get(&self.sid)
                .and_then(|c| c.conference_sid.clone())
            {
                conference::leave(s, m, &conf, &self.sid, why);
            }
        });
    }

    /// Joins and stays until the conference ends, the call is kicked, or the time limit.
    async fn in_conference(
        &mut self,
        spec: &JoinSpec,
        time_limit_s: Option<u64>,
    ) -> Result<String, Stop> {
        let conf_sid = self.with_model(|s, m| conference::join(s, m, &self.sid, spec));
        let waiting = self.with_model(|_, m| {
            m.conferences
                .get(&conf_sid)
                .is_some_and(|c| c.status == ConfStatus::Init)
        });
        if waiting {
            // A broken waitUrl leaves the caller in silence; the call goes on.
            let listeners = [self.sid.clone()];
            let _ = media::play(
                &self.shared,
                "wait",
                "waiting",
                &spec.wait,
                Some(&self.sid),
                Vec::new(),
                &listeners,
            )
            .await;
        }
        let deadline = time_limit_s.map(|t| self.shared.clock.deadline(t * 1000));
        loop {
            match self.wait_until(deadline).await {
                Ok(Wake::Other(Signal::ConferenceEnded | Signal::Kicked)) => return Ok(conf_sid),
                Ok(Wake::Elapsed) => {
                    self.leave_conference(Leave::HungUp);
                    return Ok(conf_sid);
                }
                Ok(_) => {}
                Err(Stop::Redirect(src)) => {
                    self.leave_conference(Leave::Redirected);
                    return Err(Stop::Redirect(src));
                }
                Err(stop) => return Err(stop),
            }
        }
    }

    async fn dial_numbers(
        &mut self,
        d: &Dial,
        numbers: &[NumberNoun],
    ) -> Result<Vec<(String, String)>, Stop> {
        let legs: Vec<String> = self.with_model(|s, m| {
            let from = d
                .caller_id
                .clone()
                .or_else(|| m.calls.get(&self.sid).map(|c| c.from.clone()))
                .unwrap_or_default();
            let mut legs = Vec::new();
            for n in numbers {
                let spec = NewCall {
                    from: from.clone(),
                    to: n.to.clone(),
                    parent: Some(self.sid.clone()),
                    direction: "outbound-dial",
                    status_callback: n.status_callback.clone(),
                    timeout_s: d.timeout_s,
                    amd: n.amd.clone(),
                    fallback: None,
                    record: None,
                    client_params: n.params.clone(),
                    start: Start::Leg {
                        parent: self.sid.clone(),
                    },
                };
                let leg = place_call(&self.shared, m, spec);
                s.note(m, &self.sid, format!("dialing {} ({leg})", n.to));
                legs.push(leg);
            }
            legs
        });
        let mut pending: HashSet<String> = legs.iter().cloned().collect();
        let mut bridged: Option<String> = None;
        let mut deadline: Option<Instant> = None;
        let mut dial_recording: Option<(String, Instant)> = None;
        let (status, leg, duration) = loop {
            match self.wait_until(deadline).await {
                Ok(Wake::Other(Signal::LegAnswered(leg)))
                    if bridged.is_none() && pending.contains(&leg) =>
                {
                    self.with_model(|s, m| {
                        for other in pending.iter().filter(|o| **o != leg) {
                            if let Some(c) = m.calls.get(other) {
                                let _ = c.signals.send(Signal::End);
                            }
                        }
                        s.note(m, &self.sid, format!("bridged with {leg}"));
                        if d.record {
                            dial_recording = Some(recording::start(
                                s,
                                m,
                                Some(&self.sid),
                                None,
                                "DialVerb",
                                d.recording_status_callback.as_ref(),
                            ));
                        }
                    });
                    deadline = d.time_limit_s.map(|t| self.shared.clock.deadline(t * 1000));
                    bridged = Some(leg);
                }
                Ok(Wake::Other(Signal::LegEnded {
                    sid,
                    status,
                    duration,
                })) => {
                    pending.remove(&sid);
                    if bridged.as_deref() == Some(sid.as_str()) {
                        break (CallStatus::Completed, sid, duration);
                    }
                    if bridged.is_none() && pending.is_empty() {
                        break (status, sid, 0);
                    }
                }
                Ok(Wake::Elapsed) => {
                    deadline = None;
                    self.tell_legs(&pending, &Signal::ParentGone);
                }
                Ok(_) => {}
                Err(stop) => {
                    self.tell_legs(&pending, &Signal::ParentGone);
                    if let Some((rec, started)) = dial_recording.take() {
                        self.with_model(|s, m| {
                            recording::finish(
                                s,
                                m,
                                &rec,
                                started,
                                d.recording_status_callback.as_ref(),
                            )
                        });
                    }
                    return Err(stop);
                }
            }
        };
        if let Some((rec, started)) = dial_recording.take() {
            self.with_model(|s, m| {
                recording::finish(s, m, &rec, started, d.recording_status_callback.as_ref())
            });
        }
        self.note(format!("dial ended: {}", status.as_str()));
        Ok(vec![
            ("DialCallStatus".to_owned(), status.as_str().to_owned()),
            ("DialCallSid".to_owned(), leg),
            ("DialCallDuration".to_owned(), duration.to_string()),
            ("DialBridged".to_owned(), bridged.is_some().to_string()),
        ])
    }

    fn tell_legs(&self, legs: &HashSet<String>, signal: &Signal) {
        self.with_model(|_, m| {
            for leg in legs {
                if let Some(c) = m.calls.get(leg) {
                    let _ = c.signals.send(signal.clone());
                }
            }
        });
    }
}
