//! The SQLite store's rows as SQLite's own API hands them over, for the reads and writes that
//! call it directly (`store/sqlite/native.rs`); each reads its table's columns in the order of
//! that table's `*_COLUMNS`.

use rusqlite::Row;

use super::{AgentRow, CallRow, EventRow, LegRow, RecordingRow};

/// A row decoded from a statement that selected its table's columns, in their order.
pub(in crate::store) trait FromNative: Sized {
    fn from_native(row: &Row<'_>) -> rusqlite::Result<Self>;
}

impl FromNative for AgentRow<String, i64> {
    fn from_native(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            email: row.get(1)?,
            email_verified_at: row.get(2)?,
            phone: row.get(3)?,
            phone_verified_at: row.get(4)?,
            token_version: row.get(5)?,
            revoked_at: row.get(6)?,
            record_by_default: row.get(7)?,
            default_mode: row.get(8)?,
            created_at: row.get(9)?,
            updated_at: row.get(10)?,
        })
    }
}

impl FromNative for CallRow<String, i64> {
    fn from_native(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            agent_id: row.get(1)?,
            mode: row.get(2)?,
            state: row.get(3)?,
            reason: row.get(4)?,
            label: row.get(5)?,
            recipient: row.get(6)?,
            agent_number: row.get(7)?,
            conference_name: row.get(8)?,
            conference_sid: row.get(9)?,
            record: row.get(10)?,
            created_at: row.get(11)?,
            updated_at: row.get(12)?,
            ended_at: row.get(13)?,
            duration_secs: row.get(14)?,
        })
    }
}

impl FromNative for LegRow<String, i64> {
    fn from_native(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            call_id: row.get(0)?,
            role: row.get(1)?,
            call_sid: row.get(2)?,
            status: row.get(3)?,
            number: row.get(4)?,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
            duration_secs: row.get(7)?,
        })
    }
}

impl FromNative for EventRow<String, i64, String> {
    fn from_native(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            call_id: row.get(1)?,
            source: row.get(2)?,
            kind: row.get(3)?,
            call_sid: row.get(4)?,
            dedupe_key: row.get(5)?,
            sequence_number: row.get(6)?,
            payload: row.get(7)?,
            received_at: row.get(8)?,
        })
    }
}

impl FromNative for RecordingRow<String, i64> {
    fn from_native(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            sid: row.get(0)?,
            call_id: row.get(1)?,
            conference_sid: row.get(2)?,
            status: row.get(3)?,
            duration_secs: row.get(4)?,
            url: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
        })
    }
}
