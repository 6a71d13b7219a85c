//! Collapsing queued rows of one key into one delivery, where that loses nothing.

use crate::store::OutboxRow;

/// What to deliver for a claimed row: the payload of the last row it stands in for, and the
/// ids of the later rows that delivery also settles.
#[derive(Debug, Clone, PartialEq)]
pub struct Coalesced<'a> {
    pub payload: &'a serde_json::Value,
    pub followers: Vec<String>,
}

/// Starts at `head` and takes each following row (in order) while it supersedes everything taken
/// so far: same kind, and `supersedes(later, earlier)` for the payloads. Delivering only the last
/// row then leaves the destination as delivering each in turn would. The first row that does not
/// supersede stops the run; it and the rows after it are delivered later, in order.
pub fn coalesce<'a>(
    head: &'a OutboxRow,
    followers: &'a [OutboxRow],
    supersedes: impl Fn(&serde_json::Value, &serde_json::Value) -> bool,
) -> Coalesced<'a> {
    let mut last = head;
    let mut taken = Vec::new();
    for next in followers {
        if next.key != head.key
            || next.kind != head.kind
            || next.seq <= last.seq
            || !supersedes(&next.payload, &last.payload)
        {
            break;
        }
        taken.push(next.id.clone());
        last = next;
    }
    Coalesced {
        payload: &last.payload,
        followers: taken,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::{Value, json};

    use super::*;
    use crate::store::OutboxStatus;

    fn row(seq: i64, kind: &str, payload: Value) -> OutboxRow {
        OutboxRow {
            id: format!("row{seq}"),
            kind: kind.into(),
            key: "recA".into(),
            seq,
            payload,
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: Utc::now(),
            claimed_by: None,
            claimed_until: None,
            uncertain: false,
            last_error: None,
            created_at: Utc::now(),
        }
    }

    /// Supersedes when it names at least every field the earlier one named.
    fn covers(later: &Value, earlier: &Value) -> bool {
        let (Some(later), Some(earlier)) = (later.as_object(), earlier.as_object()) else {
            return false;
        };
        earlier.keys().all(|k| later.contains_key(k))
    }

    #[test]
    fn a_run_of_superseding_rows_collapses_into_the_last() {
        let head = row(1, "u", json!({"a": 1}));
        let rest = [
            row(2, "u", json!({"a": 2, "b": 1})),
            row(3, "u", json!({"a": 3, "b": 2})),
        ];
        let c = coalesce(&head, &rest, covers);
        assert_eq!(c.payload, &json!({"a": 3, "b": 2}));
        assert_eq!(c.followers, ["row2", "row3"]);
    }

    #[test]
    fn a_row_that_does_not_supersede_stops_the_run() {
        let head = row(1, "u", json!({"a": 1, "b": 1}));
        let rest = [
            row(2, "u", json!({"a": 2})),
            row(3, "u", json!({"a": 3, "b": 3})),
        ];
        let c = coalesce(&head, &rest, covers);
        assert_eq!(c.payload, &json!({"a": 1, "b": 1}));
        assert!(c.followers.is_empty());
    }

    #[test]
    fn another_kind_is_never_merged() {
        let head = row(1, "u", json!({"a": 1}));
        let rest = [row(2, "mark", json!({"a": 2}))];
        let c = coalesce(&head, &rest, covers);
        assert_eq!(c.payload, &json!({"a": 1}));
        assert!(c.followers.is_empty());
    }
}
