use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;

use super::EXIT_CONFIG;
use twilio_sim::{DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SimConfig, SimEvent};

pub const DEFAULT_SIM_BIND: &str = "127.0.0.1:8090";

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Where to listen.
    #[arg(long, default_value = DEFAULT_SIM_BIND)]
    bind: SocketAddr,
    /// The one account the simulator knows.
    #[arg(long, default_value = DEFAULT_ACCOUNT_SID)]
    account_sid: String,
    /// REST password for that account, and the key every webhook is signed with.
    #[arg(long, default_value = DEFAULT_AUTH_TOKEN)]
    auth_token: String,
    /// 1 is real time; 0.1 runs every ring, prompt and pause ten times faster.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// The account's calls per second, as Twilio limits it: API calls beyond it wait `queued`.
    #[arg(long, default_value_t = 1.0)]
    cps: f64,
    /// Delay each status callback by a random 0 to this many milliseconds, which reorders them.
    #[arg(long, default_value_t = 0)]
    webhook_jitter_ms: u64,
    /// Probability (0 to 1) that a webhook is delivered twice, as Twilio's retries do.
    #[arg(long, default_value_t = 0.0)]
    webhook_duplicate_rate: f64,
    /// Probability (0 to 1) that a status callback is held back until the next webhook of its
    /// call has gone out, so that the two arrive swapped.
    #[arg(long, default_value_t = 0.0)]
    webhook_reorder_rate: f64,
}

impl SimArgs {
    fn config(self) -> SimConfig {
        SimConfig {
            account_sid: self.account_sid,
            auth_token: self.auth_token,
            time_scale: self.time_scale,
            calls_per_second: Some(self.cps),
            webhook_jitter_ms: self.webhook_jitter_ms,
            webhook_duplicate_rate: self.webhook_duplicate_rate,
            webhook_reorder_rate: self.webhook_reorder_rate,
            ..SimConfig::default()
        }
    }
}

/// Runs the simulator until Ctrl-C, printing how to point callbridge at it and then each call's
/// progress as it happens.
pub(super) async fn run(args: SimArgs) -> ExitCode {
    let bind = args.bind;
    let config = args.config();
    let listener = match TcpListener::bind(bind).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {bind}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let caller_id = config.incoming_numbers.first().cloned();
    let sim = match twilio_sim::Sim::serve(config, listener).await {
        Ok(sim) => sim,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for line in banner(&sim, caller_id.as_deref()) {
        println!("{line}");
    }
    let mut events = sim.subscribe();
    let stopped = crate::startup::shutdown_signal();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            event = events.recv() => match event {
                Ok(event) => {
                    if let Some(line) = timeline_line(&event) {
                        println!("{line}");
                    }
                }
                Err(RecvError::Lagged(n)) => println!("… {n} events not shown"),
                Err(RecvError::Closed) => break,
            },
        }
    }
    sim.shutdown().await;
    ExitCode::SUCCESS
}

fn banner(sim: &twilio_sim::Sim, caller_id: Option<&str>) -> Vec<String> {
    let base = sim.base_url().as_str().trim_end_matches('/').to_owned();
    let caller_id = caller_id
        .map(|n| format!("  CALLER_ID={n}   (a number the simulator owns)"))
        .unwrap_or_default();
    vec![
        format!("simulated Twilio listening at {base}"),
        String::new(),
        "Point callbridge at it with:".to_owned(),
        format!("  TWILIO_BASE_URL={base}"),
        format!("  TWILIO_ACCOUNT_SID={}", sim.account_sid()),
        format!("  TWILIO_AUTH_TOKEN={}", sim.auth_token()),
        format!(
            "  VERIFY_SERVICE_SID=VA{}   (any VA… works)",
            "0".repeat(32)
        ),
        caller_id,
        String::new(),
        format!(
            "Control API: {base}/sim/calls, {base}/sim/verifications?to=…, PUT {base}/sim/numbers/+1…"
        ),
        format!("Voice SDK for web pages: <script src=\"{base}/sim/voice-sdk.js\">"),
        "Calls appear below as they happen; Ctrl-C stops.".to_owned(),
    ]
}

/// One line per call or conference event; webhooks only when they failed, verifications with
/// the code a person would have received.
fn timeline_line(event: &SimEvent) -> Option<String> {
    Some(match event {
        SimEvent::Call { at, sid, to, event } => {
            format!("{}  call {sid} to {to}: {event}", time_of(at))
        }
        SimEvent::Conference {
            at,
            name,
            event,
            call_sid,
            ..
        } => {
            let who = call_sid
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            format!("{}  conference {name}: {event}{who}", time_of(at))
        }
        SimEvent::Webhook {
            at,
            kind,
            url,
            status,
        } => match status {
            Some(code) if (200..300).contains(code) => return None,
            Some(code) => format!("{}  webhook {kind} {url} answered {code}", time_of(at)),
            None => format!("{}  webhook {kind} {url} failed", time_of(at)),
        },
        SimEvent::Verification {
            at,
            to,
            channel,
            code,
        } => format!(
            "{}  verification code {code} sent by {channel} to {to}",
            time_of(at)
        ),
    })
}

/// `HH:MM:SS.mmm` of an RFC 3339 time; the date adds nothing while watching live.
fn time_of(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|_| at.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_short_and_skip_successful_webhooks() {
        let call = SimEvent::Call {
            at: "2025-03-14T09:26:01.250Z".into(),
            sid: "CA1".into(),
            to: "+14155550123".into(),
            event: "ringing".into(),
        };
        assert_eq!(
            timeline_line(&call).unwrap(),
            "09:26:01.250  call CA1 to +14155550123: ringing"
        );
        let ok = SimEvent::Webhook {
            at: "2025-03-14T09:26:01Z".into(),
            kind: "status".into(),
            url: "http://x/status".into(),
            status: Some(200),
        };
        assert!(timeline_line(&ok).is_none());
        let refused = SimEvent::Webhook {
            at: "2025-03-14T09:26:01Z".into(),
            kind: "status".into(),
            url: "http://x/status".into(),
            status: Some(403),
        };
        assert!(timeline_line(&refused).unwrap().ends_with("answered 403"));
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn parse(args: &[&str]) -> SimConfig {
        use clap::Parser as _;
        let mut argv = vec!["sim"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().sim.config()
    }

    #[test]
    fn flags_set_pacing_and_webhook_chaos_with_twilios_cps_by_default() {
        let plain = parse(&[]);
        assert_eq!(plain.calls_per_second, Some(1.0));
        assert_eq!(plain.webhook_jitter_ms, 0);
        assert_eq!(plain.webhook_duplicate_rate, 0.0);
        assert_eq!(plain.webhook_reorder_rate, 0.0);
        let chaos = parse(&[
            "--cps",
            "5",
            "--webhook-jitter-ms",
            "40",
            "--webhook-duplicate-rate",
            "0.25",
            "--webhook-reorder-rate",
            "0.5",
        ]);
        assert_eq!(chaos.calls_per_second, Some(5.0));
        assert_eq!(chaos.webhook_jitter_ms, 40);
        assert_eq!(chaos.webhook_duplicate_rate, 0.25);
        assert_eq!(chaos.webhook_reorder_rate, 0.5);
    }

    #[test]
    fn an_unparsable_time_is_shown_as_given() {
        assert_eq!(time_of("soon"), "soon");
    }
}
