//! When the clocks of several zones all show a time inside the calling hours. Each zone's open
//! stretches are found in UTC, in whole seconds, from the offsets it keeps between its changes,
//! so that a change (DST) that skips or repeats an edge of the hours counts as the clock shows
//! it; the stretches of all the zones are then intersected. Hours start and end on whole
//! minutes and offsets change on whole seconds, so the second `now` falls in decides.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::Window;

const DAY: i64 = 86_400;
/// Looked at first: an open stretch never lasts a day, so one that has begun by now ends in it.
const SOON: i64 = 8 * DAY;
/// How far ahead an opening is sought before the answer is `Never`.
const HORIZON: i64 = 400 * DAY;
/// Zones change their offset weeks or months apart: sampling a zone this often and bisecting
/// between two samples that differ finds every change.
const STEP: i64 = 6 * 3600;

/// The seconds `[from, to)` since the epoch.
type Stretch = (i64, i64);

/// The window at the second `now` for hours `(start, end)` in seconds after midnight.
pub(super) fn window(hours: (i64, i64), zones: &[Tz], now: i64) -> Window {
    let last = DateTime::<Utc>::MAX_UTC.timestamp();
    let until = |ahead: i64| now.saturating_add(ahead).min(last);
    if let Some(&(opens, closes)) = open_in_all(hours, zones, now, until(SOON)).first() {
        return if opens == now {
            Window::Open {
                closes: instant(closes),
            }
        } else {
            Window::Closed {
                opens: instant(opens),
            }
        };
    }
    match open_in_all(hours, zones, now, until(HORIZON)).first() {
        Some(&(opens, _)) => Window::Closed {
            opens: instant(opens),
        },
        None => Window::Never,
    }
}

/// The stretches of `[from, to)` in which every zone's clock is inside the hours; none for no
/// zone at all, whose clock is unknown.
fn open_in_all(hours: (i64, i64), zones: &[Tz], from: i64, to: i64) -> Vec<Stretch> {
    let mut zones = zones.iter();
    let Some(&first) = zones.next() else {
        return Vec::new();
    };
    let mut open = open_in(first, hours, from, to);
    for &zone in zones {
        if open.is_empty() {
            break;
        }
        open = intersect(&open, &open_in(zone, hours, from, to));
    }
    open
}

/// The stretches of `[from, to)` in which `zone`'s clock is inside the hours, in order, none
/// touching the next.
fn open_in(zone: Tz, (start, end): (i64, i64), from: i64, to: i64) -> Vec<Stretch> {
    let mut open: Vec<Stretch> = Vec::new();
    for (piece, offset) in constant_offsets(zone, from, to) {
        let first_day = (piece.0 + offset).div_euclid(DAY);
        let last_day = (piece.1 - 1 + offset).div_euclid(DAY);
        for day in first_day..=last_day {
            let midnight = day * DAY - offset;
            let stretch = (
                (midnight + start).max(piece.0),
                (midnight + end).min(piece.1),
            );
            if stretch.0 >= stretch.1 {
                continue;
            }
            // Across a change that keeps the clock inside the hours, the stretch goes on.
            match open.last_mut() {
                Some(previous) if previous.1 >= stretch.0 => previous.1 = previous.1.max(stretch.1),
                _ => open.push(stretch),
            }
        }
    }
    open
}

/// `[from, to)` cut where `zone`'s offset changes, each piece with its offset in seconds.
fn constant_offsets(zone: Tz, from: i64, to: i64) -> Vec<(Stretch, i64)> {
    let mut pieces = Vec::new();
    let (mut piece_start, mut offset) = (from, offset_at(zone, from));
    let mut sample = from;
    while sample < to {
        let next = sample.saturating_add(STEP).min(to);
        if offset_at(zone, next) == offset {
            sample = next;
            continue;
        }
        let change = first_change(zone, sample, next, offset);
        pieces.push(((piece_start, change), offset));
        (piece_start, offset, sample) = (change, offset_at(zone, change), change);
    }
    if piece_start < to {
        pieces.push(((piece_start, to), offset));
    }
    pieces
}

/// The first second after `before` whose offset is not `offset`, given that `before` has it and
/// `after` does not.
fn first_change(zone: Tz, mut before: i64, mut after: i64, offset: i64) -> i64 {
    while after - before > 1 {
        let mid = before + (after - before) / 2;
        if offset_at(zone, mid) == offset {
            before = mid;
        } else {
            after = mid;
        }
    }
    after
}

fn offset_at(zone: Tz, second: i64) -> i64 {
    let offset = zone.offset_from_utc_datetime(&instant(second).naive_utc());
    offset.fix().local_minus_utc().into()
}

/// Every second handled lies between `now` and the last instant chrono represents.
fn instant(second: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(second, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The stretches in both lists, each in order and none touching the next.
fn intersect(a: &[Stretch], b: &[Stretch]) -> Vec<Stretch> {
    let (mut i, mut j) = (0, 0);
    let mut both = Vec::new();
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        let stretch = (x.0.max(y.0), x.1.min(y.1));
        if stretch.0 < stretch.1 {
            both.push(stretch);
        }
        if x.1 < y.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    both
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersecting_keeps_only_what_both_lists_cover() {
        let a = [(0, 10), (20, 30), (40, 50)];
        let b = [(5, 25), (29, 41)];
        assert_eq!(intersect(&a, &b), [(5, 10), (20, 25), (29, 30), (40, 41)]);
        assert!(intersect(&a, &[]).is_empty());
        assert!(intersect(&[(0, 5)], &[(5, 10)]).is_empty());
    }

    #[test]
    fn a_zone_without_changes_is_one_piece() {
        let pieces = constant_offsets(Tz::Asia__Tokyo, 1_767_225_600, 1_767_225_600 + SOON);
        assert_eq!(pieces, [((1_767_225_600, 1_767_225_600 + SOON), 9 * 3600)]);
    }

    #[test]
    fn a_change_is_found_to_the_second() {
        // New York springs forward at 2026-03-08 07:00 UTC.
        let change = 1_772_953_200;
        let pieces = constant_offsets(Tz::America__New_York, change - DAY, change + DAY);
        assert_eq!(
            pieces,
            [
                ((change - DAY, change), -5 * 3600),
                ((change, change + DAY), -4 * 3600)
            ]
        );
    }

    #[test]
    fn no_zone_is_never_open() {
        assert_eq!(window((0, 3600), &[], 0), Window::Never);
    }
}
