//! Who signs in, and as whom: a *person* (an e-mail and a password) may be an *agent* of
//! several accounts; each agent is one person in one account with a role there; a
//! *session* belongs to one agent of one account, and is checked against both.
//!
//! | pk                       | sk                     | what                                   |
//! |--------------------------|------------------------|----------------------------------------|
//! | `PERSON#{email}`         | `PROFILE`              | a person: e-mail, argon2id hash        |
//! | `PERSON#{email}`         | `AGENT#{agent_id}`     | one of the person's agents (account)   |
//! | `AGENT#{agent_id}`       | `PROFILE`              | an agent: account, name, role          |
//! | `AGENT#{agent_id}`       | `SESSION#{hash}`       | the agent's sessions (to revoke them)  |
//! | `ACCOUNT#{account_id}`   | `AGENT#{agent_id}`     | the account's agents                   |
//! | `ACCOUNT#{account_id}`   | `EMAIL#{email}`        | an e-mail is one agent per account     |
//! | `SESSION#{sha256(token)}`| `META`                 | a session (TTL = expiry)               |
//!
//! An e-mail is unique within an account, not across accounts: one account can never stop
//! another from inviting someone. Password hashing is the API's job; this stores hashes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use super::{Condition, Item, LocalStore, Query, StoreResult, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Agent,
    Expert,
}

/// One person's membership of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub agent_id: String,
    /// The person's (normalized) e-mail.
    pub email: String,
    pub account_id: String,
    pub name: String,
    pub role: Role,
}

/// Who signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub email: String,
    pub password_hash: String,
}

/// What the portal knows about the signed-in agent.
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

fn person_pk(email: &str) -> String {
    format!("PERSON#{}", normalize_email(email))
}
fn agent_pk(agent_id: &str) -> String {
    format!("AGENT#{agent_id}")
}
fn account_pk(account_id: &str) -> String {
    format!("ACCOUNT#{account_id}")
}

/// A session's ID: the hash of its token. Sessions are stored under it (a leaked table
/// holds no live tokens), and the sockets opened with a session remember it, so ending
/// the session closes them.
pub fn session_id(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// -- people and agents ------------------------------------------------------------------------

pub async fn person<S: LocalStore + ?Sized>(store: &S, email: &str) -> StoreResult<Option<Person>> {
    match store.get(&person_pk(email), "PROFILE").await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

/// Sets a person's password (hash), one they chose; `ConditionFailed` if there is no
/// such person.
pub async fn set_password<S: LocalStore + ?Sized>(
    store: &S,
    email: &str,
    password_hash: &str,
) -> StoreResult<()> {
    let mut attrs = serde_json::Map::new();
    attrs.insert("password_hash".into(), password_hash.into());
    store.update(&person_pk(email), "PROFILE", attrs).await
}

pub async fn agent<S: LocalStore + ?Sized>(
    store: &S,
    agent_id: &str,
) -> StoreResult<Option<Agent>> {
    match store.get(&agent_pk(agent_id), "PROFILE").await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

/// Every agent the person with this e-mail is (one per account).
pub async fn agents_of<S: LocalStore + ?Sized>(store: &S, email: &str) -> StoreResult<Vec<Agent>> {
    let page = store
        .query(Query::prefix(person_pk(email), "AGENT#").limit(100))
        .await?;
    let mut agents = Vec::new();
    for item in page.items {
        if let Some(agent) = agent(store, item.sk.trim_start_matches("AGENT#")).await? {
            agents.push(agent);
        }
    }
    Ok(agents)
}

pub async fn account_agents<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
) -> StoreResult<Vec<Agent>> {
    let page = store
        .query(Query::prefix(account_pk(account_id), "AGENT#").limit(1000))
        .await?;
    let mut agents = Vec::new();
    for item in page.items {
        if let Some(agent) = agent(store, item.sk.trim_start_matches("AGENT#")).await? {
            if agent.account_id == account_id {
                agents.push(agent);
            }
        }
    }
    Ok(agents)
}

/// Makes `agent` (its e-mail normalized) one of its account's agents, in one transaction.
/// `password_hash` creates the person when they are new to the platform; `None` means they
/// exist already and keep their password. `ConditionFailed` if the account already has an
/// agent with this e-mail (or, with a password, if the person exists after all). Only the
/// operator's set-up calls this directly; admins invite ([`super::invitations`]).
pub async fn create_agent<S: LocalStore + ?Sized>(
    store: &S,
    agent: &Agent,
    password_hash: Option<&str>,
) -> StoreResult<()> {
    store.transact(agent_writes(agent, password_hash)?).await
}

/// The writes of [`create_agent`], for a transaction that does more.
pub(crate) fn agent_writes(agent: &Agent, password_hash: Option<&str>) -> StoreResult<Vec<Write>> {
    let email = normalize_email(&agent.email);
    let agent = Agent {
        email: email.clone(),
        ..agent.clone()
    };
    let mut writes = vec![
        Write::Put {
            item: Item::of(agent_pk(&agent.agent_id), "PROFILE", &agent)?,
            condition: Condition::NotExists,
        },
        Write::Put {
            item: Item::of(
                account_pk(&agent.account_id),
                format!("EMAIL#{email}"),
                &serde_json::json!({ "agent_id": agent.agent_id }),
            )?,
            condition: Condition::NotExists,
        },
        Write::Put {
            item: Item::of(
                account_pk(&agent.account_id),
                format!("AGENT#{}", agent.agent_id),
                &serde_json::json!({ "email": email }),
            )?,
            condition: Condition::Always,
        },
        Write::Put {
            item: Item::of(
                person_pk(&email),
                format!("AGENT#{}", agent.agent_id),
                &serde_json::json!({ "account_id": agent.account_id }),
            )?,
            condition: Condition::Always,
        },
    ];
    if let Some(password_hash) = password_hash {
        writes.push(Write::Put {
            item: Item::of(
                person_pk(&email),
                "PROFILE",
                &Person {
                    email: email.clone(),
                    password_hash: password_hash.to_string(),
                },
            )?,
            condition: Condition::NotExists,
        });
    }
    Ok(writes)
}

/// Changes an agent's name or role (its account and e-mail never change).
pub async fn update_agent<S: LocalStore + ?Sized>(store: &S, agent: &Agent) -> StoreResult<()> {
    store
        .put(
            Item::of(agent_pk(&agent.agent_id), "PROFILE", agent)?,
            Condition::Always,
        )
        .await
}

/// Removes an agent from its account, with every session of theirs; the person goes too
/// when this was their last account.
pub async fn delete_agent<S: LocalStore + ?Sized>(store: &S, agent: &Agent) -> StoreResult<()> {
    delete_sessions_of(store, &agent.agent_id, None).await?;
    store
        .transact(vec![
            Write::Delete {
                pk: agent_pk(&agent.agent_id),
                sk: "PROFILE".into(),
            },
            Write::Delete {
                pk: account_pk(&agent.account_id),
                sk: format!("AGENT#{}", agent.agent_id),
            },
            Write::Delete {
                pk: account_pk(&agent.account_id),
                sk: format!("EMAIL#{}", agent.email),
            },
            Write::Delete {
                pk: person_pk(&agent.email),
                sk: format!("AGENT#{}", agent.agent_id),
            },
        ])
        .await?;
    if agents_of(store, &agent.email).await?.is_empty() {
        store.delete(&person_pk(&agent.email), "PROFILE").await?;
    }
    Ok(())
}

// -- sessions ---------------------------------------------------------------------------------

/// Starts a session (and indexes it under its agent, so it can be revoked with them).
pub async fn create_session<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    session: &Session,
) -> StoreResult<()> {
    let hash = session_id(token);
    store
        .transact(vec![
            Write::Put {
                item: Item::of(format!("SESSION#{hash}"), "META", session)?
                    .with_expiry(session.expires_at),
                condition: Condition::NotExists,
            },
            Write::Put {
                item: Item::of(
                    agent_pk(&session.agent_id),
                    format!("SESSION#{hash}"),
                    &serde_json::json!({}),
                )?
                .with_expiry(session.expires_at),
                condition: Condition::Always,
            },
        ])
        .await
}

/// The live session for a token; `None` if unknown or expired.
pub async fn session<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    now_secs: u64,
) -> StoreResult<Option<Session>> {
    session_by_id(store, &session_id(token), now_secs).await
}

