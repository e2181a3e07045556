//! The storage contract, shaped after DynamoDB's access patterns: items addressed by a
//! partition key and a sort key, conditional puts, attribute updates, prefix queries in
//! sort-key order with a cursor, and a per-item expiry (TTL).
//!
//! What is stored, and under which keys, is written once on top of it:
//! [`accounts`] (accounts, sites, agents, sessions), [`browsing`] (visits and page views),
//! [`conversations`] (conversations, messages, blocks), [`catalog`] (offers, canned
//! responses, products), [`contacts`] (identified visitors' cards, K1–K5), [`mail`] (e-mail to contacts, the
//! outbox, SMTP settings). `vitrine-store` implements the trait for SQLite and DynamoDB;
//! [`contract`] holds the tests every implementation must pass. Chat images live in a
//! [`blobs::BlobStore`], beside the table.
//!
//! The trait comes in two flavours from one definition: [`LocalStore`], whose futures
//! need not be `Send` (the Worker's fetch-based DynamoDB client implements it), and
//! [`Store`], the same with `Send` futures (what tokio code implements and spawns). Every
//! `Store` is a `LocalStore`, so the domain modules are written once, over `LocalStore`.

pub mod accounts;
pub mod agents;
pub mod api_keys;
pub mod blobs;
pub mod browsing;
pub mod catalog;
pub mod contacts;
pub mod contract;
pub mod conversations;
pub mod invitations;
pub mod mail;

use serde_json::{Map, Value};

/// Attribute names the store uses itself; item attributes may not use them.
pub const RESERVED_ATTRIBUTES: &[&str] = &["pk", "sk", "ttl"];

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub attrs: Map<String, Value>,
    /// Unix seconds after which the item no longer exists for readers (DynamoDB's TTL
    /// attribute; expired items are filtered on read since deletion is lazy).
    pub expires_at: Option<u64>,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, attrs: Value) -> Self {
        let attrs = match attrs {
            Value::Object(map) => map,
            other => panic!("item attributes must be a JSON object, got {other}"),
        };
        Self {
            pk: pk.into(),
            sk: sk.into(),
            attrs,
            expires_at: None,
        }
    }

    /// An item whose attributes are `value`'s fields.
    pub fn of<T: serde::Serialize>(
        pk: impl Into<String>,
        sk: impl Into<String>,
        value: &T,
    ) -> StoreResult<Self> {
        Ok(Self {
            pk: pk.into(),
            sk: sk.into(),
            attrs: attributes(value)?,
            expires_at: None,
        })
    }

    pub fn with_expiry(mut self, expires_at_secs: u64) -> Self {
        self.expires_at = Some(expires_at_secs);
        self
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_str)
    }

    pub fn u64(&self, name: &str) -> Option<u64> {
        self.attrs.get(name).and_then(Value::as_u64)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.attrs.get(name).and_then(Value::as_bool)
    }

    /// Deserializes the attributes into a domain type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_value(Value::Object(self.attrs.clone())).map_err(|e| {
            StoreError::Corrupt(format!("item {}/{} does not decode: {e}", self.pk, self.sk))
        })
    }

    pub fn is_expired(&self, now_secs: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now_secs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Overwrite whatever is there.
    Always,
    /// Write only if no (unexpired) item has this key; otherwise `ConditionFailed`.
    NotExists,
}

/// One write of a [`LocalStore::transact`].
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put { item: Item, condition: Condition },
    Delete { pk: String, sk: String },
}

/// Most writes in one transaction (DynamoDB allows 100; we never need more than a few).
pub const MAX_TRANSACTION_WRITES: usize = 25;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub pk: String,
    /// Only items whose sort key starts with this.
    pub sk_prefix: String,
    /// Cursor: continue after this sort key (the `next` of the previous page).
    pub start_after: Option<String>,
    pub limit: u32,
    pub descending: bool,
}

