use chrono::{TimeDelta, TimeZone};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

fn number(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw).unwrap()
}

fn hours(text: &str) -> CallingHours {
    text.parse().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn open(closes: &str) -> Window {
    Window::Open { closes: at(closes) }
}

fn closed(opens: &str) -> Window {
    Window::Closed { opens: at(opens) }
}

/// Whether `zone`'s clock shows a time inside `hours` at `instant`, read through chrono-tz
/// rather than through the stretches the module computes.
fn inside(hours: CallingHours, zone: Tz, instant: DateTime<Utc>) -> bool {
    let local = zone.from_utc_datetime(&instant.naive_utc()).time();
    hours.start <= local && local < hours.end
}

fn inside_all(hours: CallingHours, number: &PhoneNumber, instant: DateTime<Utc>) -> bool {
    let zones = time_zones::for_number(number);
    !zones.is_empty() && zones.iter().all(|&zone| inside(hours, zone, instant))
}

#[test]
fn the_default_is_eight_in_the_morning_to_nine_at_night() {
    assert_eq!(CallingHours::default(), hours("08:00-21:00"));
    assert_eq!(CallingHours::default().to_string(), "08:00-21:00");
}

#[test]
fn reads_the_notations_people_write() {
    for text in [
        "08:00-21:00",
        "8:00-21:00",
        "08:00–21:00",
        " 08:00 - 21:00 ",
    ] {
        assert_eq!(hours(text), CallingHours::default(), "{text:?}");
    }
    assert_eq!(hours("0:00-23:59").to_string(), "00:00-23:59");
    assert_eq!(hours("9:30-17:45").to_string(), "09:30-17:45");
}

#[test]
fn refuses_what_is_not_a_window_within_one_day_and_says_why() {
    let refused = |text: &str| text.parse::<CallingHours>().unwrap_err();
    for shape in ["", "08:00", "08:00 21:00", "8 to 9"] {
        assert_eq!(
            refused(shape),
            CallingHoursError::Shape(shape.into()),
            "{shape:?}"
        );
    }
    for (text, time) in [
        ("8-21", "8"),
        ("24:00-25:00", "24:00"),
        ("08:60-21:00", "08:60"),
        ("08:0-21:00", "08:0"),
        ("008:00-21:00", "008:00"),
        ("08:00-21:00-22:00", "21:00-22:00"),
        ("+8:00-21:00", "+8:00"),
        ("08:00-", ""),
        ("-08:00", ""),
    ] {
        assert_eq!(
            refused(text),
            CallingHoursError::Time(time.into()),
            "{text:?}"
        );
    }
    for order in ["21:00-08:00", "08:00-08:00", "22:00-06:00"] {
        assert_eq!(
            refused(order),
            CallingHoursError::Order(order.into()),
            "{order:?}"
        );
    }
    assert_eq!(
        refused("21:00-08:00").to_string(),
        "calling hours \"21:00-08:00\" do not start before they end: they lie within one day, \
         like 08:00-21:00"
    );
    assert_eq!(
        refused("8h-21h").to_string(),
        "\"8h\" is not a time of day like 08:00 or 21:30"
    );
}

#[test]
fn travels_in_json_as_its_text() {
    let json = serde_json::to_string(&hours("9:00-17:30")).unwrap();
    assert_eq!(json, "\"09:00-17:30\"");
    assert_eq!(
        serde_json::from_str::<CallingHours>(&json).unwrap(),
        hours("09:00-17:30")
    );
    let err = serde_json::from_str::<CallingHours>("\"21:00-08:00\"").unwrap_err();
    assert!(
        err.to_string().contains("do not start before they end"),
        "{err}"
    );
    assert!(serde_json::from_str::<CallingHours>("800").is_err());
}

#[test]
fn new_york_in_winter_opens_at_eight_and_closes_at_nine_eastern_standard_time() {
    let new_york = number("+12125550123");
    let hours = CallingHours::default();
    assert_eq!(
        hours.window(&new_york, at("2026-01-15T12:59:59.999Z")),
        closed("2026-01-15T13:00:00Z")
    );
    assert_eq!(
        hours.window(&new_york, at("2026-01-15T13:00:00Z")),
        open("2026-01-16T02:00:00Z")
    );
    assert_eq!(
        hours.window(&new_york, at("2026-01-16T01:59:59.5Z")),
        open("2026-01-16T02:00:00Z")
    );
    assert_eq!(
        hours.window(&new_york, at("2026-01-16T02:00:00Z")),
        closed("2026-01-16T13:00:00Z")
    );
}

#[test]
fn los_angeles_honolulu_and_toronto_keep_their_own_clocks() {
    let hours = CallingHours::default();
    let noon_in_new_york = at("2026-07-01T16:00:00Z");
    assert_eq!(
        hours.window(&number("+14155550100"), noon_in_new_york),
        open("2026-07-02T04:00:00Z")
    );
    // Honolulu keeps standard time all year: 08:00 is 18:00 UTC.
    assert_eq!(
        hours.window(&number("+18085550123"), noon_in_new_york),
        closed("2026-07-01T18:00:00Z")
    );
    assert_eq!(
        hours.window(&number("+14165550123"), noon_in_new_york),
        open("2026-07-02T01:00:00Z")
    );
}

#[test]
fn united_states_dst_days_move_the_window_by_an_hour() {
    let new_york = number("+12125550123");
    let hours = CallingHours::default();
    // 2026-03-08: 02:00 EST becomes 03:00 EDT. Saturday closed at 21:00 EST, Sunday opens at
    // 08:00 EDT and closes at 21:00 EDT.
    assert_eq!(
        hours.window(&new_york, at("2026-03-08T02:00:00Z")),
        closed("2026-03-08T12:00:00Z")
    );
    assert_eq!(
        hours.window(&new_york, at("2026-03-08T12:00:00Z")),
        open("2026-03-09T01:00:00Z")
    );
    // 2026-11-01: 02:00 EDT becomes 01:00 EST; Sunday opens at 08:00 EST.
    assert_eq!(
        hours.window(&new_york, at("2026-11-01T01:00:00Z")),
        closed("2026-11-01T13:00:00Z")
    );
    assert_eq!(
        hours.window(&new_york, at("2026-11-01T13:00:00Z")),
        open("2026-11-02T02:00:00Z")
    );
}

#[test]
fn european_dst_days_move_the_window_by_an_hour() {
    let london = number("+442079460958");
    let berlin = number("+493012345678");
    let hours = CallingHours::default();
    // 2026-03-29 at 01:00 UTC Europe moves its clocks forward.
    assert_eq!(
        hours.window(&london, at("2026-03-28T21:00:00Z")),
        closed("2026-03-29T07:00:00Z")
    );
    assert_eq!(
        hours.window(&berlin, at("2026-03-28T20:00:00Z")),
        closed("2026-03-29T06:00:00Z")
    );
    assert_eq!(
        hours.window(&london, at("2026-03-29T07:00:00Z")),
        open("2026-03-29T20:00:00Z")
    );
    // 2026-10-25 at 01:00 UTC they go back.
    assert_eq!(
        hours.window(&london, at("2026-10-24T20:00:00Z")),
        closed("2026-10-25T08:00:00Z")
    );
    assert_eq!(
        hours.window(&berlin, at("2026-10-25T07:00:00Z")),
        open("2026-10-25T20:00:00Z")
    );
}

#[test]
fn hours_starting_in_the_skipped_hour_open_when_the_clock_jumps_past_their_start() {
    // 02:30 never happens in New York on 2026-03-08: at 07:00 UTC the clock goes from 02:00
    // straight to 03:00, inside 02:30-05:00, which then ends at 05:00 EDT.
    let new_york = number("+12125550123");
    assert_eq!(
        hours("02:30-05:00").window(&new_york, at("2026-03-08T06:59:59Z")),
        closed("2026-03-08T07:00:00Z")
    );
    assert_eq!(
        hours("02:30-05:00").window(&new_york, at("2026-03-08T07:00:00Z")),
        open("2026-03-08T09:00:00Z")
    );
}

#[test]
fn hours_in_the_repeated_hour_close_and_open_again_when_the_clock_is_set_back() {
    // 01:00-01:30 happens twice in New York on 2026-11-01: in EDT from 05:00 UTC and in EST
    // from 06:00 UTC.
    let new_york = number("+12125550123");
    let hours = hours("01:00-01:30");
    assert_eq!(
        hours.window(&new_york, at("2026-11-01T05:00:00Z")),
        open("2026-11-01T05:30:00Z")
    );
    assert_eq!(
        hours.window(&new_york, at("2026-11-01T05:30:00Z")),
        closed("2026-11-01T06:00:00Z")
    );
    assert_eq!(
        hours.window(&new_york, at("2026-11-01T06:00:00Z")),
        open("2026-11-01T06:30:00Z")
    );
}

#[test]
fn sydney_and_perth_numbers_are_told_apart_and_the_west_is_judged_by_both_its_zones() {
    let hours = CallingHours::default();
    let sydney = number("+61291234567");
    // In January Sydney keeps AEDT (+11): 08:00 is 21:00 UTC the day before.
    assert_eq!(
        hours.window(&sydney, at("2026-01-15T20:00:00Z")),
        closed("2026-01-15T21:00:00Z")
    );
    // Area code 08 is Perth (+8) or Adelaide (+10:30 in January): open from 08:00 in Perth
    // (00:00 UTC) to 21:00 in Adelaide (10:30 UTC).
    let west = number("+61892345678");
    assert_eq!(
        hours.window(&west, at("2026-01-15T20:00:00Z")),
        closed("2026-01-16T00:00:00Z")
    );
    assert_eq!(
        hours.window(&west, at("2026-01-16T00:00:00Z")),
        open("2026-01-16T10:30:00Z")
    );
}

#[test]
fn a_mobile_that_may_be_anywhere_in_australia_waits_for_every_zone() {
    // From the Cocos Islands (+6:30, 08:00 at 01:30 UTC) to Sydney and Lord Howe (+11 in
    // January, 21:00 at 10:00 UTC).
    let mobile = number("+61412345678");
    let hours = CallingHours::default();
    assert_eq!(
        hours.window(&mobile, at("2026-01-15T01:00:00Z")),
        closed("2026-01-15T01:30:00Z")
    );
    assert_eq!(
        hours.window(&mobile, at("2026-01-15T01:30:00Z")),
        open("2026-01-15T10:00:00Z")
    );
}

#[test]
fn hours_that_fit_the_zones_only_outside_dst_wait_for_dst_to_end() {
    // 08:00-12:15 spans 4 h 15 min; Australia's zones lie 4 h 30 min apart while the south-east
    // keeps DST and 4 h apart after it ends on 2026-04-05, when the window first opens.
    let mobile = number("+61412345678");
    let hours = hours("08:00-12:15");
    assert_eq!(
        hours.window(&mobile, at("2026-01-15T00:00:00Z")),
        closed("2026-04-05T01:30:00Z")
    );
    assert_eq!(
        hours.window(&mobile, at("2026-04-05T01:30:00Z")),
        open("2026-04-05T01:45:00Z")
    );
}

#[test]
fn zones_too_far_apart_for_the_hours_are_never_open() {
    // A toll-free number may ring anywhere from Guam (+10) round to Newfoundland (-3:30, -2:30
    // in summer): clocks at least 10 h 30 min apart, too far for eight hours.
    let now = at("2026-06-01T12:00:00Z");
    assert_eq!(
        hours("09:00-17:00").window(&number("+18005551212"), now),
        Window::Never
    );
    assert_eq!(
        hours("08:00-09:00").window(&number("+61412345678"), now),
        Window::Never
    );
    let international = PhoneNumber::from_stored("+80012345678".into()).unwrap();
    assert_eq!(
        CallingHours::default().window(&international, now),
        Window::Never
    );
}

#[test]
fn the_ends_of_time_do_not_panic() {
    let london = number("+442079460958");
    for now in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
        for hours in [CallingHours::default(), hours("00:00-23:59")] {
            let _ = hours.window(&london, now);
        }
    }
}

