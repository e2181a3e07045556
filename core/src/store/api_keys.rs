//! API keys for a shop's backend (K1's REST API): per account, scoped, revocable.
//!
//! | pk                   | sk              | what                                        |
//! |----------------------|-----------------|---------------------------------------------|
//! | `APIKEY#{key}`       | `META`          | the key: account, scopes, its secret's hash |
//! | `ACCOUNT#{account}`  | `APIKEY#{key}`  | the account's list (no hash)                |
//! | `APIKEY#{key}`       | `RATE#{minute}` | requests this minute (expires)              |
//!
//! A key reads `vk_{key}_{secret}`: `key` finds the item, the secret (32 random bytes,
//! hex) is checked against its HMAC-SHA256 in constant time. Only the hash is stored, so
//! the table never holds a usable key; the admin sees the whole key once, when made.
//! Revoking deletes both items: the next request with it is refused.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use ts_rs::TS;

use super::{Condition, Item, LocalStore, Query, StoreResult, Write};
use crate::clock::UnixMillis;

/// Keys one account may hold (each is a credential to audit).
pub const MAX_KEYS: usize = 20;
/// Requests per key and minute.
pub const PER_MINUTE: u64 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub enum Scope {
    /// Read contact cards.
    #[serde(rename = "contacts:read")]
    ContactsRead,
    /// Create, update and import contacts.
    #[serde(rename = "contacts:write")]
    ContactsWrite,
}

/// A key as its account lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ApiKey {
    pub key_id: String,
    pub account_id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: UnixMillis,
    /// Who made it (an admin's name).
    pub created_by: String,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

fn key_pk(key_id: &str) -> String {
    format!("APIKEY#{key_id}")
}

fn account_pk(account_id: &str) -> String {
    format!("ACCOUNT#{account_id}")
}

fn hash(secret: &str) -> String {
    hex::encode(mac(secret).finalize().into_bytes())
}

fn mac(secret: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"vitrine api key").expect("any key");
    mac.update(secret.as_bytes());
    mac
}

/// The token a backend sends (`Authorization: Bearer …`).
pub fn token(key_id: &str, secret: &str) -> String {
    format!("vk_{key_id}_{secret}")
}

/// Stores a new key whose secret is `secret` (random, made by the caller).
pub async fn create<S: LocalStore + ?Sized>(
    store: &S,
    key: &ApiKey,
    secret: &str,
) -> StoreResult<()> {
    let mut meta = super::attributes(key)?;
    meta.insert("secret_hash".into(), hash(secret).into());
    store
        .transact(vec![
            Write::Put {
                item: Item {
                    pk: key_pk(&key.key_id),
                    sk: "META".into(),
                    attrs: meta,
                    expires_at: None,
                },
                condition: Condition::NotExists,
            },
            Write::Put {
                item: Item::of(
                    account_pk(&key.account_id),
                    format!("APIKEY#{}", key.key_id),
                    key,
                )?,
                condition: Condition::NotExists,
            },
        ])
        .await
}

pub async fn list<S: LocalStore + ?Sized>(store: &S, account_id: &str) -> StoreResult<Vec<ApiKey>> {
    store
        .query(Query::prefix(account_pk(account_id), "APIKEY#").limit(MAX_KEYS as u32 * 2))
        .await?
        .items
        .iter()
        .map(Item::decode)
        .collect()
}

/// Deletes the key (of this account only); `false` if it had no such key.
pub async fn revoke<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
    key_id: &str,
) -> StoreResult<bool> {
    let listed = format!("APIKEY#{key_id}");
    if store.get(&account_pk(account_id), &listed).await?.is_none() {
        return Ok(false);
    }
    store
        .transact(vec![
            Write::Delete {
                pk: key_pk(key_id),
                sk: "META".into(),
            },
            Write::Delete {
                pk: account_pk(account_id),
                sk: listed,
            },
        ])
        .await?;
    Ok(true)
}

/// The key a token proves, if it is one (well formed, existing, secret matching).
pub async fn authenticate<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
) -> StoreResult<Option<ApiKey>> {
    let Some((key_id, secret)) = token
        .strip_prefix("vk_")
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    let well_formed =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed(key_id, 16) || !well_formed(secret, 64) {
        return Ok(None);
    }
    let Some(item) = store.get(&key_pk(key_id), "META").await? else {
        return Ok(None);
    };
    let stored = item.str("secret_hash").and_then(|h| hex::decode(h).ok());
    match stored {
        Some(stored) if mac(secret).verify_slice(&stored).is_ok() => item.decode().map(Some),
        _ => Ok(None),
    }
}

/// Counts a request; `false` once the key used its minute's share.
pub async fn within_rate<S: LocalStore + ?Sized>(
    store: &S,
    key_id: &str,
    now: UnixMillis,
) -> StoreResult<bool> {
    let minute = now / 60_000;
    let count = store
        .incr(
            &key_pk(key_id),
            &format!("RATE#{minute}"),
            (minute + 2) * 60,
        )
        .await?;
    Ok(count <= PER_MINUTE)
}
