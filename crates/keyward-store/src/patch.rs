//! Patch-shaped updates: `update <table> set <only the changed columns> where id = $1`.
//!
//! A patch names each column it changes with its new value; columns it does not name are not
//! written. So an update never writes back a value it only read, and two concurrent updates of
//! different columns of one row both survive — read-modify-write of a whole row would let the
//! second overwrite the first with what it had read (a lost update on any backend that runs two
//! writers at once, as PostgreSQL does).

use sqlx::AssertSqlSafe;

use crate::{AsConn, StoreResult, on_conn, rows_affected};

/// A column's new value, in the portable types keyward stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
}

/// The changed columns of one row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    columns: Vec<(&'static str, Value)>,
}

impl Changes {
    pub fn set(&mut self, column: &'static str, value: Value) {
        debug_assert!(
            !self.columns.iter().any(|(c, _)| *c == column),
            "column {column} set twice in one patch"
        );
        self.columns.push((column, value));
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// `update <table> set a = $2, b = $3 where id = $1`: placeholders only, never data.
    fn sql(&self, table: &str) -> String {
        let sets: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (column, _))| format!("{column} = ${}", i + 2))
            .collect();
        format!("update {table} set {} where id = $1", sets.join(", "))
    }

    /// Writes the changed columns of row `id` of `table`; returns whether a row matched. An empty
    /// patch writes nothing and reports a match.
    pub(crate) async fn apply(
        &self,
        c: &mut impl AsConn,
        table: &'static str,
        id: &str,
    ) -> StoreResult<bool> {
        if self.columns.is_empty() {
            return Ok(true);
        }
        let sql = self.sql(table);
        let done = on_conn!(c, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(id);
            for (_, value) in &self.columns {
                query = match value {
                    Value::Text(v) => query.bind(v.clone()),
                    Value::Int(v) => query.bind(*v),
                    Value::Bool(v) => query.bind(*v),
                };
            }
            query.execute(conn).await.map(rows_affected)
        })?;
        Ok(done > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_columns_are_written() {
        let mut changes = Changes::default();
        changes.set("name", Value::Text(Some("a".into())));
        changes.set("enabled", Value::Bool(false));
        changes.set("expires_at", Value::Int(None));
        assert_eq!(
            changes.sql("keys"),
            "update keys set name = $2, enabled = $3, expires_at = $4 where id = $1"
        );
    }

    #[test]
    fn an_empty_patch_is_empty() {
        assert!(Changes::default().is_empty());
    }
}
