use super::*;

fn number(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw).unwrap()
}

fn us_ca() -> Policy {
    Policy::parse("ALLOWED_DESTINATIONS", "US,CA").unwrap()
}

#[test]
fn listed_regions_pass_and_caribbean_plus_one_numbers_are_their_own_regions() {
    let policy = us_ca();
    for ok in [
        "+14155550100",
        "+12025550123",
        "+16135550123",
        "+18005551212",
    ] {
        assert_eq!(policy.check(&number(ok), Use::Call), Ok(()), "{ok}");
    }
    let refusal = policy
        .check(&number("+18762345678"), Use::Call)
        .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "JM is not in ALLOWED_DESTINATIONS (allowed: CA, US)"
    );
    for caribbean in ["+18092345678", "+12684601234", "+14734401234"] {
        assert!(
            matches!(
                policy.check(&number(caribbean), Use::Call),
                Err(Refusal::Region { .. })
            ),
            "{caribbean}"
        );
    }
}

#[test]
fn costly_kinds_of_line_are_refused_whatever_the_list_says() {
    let policy = Policy::parse("ALLOWED_DESTINATIONS", "US,GB").unwrap();
    assert_eq!(
        policy
            .check(&number("+19002345678"), Use::Call)
            .unwrap_err()
            .to_string(),
        "premium-rate numbers are never dialled"
    );
    assert_eq!(
        policy
            .check(&number("+449012345678"), Use::Sms)
            .unwrap_err()
            .to_string(),
        "premium-rate numbers are never texted"
    );
    assert!(matches!(
        policy.check(&number("+448712345678"), Use::Call),
        Err(Refusal::Kind { .. })
    ));
    // Guernsey mobiles dial as +44 but are GG, not GB.
    assert_eq!(
        policy
            .check(&number("+447781123456"), Use::Call)
            .unwrap_err()
            .to_string(),
        "GG is not in ALLOWED_DESTINATIONS (allowed: GB, US)"
    );
}

#[test]
fn prefixes_add_numbers_but_a_shared_calling_code_is_refused() {
    let policy = Policy::parse("ALLOWED_DESTINATIONS", "+1876").unwrap();
    assert_eq!(policy.check(&number("+18762345678"), Use::Call), Ok(()));
    assert!(policy.check(&number("+14155550100"), Use::Call).is_err());
    for shared in ["+1", "+44", "+7"] {
        let err = Policy::parse("ALLOWED_DESTINATIONS", shared).unwrap_err();
        assert!(err.contains("regions share"), "{shared}: {err}");
    }
    assert!(Policy::parse("ALLOWED_DESTINATIONS", "+33").is_ok());
    for bad in ["", " , ", "USA", "ZZ", "+", "+1x"] {
        assert!(
            Policy::parse("ALLOWED_DESTINATIONS", bad).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn numbers_the_tests_and_demo_use_are_north_american_lines() {
    // The fictional 555-01xx range and Twilio's test numbers parse as valid NANP numbers whose
    // kind the plan leaves open (fixed line or mobile); they are ordinary US lines here.
    for n in [
        "+14155550100",
        "+12025550123",
        "+14155550123",
        "+14158675309",
    ] {
        let line = number(n).line();
        assert_eq!(line.region.as_deref(), Some("US"), "{n}");
        assert!(kind_allowed(line.kind), "{n}: {line:?}");
    }
}
