use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn minimal() -> RawSettings {
    RawSettings {
        twilio_account_sid: Some("AC00000000000000000000000000000000".into()),
        twilio_auth_token: Some("token".into()),
        caller_id: Some("+14155550100".into()),
        jwt_secret: Some(SECRET.into()),
        ..RawSettings::default()
    }
}

fn error_of(raw: RawSettings) -> String {
    Settings::from_raw(raw).unwrap_err().to_string()
}

#[test]
fn minimal_settings_take_the_documented_defaults() {
    let s = Settings::from_raw(minimal()).unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(s.public_base_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(s.database_url.expose_secret(), "sqlite://callbridge.db");
    assert_eq!(s.destinations.describe(), "CA, US");
    assert_eq!(s.sms_regions, s.destinations.renamed("ALLOWED_SMS_REGIONS"));
    assert_eq!(s.sms_per_hour, 100);
    assert!(s.allowed_email_domains.is_empty() && !s.open_signup);
    assert_eq!(s.calls_per_second, 1.0);
    assert_eq!(s.call_token_ttl, Duration::from_secs(90 * 86_400));
    assert_eq!(s.agent_silence, AgentSilence::Connect);
    assert_eq!(s.log_format, LogFormat::Pretty);
    assert!(s.twilio.api_key.is_none() && s.airtable.is_none() && s.metrics_bind.is_none());
}

#[test]
fn missing_auth_token_names_the_variable_and_where_to_find_it() {
    let raw = RawSettings {
        twilio_auth_token: None,
        ..minimal()
    };
    assert_eq!(
        error_of(raw),
        "TWILIO_AUTH_TOKEN is not set: set it to your account's auth token (Console → Account info)"
    );
}

#[test]
fn short_jwt_secret_says_how_long_and_how_to_make_one() {
    let raw = RawSettings {
        jwt_secret: Some("twelve bytes".into()),
        ..minimal()
    };
    assert_eq!(
        error_of(raw),
        "JWT_SECRET must be at least 32 bytes (got 12): generate one with `openssl rand -base64 32`"
    );
}

#[test]
fn blank_values_count_as_unset() {
    let raw = RawSettings {
        twilio_auth_token: Some("  ".into()),
        ..minimal()
    };
    assert!(error_of(raw).starts_with("TWILIO_AUTH_TOKEN is not set"));
}

#[test]
fn seed_names_are_accepted() {
    let raw = RawSettings {
        twilio_account_sid: None,
        twilio_auth_token: None,
        account_sid: Some("AC11111111111111111111111111111111".into()),
        auth_token: Some("seed-token".into()),
        domain_name: Some("calls.example.com".into()),
        ..minimal()
    };
    let s = Settings::from_raw(raw).unwrap();
    assert_eq!(s.twilio.account_sid, "AC11111111111111111111111111111111");
    assert_eq!(s.twilio.auth_token.expose_secret(), "seed-token");
    assert_eq!(s.public_base_url.as_str(), "https://calls.example.com/");
}

#[test]
fn our_names_win_over_seed_names() {
    let raw = RawSettings {
        auth_token: Some("seed".into()),
        public_base_url: Some("https://ours.example.com".into()),
        domain_name: Some("seed.example.com".into()),
        ..minimal()
    };
    let s = Settings::from_raw(raw).unwrap();
    assert_eq!(s.twilio.auth_token.expose_secret(), "token");
    assert_eq!(s.public_base_url.host_str(), Some("ours.example.com"));
}

#[test]
fn debug_output_redacts_every_secret() {
    let raw = RawSettings {
        twilio_api_key: Some("SKkey".into()),
        twilio_api_secret: Some("api-secret-value".into()),
        airtable_token: Some("airtable-secret-value".into()),
        airtable_base_id: Some("appX".into()),
        airtable_table: Some("Leads".into()),
        database_url: Some("postgres://u:db-password@h/db".into()),
        twilio_auth_token: Some("auth-token-value".into()),
        ..minimal()
    };
    let debug = format!("{:?}", Settings::from_raw(raw).unwrap());
    for secret in [
        "auth-token-value",
        SECRET,
        "api-secret-value",
        "airtable-secret-value",
        "db-password",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("SKkey"));
}

#[test]
fn each_bad_value_is_reported_against_its_variable() {
    let cases: Vec<(RawSettings, &str)> = vec![
        (
            RawSettings {
                caller_id: Some("555".into()),
                ..minimal()
            },
            "CALLER_ID is not usable",
        ),
        (
            RawSettings {
                caller_id: None,
                ..minimal()
            },
            "CALLER_ID is not set",
        ),
        (
            RawSettings {
                twilio_account_sid: Some("XY1".into()),
                ..minimal()
            },
            "TWILIO_ACCOUNT_SID must start with AC",
        ),
        (
            RawSettings {
                twilio_account_sid: None,
                ..minimal()
            },
            "TWILIO_ACCOUNT_SID is not set",
        ),
        (
            RawSettings {
                jwt_secret: None,
                ..minimal()
            },
            "JWT_SECRET is not set",
        ),
        (
            RawSettings {
                bind: Some("localhost".into()),
                ..minimal()
            },
            "BIND must be",
        ),
        (
            RawSettings {
                metrics_bind: Some("nope".into()),
                ..minimal()
            },
            "METRICS_BIND must be",
        ),
        (
            RawSettings {
                public_base_url: Some("ftp://x".into()),
                ..minimal()
            },
            "PUBLIC_BASE_URL must be an http(s) URL",
        ),
        (
            RawSettings {
                database_url: Some("mysql://x".into()),
                ..minimal()
            },
            "DATABASE_URL is not supported",
        ),
        (
            RawSettings {
                allowed_destinations: Some("US,44".into()),
                ..minimal()
            },
            "ALLOWED_DESTINATIONS has \"44\", which is neither an ISO region",
        ),
        (
            RawSettings {
                allowed_destinations: Some("+1".into()),
                ..minimal()
            },
            "ALLOWED_DESTINATIONS has the prefix +1, which 25 regions share (AG, AI, AS,",
        ),
        (
            RawSettings {
                allowed_sms_regions: Some("XX".into()),
                ..minimal()
            },
            "ALLOWED_SMS_REGIONS has \"XX\", which is neither an ISO region",
        ),
        (
            RawSettings {
                sms_per_hour: Some("0".into()),
                ..minimal()
            },
            "SMS_PER_HOUR must be a whole number above zero",
        ),
        (
            RawSettings {
                open_signup: Some("yes".into()),
                ..minimal()
            },
            "OPEN_SIGNUP must be 1 or 0",
        ),
        (
            RawSettings {
                allowed_email_domains: Some("example.com,bad domain".into()),
                ..minimal()
            },
            "ALLOWED_EMAIL_DOMAINS has an invalid domain",
        ),
        (
            RawSettings {
                twilio_api_key: Some("SKx".into()),
                ..minimal()
            },
            "TWILIO_API_SECRET is not set",
        ),
        (
            RawSettings {
                twilio_api_secret: Some("s".into()),
                ..minimal()
            },
            "TWILIO_API_KEY is not set",
        ),
        (
            RawSettings {
                verify_service_sid: Some("IS1".into()),
                ..minimal()
            },
            "VERIFY_SERVICE_SID must start with VA",
        ),
        (
            RawSettings {
                airtable_token: Some("t".into()),
                ..minimal()
            },
            "AIRTABLE_BASE_ID is not set",
        ),
        (
            RawSettings {
                calls_per_second: Some("0".into()),
                ..minimal()
            },
            "CALLS_PER_SECOND must be a number above zero",
        ),
        (
            RawSettings {
                call_token_ttl: Some("forever".into()),
                ..minimal()
            },
            "CALL_TOKEN_TTL is wrong",
        ),
        (
            RawSettings {
                agent_silence: Some("wait".into()),
                ..minimal()
            },
            "AGENT_SILENCE must be connect or hangup",
        ),
        (
            RawSettings {
                log_format: Some("xml".into()),
                ..minimal()
            },
            "LOG_FORMAT must be json or pretty",
        ),
    ];
    for (raw, expected) in cases {
        let err = error_of(raw);
        assert!(
            err.starts_with(expected),
            "expected {expected:?}, got {err:?}"
        );
        assert!(!err.contains('\n'), "{err:?} is more than one line");
    }
}

#[test]
fn lists_are_trimmed_and_normalised() {
    let raw = RawSettings {
        allowed_email_domains: Some(" Example.com, @corp.example.org ,".into()),
        allowed_destinations: Some(" us, +1415 ,CA".into()),
        allowed_sms_regions: Some("gb".into()),
        call_token_ttl: Some("12h".into()),
        agent_silence: Some("hangup".into()),
        log_format: Some("json".into()),
        ..minimal()
    };
    let s = Settings::from_raw(raw).unwrap();
    assert_eq!(s.allowed_email_domains, ["example.com", "corp.example.org"]);
    assert_eq!(s.destinations.describe(), "CA, US, +1415");
    assert_eq!(s.sms_regions.describe(), "GB");
    assert_eq!(s.call_token_ttl, Duration::from_secs(12 * 3600));
    assert_eq!(s.agent_silence, AgentSilence::Hangup);
    assert_eq!(s.log_format, LogFormat::Json);
}

#[test]
fn allow_lists_decide_domains_and_destinations() {
    let raw = RawSettings {
        allowed_email_domains: Some("example.com".into()),
        allowed_destinations: Some("GB".into()),
        ..minimal()
    };
    let s = Settings::from_raw(raw).unwrap();
    assert!(s.email_domain_allowed(&EmailAddress::parse("a@example.com").unwrap()));
    assert!(!s.email_domain_allowed(&EmailAddress::parse("a@evil.com").unwrap()));
    let call = crate::destinations::Use::Call;
    let london = PhoneNumber::parse("+442079460958").unwrap();
    assert!(s.destinations.check(&london, call).is_ok());
    let sf = PhoneNumber::parse("+14155550100").unwrap();
    assert!(s.destinations.check(&sf, call).is_err());
    assert!(s.signup_chosen().is_ok());
    let open = Settings::from_raw(minimal()).unwrap();
    assert!(open.email_domain_allowed(&EmailAddress::parse("a@any.org").unwrap()));
}

#[test]
fn an_empty_domain_list_needs_open_signup_said_out_loud() {
    let closed = Settings::from_raw(minimal()).unwrap();
    assert_eq!(
        closed.signup_chosen().unwrap_err().to_string(),
        "ALLOWED_EMAIL_DOMAINS is empty, which lets anyone sign up: set it to the domains \
         allowed to sign up (e.g. example.com), or set OPEN_SIGNUP=1 to let anyone"
    );
    let open = Settings::from_raw(RawSettings {
        open_signup: Some("1".into()),
        ..minimal()
    })
    .unwrap();
    assert!(open.signup_chosen().is_ok());
}

#[test]
fn public_urls_join_without_double_slashes() {
    let raw = RawSettings {
        public_base_url: Some("https://calls.example.com/base/".into()),
        ..minimal()
    };
    let s = Settings::from_raw(raw).unwrap();
    assert_eq!(
        s.public_url("/phone-to-phone/status?x=1"),
        "https://calls.example.com/base/phone-to-phone/status?x=1"
    );
}

#[test]
fn trust_proxy_counts_the_proxies_in_front() {
    assert_eq!(Settings::from_raw(minimal()).unwrap().trust_proxy, 0);
    for (raw, want) in [("0", 0), ("1", 1), ("true", 1), ("false", 0), ("3", 3)] {
        let settings = RawSettings {
            trust_proxy: Some(raw.into()),
            ..minimal()
        };
        assert_eq!(
            Settings::from_raw(settings).unwrap().trust_proxy,
            want,
            "{raw}"
        );
    }
    for raw in ["yes please", "-1", "17"] {
        let bad = RawSettings {
            trust_proxy: Some(raw.into()),
            ..minimal()
        };
        let err = Settings::from_raw(bad).unwrap_err();
        assert!(err.to_string().starts_with("TRUST_PROXY"), "{err}");
    }
}

#[test]
fn hold_music_is_our_own_unless_a_url_is_named() {
    let ours = Settings::from_raw(minimal()).unwrap();
    assert_eq!(
        ours.hold_music_url(),
        "http://127.0.0.1:8080/phone-to-phone/hold-music"
    );
    let named = Settings::from_raw(RawSettings {
        hold_music_url: Some("https://music.example.com/hold.xml".into()),
        ..minimal()
    })
    .unwrap();
    assert_eq!(named.hold_music_url(), "https://music.example.com/hold.xml");
    let wrong = error_of(RawSettings {
        hold_music_url: Some("ftp://music.example.com/hold".into()),
        ..minimal()
    });
    assert!(wrong.contains("HOLD_MUSIC_URL"), "{wrong}");
}