fn any_number() -> impl Strategy<Value = PhoneNumber> {
    prop_oneof![
        4 => "\\+1[2-9][0-9]{2}[2-9][0-9]{6}",
        2 => "\\+61[2-478][0-9]{8}",
        2 => "\\+55[1-9][1-9]9?[0-9]{8}",
        1 => "\\+52[1-9][0-9]{9}",
        2 => "\\+7[3489][0-9]{9}",
        1 => "\\+62[2-9][0-9]{7,10}",
        1 => "\\+44[1-7][0-9]{9}",
        1 => "\\+(49|33|34|351|81|86|91|64|27)[1-9][0-9]{7,9}",
    ]
    .prop_filter_map("a valid number", |raw| PhoneNumber::parse(&raw).ok())
}

fn any_hours() -> impl Strategy<Value = CallingHours> {
    (0u32..1440, 0u32..1440)
        .prop_filter("a window", |(a, b)| a != b)
        .prop_map(|(a, b)| {
            let (start, end) = (a.min(b), a.max(b));
            format!(
                "{:02}:{:02}-{:02}:{:02}",
                start / 60,
                start % 60,
                end / 60,
                end % 60
            )
            .parse()
            .unwrap()
        })
}

/// 1900 to 2200, to the nanosecond.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    (-2_208_988_800i64..7_258_118_400, 0u32..1_000_000_000)
        .prop_map(|(seconds, nanos)| DateTime::from_timestamp(seconds, nanos).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_window_agrees_with_every_zones_clock(
        number in any_number(),
        hours in prop_oneof![Just(CallingHours::default()), any_hours()],
        now in any_instant(),
    ) {
        let second = TimeDelta::seconds(1);
        match hours.window(&number, now) {
            Window::Open { closes } => {
                prop_assert!(closes > now);
                prop_assert!(inside_all(hours, &number, now));
                prop_assert!(inside_all(hours, &number, closes - second));
                prop_assert!(!inside_all(hours, &number, closes));
            }
            Window::Closed { opens } => {
                prop_assert!(opens > now);
                prop_assert!(!inside_all(hours, &number, now));
                prop_assert!(!inside_all(hours, &number, opens - second));
                prop_assert!(inside_all(hours, &number, opens));
                let open_then = matches!(hours.window(&number, opens), Window::Open { .. });
                prop_assert!(open_then);
            }
            Window::Never => {
                for half_hours in 0..48 {
                    let then = now + TimeDelta::minutes(30 * half_hours);
                    prop_assert!(!inside_all(hours, &number, then));
                }
            }
        }
    }

    #[test]
    fn hours_read_back_what_they_write(hours in any_hours()) {
        prop_assert_eq!(hours.to_string().parse::<CallingHours>(), Ok(hours));
        let json = serde_json::to_string(&hours).unwrap();
        prop_assert_eq!(serde_json::from_str::<CallingHours>(&json).unwrap(), hours);
    }

    #[test]
    fn reading_any_text_never_panics_and_what_it_reads_reads_back(text in "\\PC{0,16}") {
        if let Ok(hours) = text.parse::<CallingHours>() {
            prop_assert!(hours.start < hours.end);
            prop_assert_eq!(hours.to_string().parse::<CallingHours>(), Ok(hours));
        }
    }
}