impl Query {
    pub fn prefix(pk: impl Into<String>, sk_prefix: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk_prefix: sk_prefix.into(),
            start_after: None,
            limit: 100,
            descending: false,
        }
    }
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.start_after = cursor;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it as `start_after`.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the write's condition failed (the item exists, or is missing for an update)")]
    ConditionFailed,
    #[error("invalid request to the store: {0}")]
    Invalid(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("store backend error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The system of record. Implementations must pass [`contract`].
#[trait_variant::make(Store: Send)]
pub trait LocalStore {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>>;
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()>;
    /// Sets these top-level attributes of an existing item and leaves its others as they
    /// are, so two writers changing different attributes never undo each other (a
    /// read-modify-write of the whole item would). `ConditionFailed` if there is no item.
    async fn update(&self, pk: &str, sk: &str, attrs: Map<String, Value>) -> StoreResult<()>;
    async fn delete(&self, pk: &str, sk: &str) -> StoreResult<()>;
    /// All of these writes, or none: `ConditionFailed` if any condition fails, and then
    /// nothing is written. At most [`MAX_TRANSACTION_WRITES`], each on a different key.
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()>;
    /// Adds one to the counter item `pk`/`sk` (attribute `n`) and returns the new count.
    /// A missing or expired counter starts again at 1 and expires at `expires_at` (Unix
    /// seconds): a fixed window, as rate limits need.
    async fn incr(&self, pk: &str, sk: &str, expires_at: u64) -> StoreResult<u64>;
    async fn query(&self, query: Query) -> StoreResult<Page>;
    /// How many unexpired items of `pk` have a sort key starting with `sk_prefix`.
    async fn count(&self, pk: &str, sk_prefix: &str) -> StoreResult<u64>;
}

/// Checks what every implementation must refuse before touching its backend.
pub fn validate_item(item: &Item) -> StoreResult<()> {
    validate_key(&item.pk, &item.sk)?;
    validate_attributes(&item.attrs)
}

/// Attributes may not use the store's own names.
pub fn validate_attributes(attrs: &Map<String, Value>) -> StoreResult<()> {
    match RESERVED_ATTRIBUTES.iter().find(|n| attrs.contains_key(**n)) {
        Some(name) => Err(StoreError::Invalid(format!(
            "attribute name \"{name}\" is reserved"
        ))),
        None => Ok(()),
    }
}

pub fn validate_key(pk: &str, sk: &str) -> StoreResult<()> {
    if pk.is_empty() || sk.is_empty() {
        return Err(StoreError::Invalid("pk and sk must not be empty".into()));
    }
    if pk.len() > 1024 || sk.len() > 1024 {
        return Err(StoreError::Invalid(
            "pk and sk are at most 1024 bytes".into(),
        ));
    }
    Ok(())
}

/// Checks a transaction before it reaches a backend.
pub fn validate_transaction(writes: &[Write]) -> StoreResult<()> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Invalid(format!(
            "a transaction has 1 to {MAX_TRANSACTION_WRITES} writes"
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for write in writes {
        let key = match write {
            Write::Put { item, .. } => {
                validate_item(item)?;
                (item.pk.as_str(), item.sk.as_str())
            }
            Write::Delete { pk, sk } => {
                validate_key(pk, sk)?;
                (pk.as_str(), sk.as_str())
            }
        };
        if !keys.insert(key) {
            return Err(StoreError::Invalid(format!(
                "a transaction writes {}/{} twice",
                key.0, key.1
            )));
        }
    }
    Ok(())
}

/// A value's JSON attributes (for `put` and `update`).
pub fn attributes<T: serde::Serialize>(value: &T) -> StoreResult<Map<String, Value>> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(StoreError::Invalid(format!(
            "attributes must be a JSON object, got {other}"
        ))),
        Err(e) => Err(StoreError::Invalid(e.to_string())),
    }
}

/// The exclusive upper bound of all strings starting with `prefix` (for range scans).
pub fn prefix_upper_bound(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}
