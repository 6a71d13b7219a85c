use std::process::ExitCode;

use super::EXIT_CONFIG;
use crate::config::{RawSettings, Settings};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    settings: RawSettings,
}

pub(super) async fn run(args: ServeArgs) -> ExitCode {
    // Checked before logging starts, so a bad setting is one plain line and nothing else.
    let settings =
        match Settings::from_raw(args.settings).and_then(|s| s.signup_chosen().map(|()| s)) {
            Ok(settings) => settings,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
    crate::telemetry::init(settings.log_format);
    match crate::startup::launch(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "callbridge stopped");
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
