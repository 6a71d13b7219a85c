//! `callbridge webhook sign|verify`: the same computation Twilio does, for debugging 403s.

mod body_file;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use twilio::signature::{SignatureError, SignedUrl};

use self::body_file::Body;

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
    /// The raw body (`-` for stdin): a form (`a=1&b=2`, as a request log shows it) is read as
    /// the parameters; a JSON body is signed through the URL's bodySHA256 parameter instead.
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

impl RequestArgs {
    /// What the signature covers besides the URL: the `--param`s, or the body file's content.
    fn signed(&self) -> Result<Body, String> {
        match &self.body_file {
            Some(path) => Ok(Body::classify(&self.url, read_body(path)?)),
            None => Ok(Body::Form(self.params.clone())),
        }
    }
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
    match request.signed()? {
        Body::Hashed(body) => {
            let (url, signature) =
                twilio::signature::sign_body(&request.auth_token, &request.url, &body);
            println!("URL: {url}");
            println!("X-Twilio-Signature: {signature}");
        }
        Body::Form(params) => {
            println!(
                "{}",
                twilio::signature::sign(&request.auth_token, &request.url, &params)
            );
        }
    }
    Ok(())
}

fn verify(args: &VerifyArgs) -> Result<(), String> {
    let request = &args.request;
    let signed = request.signed()?;
    let (token, signature, url) = (&request.auth_token, &args.signature, &request.url);
    let found = match &signed {
        Body::Hashed(body) => {
            twilio::signature::find_signed_url_with_body(token, signature, url, body)
        }
        Body::Form(params) => twilio::signature::find_signed_url(token, signature, url, params),
    };
    match found {
        Ok(found) => {
            println!("{}", explain_valid(&found));
            Ok(())
        }
        Err(reason) => Err(explain_invalid(request, &signed, &reason)),
    }
}

/// `valid`, then which form of the URL the signature is of, and whether callbridge itself
/// would take it.
fn explain_valid(found: &SignedUrl) -> String {
    let mut lines = vec![
        "valid".to_owned(),
        format!(
            "signed URL: {} ({})",
            found.variant.url,
            found.variant.describe()
        ),
    ];
    if found.distinct_values {
        lines
            .push("a repeated parameter value was signed once, as twilio-node signs it".to_owned());
    }
    if !found.variant.accepted_by_check() {
        lines.push(
            "note: callbridge's own webhook check tries only the URL as given, with and without \
             its port, so it answers this request 403: Twilio signed its URL written otherwise \
             than PUBLIC_BASE_URL and the path it requested"
                .to_owned(),
        );
    }
    lines.join("\n")
}

/// Everything a person needs to spot the difference with what Twilio signed.
fn explain_invalid(request: &RequestArgs, signed: &Body, reason: &SignatureError) -> String {
    let mut lines = Vec::new();
    match reason {
        SignatureError::Mismatch { .. } => {
            lines.push(
                "invalid: signature mismatch: none of the URL variants below gives this \
                 signature; check the auth token, that the URL is exactly the one Twilio \
                 requested (scheme, host, path and query) and that every POST parameter is \
                 included"
                    .to_owned(),
            );
            lines.push("URL variants tried, as Twilio's helper libraries write them:".to_owned());
            for variant in twilio::signature::library_url_variants(&request.url) {
                lines.push(format!("  {} ({})", variant.url, variant.describe()));
            }
        }
        other => lines.push(format!("invalid: {other}")),
    }
    match signed {
        Body::Form(params) => {
            let mut sorted = params.clone();
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
        }
        Body::Hashed(body) => {
            if let Some(hint) = trailing_newline_hint(reason, body) {
                lines.push(hint);
            }
        }
    }
    if matches!(reason, SignatureError::Mismatch { .. }) {
        let params = match signed {
            Body::Form(params) => params.as_slice(),
            Body::Hashed(_) => &[],
        };
        lines.push(format!(
            "with this auth token, {} signs as {}",
            request.url,
            twilio::signature::sign(&request.auth_token, &request.url, params)
        ));
    }
    lines.join("\n")
}

/// A file saved by an editor or `echo` ends with a newline the request's body did not have.
fn trailing_newline_hint(reason: &SignatureError, body: &[u8]) -> Option<String> {
    let SignatureError::BodyHashMismatch { expected, .. } = reason else {
        return None;
    };
    let trimmed = body.strip_suffix(b"\n")?;
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    (twilio::signature::body_sha256_hex(trimmed) == expected.to_ascii_lowercase()).then(|| {
        "the body without the file's final newline has that hash: the request's body did not end with one".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn request(url: &str) -> RequestArgs {
        RequestArgs {
            auth_token: "12345".into(),
            url: url.into(),
            params: vec![],
            body_file: None,
        }
    }

    fn params() -> Vec<(String, String)> {
        vec![
            ("Digits".into(), "1234".into()),
            ("CallSid".into(), "CA1".into()),
        ]
    }

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
    fn explanation_lists_the_variants_sorted_params_and_the_expected_signature() {
        let request = request(URL);
        let reason = SignatureError::Mismatch { tried: vec![] };
        let text = explain_invalid(&request, &Body::Form(params()), &reason);
        let lines: Vec<_> = text.lines().collect();
        assert!(
            lines[0].starts_with("invalid: signature mismatch"),
            "{text}"
        );
        assert_eq!(
            lines[1],
            "URL variants tried, as Twilio's helper libraries write them:"
        );
        assert_eq!(lines[2], format!("  {URL} (the URL as given)"));
        assert_eq!(
            lines[3],
            "  https://mycompany.com:443/myapp.php?foo=1&bar=2 (the URL as given, with the port)"
        );
        assert_eq!(
            lines[4],
            "parameters, sorted as signed: CallSid=CA1, Digits=1234"
        );
        assert!(lines[5].ends_with(&twilio::signature::sign("12345", URL, &params())));
        assert_eq!(lines.len(), 6, "{text}");
    }

    #[test]
    fn a_valid_signature_names_the_variant_and_whether_callbridge_takes_it() {
        let signed = "https://example.com/path?test=param%27WithQuote";
        let signature = twilio::signature::sign("s3cr3t", signed, &[]);
        let given = "https://example.com/path?test=param'WithQuote";
        let found = twilio::signature::find_signed_url("s3cr3t", &signature, given, &[]).unwrap();
        let text = explain_valid(&found);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "valid");
        assert!(
            lines[1].starts_with(&format!("signed URL: {signed} (")),
            "{text}"
        );
        assert!(
            lines[2].starts_with("note: callbridge's own webhook check"),
            "{text}"
        );

        let found = twilio::signature::find_signed_url("s3cr3t", &signature, signed, &[]).unwrap();
        assert_eq!(
            explain_valid(&found),
            format!("valid\nsigned URL: {signed} (the URL as given)")
        );
    }

    #[test]
    fn a_body_saved_with_a_final_newline_is_pointed_out() {
        let body = b"{\"a\": 1}";
        let reason = SignatureError::BodyHashMismatch {
            expected: twilio::signature::body_sha256_hex(body),
            actual: String::new(),
        };
        let mut saved = body.to_vec();
        saved.push(b'\n');
        let text = explain_invalid(&request(URL), &Body::Hashed(saved), &reason);
        assert!(text.contains("final newline"), "{text}");
        let text = explain_invalid(&request(URL), &Body::Hashed(body.to_vec()), &reason);
        assert!(!text.contains("final newline"), "{text}");
    }
}
