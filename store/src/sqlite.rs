//! The embedded store: one SQLite file, one table mirroring DynamoDB's (pk, sk) layout.
//! SQLite compares TEXT bytewise, which is DynamoDB's sort-key order for strings too.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use vitrine_core::store::{
    prefix_upper_bound, validate_attributes, validate_item, validate_key, validate_transaction,
    Condition, Item, Page, Query, Store, StoreError, StoreResult, Write,
};

use crate::now_secs;

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
";

impl SqliteStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(backend)?;
        // WAL lets the portal's reads proceed while the hub writes.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        Self::with_connection(conn)
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> StoreResult<Self> {
        Self::with_connection(Connection::open_in_memory().map_err(backend)?)
    }

    fn with_connection(conn: Connection) -> StoreResult<Self> {
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs a blocking SQLite call off the async runtime's worker threads.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Backend("sqlite mutex poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("sqlite task failed: {e}")))?
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {e}"))
}

/// A put inside an open transaction, honouring its condition.
fn put_in(tx: &rusqlite::Transaction<'_>, item: &Item, condition: Condition) -> StoreResult<()> {
    if condition == Condition::NotExists {
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM items WHERE pk = ?1 AND sk = ?2 \
                 AND (expires_at IS NULL OR expires_at > ?3))",
                params![item.pk, item.sk, now_secs() as i64],
                |r| r.get(0),
            )
            .map_err(backend)?;
        if exists {
            return Err(StoreError::ConditionFailed);
        }
    }
    let data =
        serde_json::to_string(&item.attrs).map_err(|e| StoreError::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT OR REPLACE INTO items (pk, sk, data, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![item.pk, item.sk, data, item.expires_at.map(|t| t as i64)],
    )
    .map_err(backend)?;
    Ok(())
}

fn row_to_item(pk: String, sk: String, data: String, expires_at: Option<i64>) -> StoreResult<Item> {
    let attrs = serde_json::from_str(&data)
        .map_err(|e| StoreError::Corrupt(format!("item {pk}/{sk}: {e}")))?;
    Ok(Item {
        pk,
        sk,
        attrs,
        expires_at: expires_at.map(|t| t as u64),
    })
}

impl Store for SqliteStore {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.run(move |c| {
            let row = c
                .query_row(
                    "SELECT data, expires_at FROM items WHERE pk = ?1 AND sk = ?2 \
                     AND (expires_at IS NULL OR expires_at > ?3)",
                    params![pk, sk, now_secs() as i64],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)),
                )
                .optional()
                .map_err(backend)?;
            row.map(|(data, exp)| row_to_item(pk, sk, data, exp))
                .transpose()
        })
        .await
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        validate_item(&item)?;
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            put_in(&tx, &item, condition)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        self.run(move |c| {
            // Dropped without commit on any error: then nothing was written.
            let tx = c.transaction().map_err(backend)?;
            for write in &writes {
                match write {
                    Write::Put { item, condition } => put_in(&tx, item, *condition)?,
                    Write::Delete { pk, sk } => {
                        tx.execute(
                            "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
                            params![pk, sk],
                        )
                        .map_err(backend)?;
                    }
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn incr(&self, pk: &str, sk: &str, expires_at: u64) -> StoreResult<u64> {
        validate_key(pk, sk)?;
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let current: Option<(String, Option<i64>)> = tx
                .query_row(
                    "SELECT data, expires_at FROM items WHERE pk = ?1 AND sk = ?2 \
                     AND (expires_at IS NULL OR expires_at > ?3)",
                    params![pk, sk, now_secs() as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend)?;
            let (n, expiry) = match current {
                Some((data, expiry)) => {
                    let attrs: Map<String, Value> = serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(format!("item {pk}/{sk}: {e}")))?;
                    (
                        attrs.get("n").and_then(Value::as_u64).unwrap_or(0) + 1,
                        expiry,
                    )
                }
                None => (1, Some(expires_at as i64)),
            };
            tx.execute(
                "INSERT OR REPLACE INTO items (pk, sk, data, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![pk, sk, serde_json::json!({ "n": n }).to_string(), expiry],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(n)
        })
        .await
    }

    async fn update(&self, pk: &str, sk: &str, attrs: Map<String, Value>) -> StoreResult<()> {
        validate_key(pk, sk)?;
        validate_attributes(&attrs)?;
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.run(move |c| {
            // One transaction: the read and the write of the merged attributes cannot
            // interleave with another writer's.
            let tx = c.transaction().map_err(backend)?;
            let data: Option<String> = tx
                .query_row(
                    "SELECT data FROM items WHERE pk = ?1 AND sk = ?2 \
                     AND (expires_at IS NULL OR expires_at > ?3)",
                    params![pk, sk, now_secs() as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(data) = data else {
                return Err(StoreError::ConditionFailed);
            };
            let mut merged: Map<String, Value> = serde_json::from_str(&data)
                .map_err(|e| StoreError::Corrupt(format!("item {pk}/{sk}: {e}")))?;
            merged.extend(attrs);
            let data =
                serde_json::to_string(&merged).map_err(|e| StoreError::Invalid(e.to_string()))?;
            tx.execute(
                "UPDATE items SET data = ?3 WHERE pk = ?1 AND sk = ?2",
                params![pk, sk, data],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn delete(&self, pk: &str, sk: &str) -> StoreResult<()> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
                params![pk, sk],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.run(move |c| {
            let upper = prefix_upper_bound(&query.sk_prefix);
            let (cursor_cmp, order) = if query.descending { ("<", "DESC") } else { (">", "ASC") };
            let sql = format!(
                "SELECT sk, data, expires_at FROM items WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 \
                 AND (?4 IS NULL OR sk {cursor_cmp} ?4) AND (expires_at IS NULL OR expires_at > ?5) \
                 ORDER BY sk {order} LIMIT ?6"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![query.pk, query.sk_prefix, upper, query.start_after, now_secs() as i64, query.limit],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<i64>>(2)?)),
                )
                .map_err(backend)?;
            let mut items = Vec::new();
            for row in rows {
                let (sk, data, exp) = row.map_err(backend)?;
                items.push(row_to_item(query.pk.clone(), sk, data, exp)?);
            }
            let next = (items.len() as u32 == query.limit && query.limit > 0)
                .then(|| items.last().map(|i| i.sk.clone()))
                .flatten();
            Ok(Page { items, next })
        })
        .await
    }

    async fn count(&self, pk: &str, sk_prefix: &str) -> StoreResult<u64> {
        let (pk, prefix) = (pk.to_string(), sk_prefix.to_string());
        self.run(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM items WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 \
                 AND (expires_at IS NULL OR expires_at > ?4)",
                params![pk, prefix, prefix_upper_bound(&prefix), now_secs() as i64],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }
}
