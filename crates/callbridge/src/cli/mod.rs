//! The `callbridge` command line. `main.rs` only parses and hands over to [`run`].

mod check;
#[cfg(feature = "simulator")]
mod demo;
mod serve;
mod setup;
#[cfg(feature = "simulator")]
mod sim;
mod users;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status of a command whose configuration is wrong, as opposed to one that failed.
const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "callbridge",
    version,
    about = "Outbound conference calls on Twilio Voice: click-to-call without Flex."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (settings from the environment or .env).
    Serve(Box<serve::ServeArgs>),
    /// Create or update the database schema, then exit.
    Migrate(MigrateArgs),
    /// Compute or check X-Twilio-Signature values, to debug webhooks refused with 403.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// List agents, show one with its audit log, revoke, invite or promote one.
    Users(users::UsersArgs),
    #[cfg(feature = "simulator")]
    /// Run a full demo offline: SQLite and the built-in Twilio simulator, no account needed.
    Demo(demo::DemoArgs),
    #[cfg(feature = "simulator")]
    /// Run the Twilio simulator on its own, to point a `callbridge serve` at.
    Sim(sim::SimArgs),
    /// Create (or find again) what the service needs in a Twilio account, and write `.env`.
    Setup(Box<setup::SetupArgs>),
    /// Check the configuration `serve` would use against Twilio and the database, without
    /// placing a call; exits 1 when something must be fixed.
    Check(Box<check::CheckArgs>),
    /// Print the OpenAPI 3.1 document that `serve` answers at /openapi.json.
    Openapi,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// sqlite://path or postgres://… [default: sqlite://callbridge.db]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Webhook(command) => webhook::run(command),
        Command::Users(args) => users::run(args).await,
        #[cfg(feature = "simulator")]
        Command::Demo(args) => demo::run(args).await,
        #[cfg(feature = "simulator")]
        Command::Sim(args) => sim::run(args).await,
        Command::Check(args) => check::run(*args).await,
        Command::Setup(args) => setup::run(*args).await,
        Command::Openapi => {
            println!("{}", crate::http::openapi_document());
            ExitCode::SUCCESS
        }
    }
}

async fn migrate(args: MigrateArgs) -> ExitCode {
    let url = match crate::config::database_url(args.database_url) {
        Ok(url) => url,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match crate::store::open(&url).await {
        Ok(store) => {
            println!("database is up to date ({})", store.backend().as_str());
            store.close().await;
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn webhook_sign_takes_repeated_params() {
        let cli = Cli::try_parse_from([
            "callbridge",
            "webhook",
            "sign",
            "--auth-token",
            "t",
            "--url",
            "https://x.example/a",
            "--param",
            "A=1",
            "--param",
            "B=x=y",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Webhook(_)));
    }
}
