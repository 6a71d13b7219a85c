use std::process::ExitCode;
use std::time::Duration;

use crate::demo::scenario::Scenario;
use crate::demo::{DEFAULT_TALK, DEFAULT_TIME_SCALE, DemoOptions};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Which outcome to show.
    #[arg(long, value_enum, default_value_t = Scenario::Happy)]
    scenario: Scenario,
    /// Real seconds per simulated second: 0.25 plays a minute of ringing in 15 s.
    #[arg(long, default_value_t = DEFAULT_TIME_SCALE, value_parser = positive)]
    time_scale: f64,
    /// How long the agent and the customer talk, in real seconds.
    #[arg(long, default_value_t = DEFAULT_TALK.as_secs())]
    talk_secs: u64,
    /// Instead of a scenario: the web app on the simulator, for a browser, until Ctrl-C.
    #[arg(long)]
    web: bool,
    /// Where `--web` listens.
    #[arg(long, default_value = "127.0.0.1:8080", requires = "web")]
    bind: std::net::SocketAddr,
}

fn positive(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{raw:?} is not a positive number")),
    }
}

/// Exit 0 only when the call ended as the scenario says it should.
pub(super) async fn run(args: DemoArgs) -> ExitCode {
    if args.web {
        return match crate::demo::web(args.bind).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let options = DemoOptions {
        scenario: args.scenario,
        time_scale: args.time_scale,
        talk: Duration::from_secs(args.talk_secs),
    };
    match crate::demo::run(&options).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
