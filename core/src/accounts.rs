//! Accounts, their sites (chats/widgets) and agents, and login sessions.
//!
//! | pk                       | sk               | what                                  |
//! |--------------------------|------------------|---------------------------------------|
//! | `SITE#{site_key}`        | `META`           | a site: owning account, name, active  |
//! | `ACCOUNT#{account_id}`   | `SITE#{site_key}`| the account's list of sites           |
//! | `AGENT#{email}`          | `PROFILE`        | an agent, looked up by login email    |
//! | `ACCOUNT#{account_id}`   | `AGENT#{email}`  | the account's list of agents          |
//! | `SESSION#{sha256(token)}`| `META`           | a login session (TTL = expiry)        |
//!
//! Password hashing is the API's job (`vitrine-lambdas`); this module stores the hash.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::store::{Condition, Item, Query, Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Site {
    pub site_key: String,
    pub account_id: String,
    pub name: String,
    pub active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Agent,
    Expert,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub agent_id: String,
    pub email: String,
    pub account_id: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

/// What the portal knows about the signed-in agent (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AgentProfile {
    pub agent_id: String,
    pub email: String,
    pub account_id: String,
    pub name: String,
    pub role: Role,
}

impl From<&Agent> for AgentProfile {
    fn from(a: &Agent) -> Self {
        Self {
            agent_id: a.agent_id.clone(),
            email: a.email.clone(),
            account_id: a.account_id.clone(),
            name: a.name.clone(),
            role: a.role,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub email: String,
    pub agent_id: String,
    pub account_id: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Name of the cookie that carries an agent's session token.
pub const SESSION_COOKIE: &str = "vitrine_session";

/// The session token in a `Cookie:` header value, if any.
pub fn token_from_cookie_header(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE && !value.is_empty()).then_some(value)
    })
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub async fn put_site<S: Store>(store: &S, site: &Site) -> StoreResult<()> {
    let attrs = serde_json::to_value(site).map_err(|e| StoreError::Invalid(e.to_string()))?;
    store
        .put(
            Item::new(format!("SITE#{}", site.site_key), "META", attrs),
            Condition::Always,
        )
        .await?;
    store
        .put(
            Item::new(
                format!("ACCOUNT#{}", site.account_id),
                format!("SITE#{}", site.site_key),
                json!({ "name": site.name }),
            ),
            Condition::Always,
        )
        .await
}

pub async fn get_site<S: Store>(store: &S, site_key: &str) -> StoreResult<Option<Site>> {
    match store.get(&format!("SITE#{site_key}"), "META").await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

pub async fn account_sites<S: Store>(store: &S, account_id: &str) -> StoreResult<Vec<Site>> {
    let page = store
        .query(Query::prefix(format!("ACCOUNT#{account_id}"), "SITE#").limit(1000))
        .await?;
    let mut sites = Vec::new();
    for item in page.items {
        if let Some(site) = get_site(store, item.sk.trim_start_matches("SITE#")).await? {
            if site.account_id == account_id {
                sites.push(site);
            }
        }
    }
    Ok(sites)
}

/// Creates an agent; fails with `ConditionFailed` if the email is taken.
pub async fn create_agent<S: Store>(store: &S, agent: &Agent) -> StoreResult<()> {
    let attrs = serde_json::to_value(agent).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let email = normalize_email(&agent.email);
    store
        .put(
            Item::new(format!("AGENT#{email}"), "PROFILE", attrs),
            Condition::NotExists,
        )
        .await?;
    store
        .put(
            Item::new(
                format!("ACCOUNT#{}", agent.account_id),
                format!("AGENT#{email}"),
                json!({ "name": agent.name, "role": agent.role }),
            ),
            Condition::Always,
        )
        .await
}

pub async fn agent_by_email<S: Store>(store: &S, email: &str) -> StoreResult<Option<Agent>> {
    match store
        .get(&format!("AGENT#{}", normalize_email(email)), "PROFILE")
        .await?
    {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

/// Sessions are stored under a hash of the token, so a leaked table holds no live tokens.
pub fn session_pk(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("SESSION#{hex}")
}

pub async fn create_session<S: Store>(
    store: &S,
    token: &str,
    session: &Session,
) -> StoreResult<()> {
    let attrs = serde_json::to_value(session).map_err(|e| StoreError::Invalid(e.to_string()))?;
    store
        .put(
            Item::new(session_pk(token), "META", attrs).with_expiry(session.expires_at),
            Condition::NotExists,
        )
        .await
}

/// The live session for a token; `None` if unknown or expired.
pub async fn session<S: Store>(
    store: &S,
    token: &str,
    now_secs: u64,
) -> StoreResult<Option<Session>> {
    match store.get(&session_pk(token), "META").await? {
        Some(item) if !item.is_expired(now_secs) => item.decode().map(Some),
        _ => Ok(None),
    }
}

pub async fn delete_session<S: Store>(store: &S, token: &str) -> StoreResult<()> {
    store.delete(&session_pk(token), "META").await
}

/// Whether the agent of `session` may work on `site_key`: the site belongs to their account.
pub async fn site_for_session<S: Store>(
    store: &S,
    session: &Session,
    site_key: &str,
) -> StoreResult<Option<Site>> {
    Ok(get_site(store, site_key)
        .await?
        .filter(|site| site.account_id == session.account_id))
}
