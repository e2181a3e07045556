//! Implementations of [`vitrine_core::store::Store`]: SQLite (the embedded default, one
//! file in a data directory) and DynamoDB (the cloud system of record). [`AnyStore`] lets
//! the binaries pick one at start-up without making everything generic.

mod blobs;
mod dynamo;
mod sqlite;

pub use blobs::{sniff_image, BlobError, LocalBlobs, MAX_BLOB_BYTES};
pub use dynamo::DynamoStore;
pub use sqlite::SqliteStore;

use vitrine_core::store::{Condition, Item, Page, Query, Store, StoreResult};

/// One of the implementations, chosen by configuration.
#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Dynamo(DynamoStore),
}

impl Store for AnyStore {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        match self {
            AnyStore::Sqlite(s) => s.get(pk, sk).await,
            AnyStore::Dynamo(s) => s.get(pk, sk).await,
        }
    }
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        match self {
            AnyStore::Sqlite(s) => s.put(item, condition).await,
            AnyStore::Dynamo(s) => s.put(item, condition).await,
        }
    }
    async fn delete(&self, pk: &str, sk: &str) -> StoreResult<()> {
        match self {
            AnyStore::Sqlite(s) => s.delete(pk, sk).await,
            AnyStore::Dynamo(s) => s.delete(pk, sk).await,
        }
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        match self {
            AnyStore::Sqlite(s) => s.query(query).await,
            AnyStore::Dynamo(s) => s.query(query).await,
        }
    }
    async fn count(&self, pk: &str, sk_prefix: &str) -> StoreResult<u64> {
        match self {
            AnyStore::Sqlite(s) => s.count(pk, sk_prefix).await,
            AnyStore::Dynamo(s) => s.count(pk, sk_prefix).await,
        }
    }
}

/// Unix seconds now: stores filter expired items on read.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
