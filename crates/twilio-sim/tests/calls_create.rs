//! What `Calls.create` refuses, with Twilio's codes: a ring timeout out of range, and the numbers
//! of Twilio's test credentials that stand for unreachable destinations and invalid callers.

mod common;

use common::Harness;

async fn refused(h: &Harness, form: &[(&str, &str)]) -> (u16, u64) {
    let mut full = vec![("Twiml", "<Response/>")];
    full.extend_from_slice(form);
    let (status, body) = h.post(&h.api("/Calls.json"), &full).await;
    (status, body["code"].as_u64().unwrap_or_default())
}

async fn calls_placed(h: &Harness) -> usize {
    let (_, page) = h.get(&h.api("/Calls.json")).await;
    page["calls"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_ring_timeout_must_be_one_to_six_hundred_seconds() {
    let h = Harness::start().await;
    for bad in ["0", "601"] {
        let got = refused(
            &h,
            &[
                ("To", "+15550910001"),
                ("From", "+15005550006"),
                ("Timeout", bad),
            ],
        )
        .await;
        assert_eq!(got, (400, 20001), "Timeout={bad}");
    }
    assert_eq!(calls_placed(&h).await, 0);
    for ok in ["1", "600"] {
        let (status, _) = refused(
            &h,
            &[
                ("To", "+15550910001"),
                ("From", "+15005550006"),
                ("Timeout", ok),
            ],
        )
        .await;
        assert_eq!(status, 201, "Timeout={ok}");
    }
    h.sim.shutdown().await;
}

#[tokio::test]
async fn test_credential_numbers_are_refused_with_their_documented_codes() {
    let h = Harness::start().await;
    for (to, from, code) in [
        ("+15005550001", "+15005550006", 21217),
        ("+15005550002", "+15005550006", 21214),
        ("+15005550003", "+15005550006", 21215),
        ("+15005550004", "+15005550006", 21216),
        ("+15550911001", "+15005550001", 21212),
        ("15550911001", "+15005550006", 21211),
    ] {
        let got = refused(&h, &[("To", to), ("From", from)]).await;
        assert_eq!(got, (400, code), "To={to} From={from}");
    }
    assert_eq!(calls_placed(&h).await, 0, "nothing refused was placed");
    let (status, _) = refused(&h, &[("To", "+15005550006"), ("From", "+15005550006")]).await;
    assert_eq!(status, 201, "the valid magic number is callable");
    h.sim.shutdown().await;
}
