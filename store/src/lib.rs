//! Implementations of `vitrine_core`'s storage traits: the table ([`Store`]) on SQLite
//! (the embedded default, one file in a data directory) or DynamoDB (`vitrine-dynamo`, the cloud system of
//! record), and chat images ([`BlobStore`](vitrine_core::store::blobs::BlobStore)) in a
//! directory or S3. [`AnyStore`] and [`AnyBlobs`] let binaries pick at start-up without
//! making everything generic; [`StoreConfig::open`] is how every binary opens one.

mod blobs;
mod sqlite;

use std::path::PathBuf;

pub use blobs::{AnyBlobs, LocalBlobs, S3Blobs};
pub use sqlite::SqliteStore;
pub use vitrine_dynamo::native::DynamoStore;

use serde_json::{Map, Value};
use vitrine_core::store::blobs::BlobError;
use vitrine_core::store::{Condition, Item, Page, Query, Store, StoreError, StoreResult, Write};

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
    async fn update(&self, pk: &str, sk: &str, attrs: Map<String, Value>) -> StoreResult<()> {
        match self {
            AnyStore::Sqlite(s) => s.update(pk, sk, attrs).await,
            AnyStore::Dynamo(s) => s.update(pk, sk, attrs).await,
        }
    }
    async fn delete(&self, pk: &str, sk: &str) -> StoreResult<()> {
        match self {
            AnyStore::Sqlite(s) => s.delete(pk, sk).await,
            AnyStore::Dynamo(s) => s.delete(pk, sk).await,
        }
    }
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        match self {
            AnyStore::Sqlite(s) => s.transact(writes).await,
            AnyStore::Dynamo(s) => s.transact(writes).await,
        }
    }
    async fn incr(&self, pk: &str, sk: &str, expires_at: u64) -> StoreResult<u64> {
        match self {
            AnyStore::Sqlite(s) => s.incr(pk, sk, expires_at).await,
            AnyStore::Dynamo(s) => s.incr(pk, sk, expires_at).await,
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

/// Which store a binary uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// `vitrine.sqlite3` in this directory (created if missing).
    Sqlite { data_dir: PathBuf },
    /// A DynamoDB table: AWS's (standard credentials chain) when `endpoint` is `None`,
    /// else a local DynamoDB-compatible server (static dummy credentials). `create` makes
    /// the table when missing (local use; in the cloud the template owns it).
    Dynamodb {
        table: String,
        endpoint: Option<String>,
        create: bool,
    },
}

impl StoreConfig {
    pub async fn open(&self) -> StoreResult<AnyStore> {
        Ok(match self {
            StoreConfig::Sqlite { data_dir } => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    StoreError::Backend(format!("creating {}: {e}", data_dir.display()))
                })?;
                AnyStore::Sqlite(SqliteStore::open(&data_dir.join("vitrine.sqlite3"))?)
            }
            StoreConfig::Dynamodb {
                table,
                endpoint,
                create,
            } => {
                let store = match endpoint {
                    Some(endpoint) => DynamoStore::connect_local(endpoint, table).await,
                    None => DynamoStore::connect(table, None).await,
                };
                if *create {
                    store.ensure_table().await?;
                }
                AnyStore::Dynamo(store)
            }
        })
    }
}

/// Which blob store a binary uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobConfig {
    Dir(PathBuf),
    /// An S3 bucket: AWS's when `endpoint` is `None`, else an S3-compatible server.
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
    },
}

impl BlobConfig {
    /// Opens the blob store; on a local S3-compatible server, creates the bucket if needed.
    pub async fn open(&self) -> Result<AnyBlobs, BlobError> {
        Ok(match self {
            BlobConfig::Dir(dir) => AnyBlobs::Local(LocalBlobs::new(dir)),
            BlobConfig::S3 {
                bucket,
                prefix,
                endpoint: None,
            } => AnyBlobs::S3(S3Blobs::connect(bucket, prefix).await),
            BlobConfig::S3 {
                bucket,
                endpoint: Some(endpoint),
                ..
            } => {
                let blobs = S3Blobs::connect_local(endpoint, bucket).await;
                blobs.ensure_bucket().await?;
                AnyBlobs::S3(blobs)
            }
        })
    }
}

/// Unix seconds now: stores filter expired items on read.
pub(crate) fn now_secs() -> u64 {
    vitrine_core::clock::secs(vitrine_core::clock::now_ms())
}
