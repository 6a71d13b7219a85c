//! `callbridge webhook sign|verify`: the same computation Twilio does, for debugging 403s.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Print the X-Twilio-Signature Twilio would send for this request.
    Sign(SignArgs),
    /// Check an X-Twilio-Signature; exits 0 when valid, 1 (saying why) when not.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The account's auth token (the signing key).
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    auth_token: String,
    /// The full URL Twilio requested, query string included.
    #[arg(long)]
    url: String,
    /// A form parameter of the POST body, as NAME=VALUE; repeat for each one.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param, conflicts_with = "body_file")]
    params: Vec<(String, String)>,
    /// A JSON body (`-` for stdin): signed through the URL's bodySHA256 parameter instead.
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    request: RequestArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    request: RequestArgs,
    /// The X-Twilio-Signature header value received.
    #[arg(long)]
    signature: String,
}

fn parse_param(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{raw:?} is not NAME=VALUE"))
}

fn read_body(path: &PathBuf) -> Result<Vec<u8>, String> {
    let read = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map(String::into_bytes)
    } else {
        std::fs::read(path)
    };
    read.map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub(super) fn run(command: WebhookCommand) -> ExitCode {
    let outcome = match command {
        WebhookCommand::Sign(args) => sign(&args.request),
        WebhookCommand::Verify(args) => verify(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn sign(request: &RequestArgs) -> Result<(), String> {
    match &request.body_file {
        Some(path) => {
            let body = read_body(path)?;
            let (url, signature) =
                twilio::signature::sign_body(&request.auth_token, &request.url, &body);
            println!("URL: {url}");
            println!("X-Twilio-Signature: {signature}");
        }
        None => {
            println!(
                "{}",
                twilio::signature::sign(&request.auth_token, &request.url, &request.params)
            );
        }
    }
    Ok(())
}

fn verify(args: &VerifyArgs) -> Result<(), String> {
    let request = &args.request;
    let checked = match &request.body_file {
        Some(path) => {
            let body = read_body(path)?;
            twilio::signature::check_body(&request.auth_token, &args.signature, &request.url, &body)
        }
        None => twilio::signature::check(
            &request.auth_token,
            &args.signature,
            &request.url,
            &request.params,
        ),
    };
    match checked {
        Ok(()) => {
            println!("valid");
            Ok(())
        }
        Err(reason) => Err(explain_invalid(request, &reason.to_string())),
    }
}

/// Everything a person needs to spot the difference with what Twilio signed.
fn explain_invalid(request: &RequestArgs, reason: &str) -> String {
    let mut lines = vec![format!("invalid: {reason}")];
    if request.body_file.is_none() {
        let mut sorted = request.params.clone();
        sorted.sort();
        let listed = if sorted.is_empty() {
            "(none)".to_owned()
        } else {
            sorted
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        lines.push(format!("parameters, sorted as signed: {listed}"));
        lines.push(format!(
            "with this auth token, {} signs as {}",
            request.url,
            twilio::signature::sign(&request.auth_token, &request.url, &request.params)
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_split_at_the_first_equals_sign() {
        assert_eq!(parse_param("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(
            parse_param("empty=").unwrap(),
            ("empty".into(), String::new())
        );
        assert!(parse_param("novalue").is_err());
    }

    #[test]
    fn explanation_lists_sorted_params_and_the_expected_signature() {
        let request = RequestArgs {
            auth_token: "12345".into(),
            url: "https://mycompany.com/myapp.php?foo=1&bar=2".into(),
            params: vec![
                ("Digits".into(), "1234".into()),
                ("CallSid".into(), "CA1".into()),
            ],
            body_file: None,
        };
        let text = explain_invalid(&request, "signature mismatch");
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "invalid: signature mismatch");
        assert_eq!(
            lines[1],
            "parameters, sorted as signed: CallSid=CA1, Digits=1234"
        );
        assert!(lines[2].ends_with(&twilio::signature::sign(
            "12345",
            &request.url,
            &request.params
        )));
    }
}
