//! Conversions between domain values and the portable column types.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{StoreError, StoreResult};

pub(super) fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn now_ms() -> i64 {
    to_ms(Utc::now())
}

pub(super) fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// `$first, $first+1, …` for an `IN (…)` list of `n` values.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads typed columns from one row, naming the table in any error.
pub(super) struct Columns<'r> {
    row: &'r AnyRow,
    table: &'static str,
}

impl<'r> Columns<'r> {
    pub(super) fn new(row: &'r AnyRow, table: &'static str) -> Self {
        Self { row, table }
    }

    fn corrupt(&self, column: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            detail: format!("{column}: {detail}"),
        }
    }

    pub(super) fn text(&self, column: &str) -> StoreResult<String> {
        self.row
            .try_get::<String, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    pub(super) fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.row
            .try_get::<Option<String>, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    pub(super) fn int(&self, column: &str) -> StoreResult<i64> {
        self.row
            .try_get::<i64, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    pub(super) fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        self.row
            .try_get::<Option<i64>, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    pub(super) fn flag(&self, column: &str) -> StoreResult<bool> {
        Ok(self.int(column)? != 0)
    }

    pub(super) fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        let ms = self.int(column)?;
        DateTime::from_timestamp_millis(ms).ok_or_else(|| self.corrupt(column, ms))
    }

    pub(super) fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.opt_int(column)?
            .map(|ms| DateTime::from_timestamp_millis(ms).ok_or_else(|| self.corrupt(column, ms)))
            .transpose()
    }

    /// Any column held as text that parses into a domain type.
    pub(super) fn parsed<T>(&self, column: &str) -> StoreResult<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let raw = self.text(column)?;
        raw.parse().map_err(|e| self.corrupt(column, e))
    }

    pub(super) fn opt_parsed<T>(&self, column: &str) -> StoreResult<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.opt_text(column)?
            .map(|raw| raw.parse().map_err(|e| self.corrupt(column, e)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_count_from_the_first_index() {
        assert_eq!(placeholders(6, 3), "$6, $7, $8");
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(3, 0), "");
    }
}