/// The live session with this ID (the [`session_id`] of its token, which is what hubs
/// keep); `None` if unknown or expired.
pub async fn session_by_id<S: LocalStore + ?Sized>(
    store: &S,
    id: &str,
    now_secs: u64,
) -> StoreResult<Option<Session>> {
    match store.get(&format!("SESSION#{id}"), "META").await? {
        Some(item) if !item.is_expired(now_secs) => item.decode().map(Some),
        _ => Ok(None),
    }
}

/// The agent a session token belongs to, with the session: `None` if the token is unknown
/// or expired, the agent is gone, or the agent is no longer of the session's account.
/// Every request and every socket asks this.
pub async fn agent_for_session<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    now_secs: u64,
) -> StoreResult<Option<(Session, Agent)>> {
    let Some(session) = session(store, token, now_secs).await? else {
        return Ok(None);
    };
    Ok(agent(store, &session.agent_id)
        .await?
        .filter(|a| a.account_id == session.account_id)
        .map(|agent| (session, agent)))
}

/// Ends one session (sign out); the ended session (its agent), if it existed.
pub async fn delete_session<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
) -> StoreResult<Option<Session>> {
    let hash = session_id(token);
    let Some(item) = store.get(&format!("SESSION#{hash}"), "META").await? else {
        return Ok(None);
    };
    let session: Session = item.decode()?;
    store
        .transact(vec![
            Write::Delete {
                pk: format!("SESSION#{hash}"),
                sk: "META".into(),
            },
            Write::Delete {
                pk: agent_pk(&session.agent_id),
                sk: format!("SESSION#{hash}"),
            },
        ])
        .await?;
    Ok(Some(session))
}

/// Ends every session of an agent but `keep` (the one changing its password); the IDs of
/// the sessions ended.
pub async fn delete_sessions_of<S: LocalStore + ?Sized>(
    store: &S,
    agent_id: &str,
    keep: Option<&str>,
) -> StoreResult<Vec<String>> {
    let keep = keep.map(session_id);
    let mut ended = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::prefix(agent_pk(agent_id), "SESSION#")
                    .after(cursor)
                    .limit(100),
            )
            .await?;
        for item in &page.items {
            let hash = item.sk.trim_start_matches("SESSION#");
            if keep.as_deref() == Some(hash) {
                continue;
            }
            store.delete(&format!("SESSION#{hash}"), "META").await?;
            store.delete(&item.pk, &item.sk).await?;
            ended.push(hash.to_string());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(ended),
        }
    }
}
