//! Accounts, their sites (widgets) and agents, and login sessions.
//!
//! | pk                       | sk               | what                                  |
//! |--------------------------|------------------|---------------------------------------|
//! | `SITE#{site_key}`        | `META`           | a site: owning account, name, active  |
//! | `ACCOUNT#{account_id}`   | `SITE#{site_key}`| the account's list of sites           |
//! | `AGENT#{email}`          | `PROFILE`        | an agent, looked up by login email    |
//! | `ACCOUNT#{account_id}`   | `AGENT#{email}`  | the account's list of agents          |
//! | `SESSION#{sha256(token)}`| `META`           | a login session (TTL = expiry)        |
//!
//! A site is one widget with its site key, allowed origins and consultants (the seeds call
//! it a "chat", A2; in code and in the portal it is always a *site*, and "conversation"
//! is a chat between a visitor and agents). Admins see every site of their account;
//! agents and experts only the sites they are assigned to.
//!
//! Password hashing is the API's job (`vitrine-lambdas`); this module stores the hash.
//! Who may do what with these records is [`crate::access`]'s job.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use ts_rs::TS;

use super::{attributes, Condition, Item, LocalStore, Query, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Site {
    pub site_key: String,
    pub account_id: String,
    pub name: String,
    /// A deactivated site's widget stays silent.
    pub active: bool,
    /// Origins (`https://shop.example`) whose pages may load the widget; empty = any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Agent IDs assigned to this site (admins need no assignment).
    #[serde(default)]
    pub consultants: Vec<String>,
    /// V11: calls offered to visitors (an agent's switch; the account's plan decides
    /// whether calls exist at all).
    #[serde(default = "yes")]
    pub calls_enabled: bool,
}

/// What an account's plan includes (V11). Set by the operator (`vitrine plan`), never by
/// the account's own admins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Plan {
    /// Audio/video calls, screen share and navigation during calls.
    #[serde(default)]
    pub calls: bool,
}

/// A customer of the platform: owns sites and agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Account {
    pub account_id: String,
    pub name: String,
    #[serde(default)]
    pub plan: Plan,
}

pub async fn put_account<S: LocalStore + ?Sized>(store: &S, account: &Account) -> StoreResult<()> {
    store
        .put(
            item(format!("ACCOUNT#{}", account.account_id), "META", account)?,
            Condition::Always,
        )
        .await
}

pub async fn get_account<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
) -> StoreResult<Option<Account>> {
    match store.get(&format!("ACCOUNT#{account_id}"), "META").await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

/// The plan an account is on; an account without a record has the empty plan (fails
/// closed: nothing paid-for is switched on by accident).
pub async fn account_plan<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
) -> StoreResult<Plan> {
    Ok(get_account(store, account_id)
        .await?
        .map(|a| a.plan)
        .unwrap_or_default())
}

/// Puts an account on a plan (operators only: `vitrine plan`), creating the account's
/// record if it has none. Hubs apply it when they next read the account's sites.
pub async fn set_plan<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
    plan: Plan,
) -> StoreResult<Account> {
    let mut account = get_account(store, account_id)
        .await?
        .unwrap_or_else(|| Account {
            account_id: account_id.into(),
            name: account_id.into(),
            plan: Plan::default(),
        });
    account.plan = plan;
    put_account(store, &account).await?;
    Ok(account)
}

fn yes() -> bool {
    true
}

impl Site {
    /// Whether a page of `origin` may open the widget's socket.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        self.allowed_origins.is_empty()
            || origin.is_some_and(|o| {
                self.allowed_origins
                    .iter()
                    .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(o))
            })
    }

    /// Whether this agent works on this site.
    pub fn admits(&self, agent: &Agent) -> bool {
        agent.account_id == self.account_id
            && (agent.role == Role::Admin || self.consultants.contains(&agent.agent_id))
    }
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

fn item<T: Serialize>(pk: String, sk: impl Into<String>, value: &T) -> StoreResult<Item> {
    Ok(Item {
        pk,
        sk: sk.into(),
        attrs: attributes(value)?,
        expires_at: None,
    })
}

/// Creates a site (or replaces it whole: seeding and tests).
pub async fn put_site<S: LocalStore + ?Sized>(store: &S, site: &Site) -> StoreResult<()> {
    store
        .put(
            item(format!("SITE#{}", site.site_key), "META", site)?,
            Condition::Always,
        )
        .await?;
    put_site_listing(store, site).await
}

async fn put_site_listing<S: LocalStore + ?Sized>(store: &S, site: &Site) -> StoreResult<()> {
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

/// What an admin edits on a site (A2). The calls switch is an agent's, written apart by
/// [`set_calls_enabled`]: each writes only its own attributes, so neither undoes the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteEdit {
    pub name: String,
    pub active: bool,
    pub allowed_origins: Vec<String>,
    pub consultants: Vec<String>,
}

/// Applies an admin's edit to an existing site; `ConditionFailed` if it is gone.
pub async fn edit_site<S: LocalStore + ?Sized>(
    store: &S,
    site: &Site,
    edit: &SiteEdit,
) -> StoreResult<Site> {
    store
        .update(
            &format!("SITE#{}", site.site_key),
            "META",
            attributes(edit)?,
        )
        .await?;
    let edited = Site {
        name: edit.name.clone(),
        active: edit.active,
        allowed_origins: edit.allowed_origins.clone(),
        consultants: edit.consultants.clone(),
        ..site.clone()
    };
    put_site_listing(store, &edited).await?;
    Ok(edited)
}

/// V11: an agent switches calls on or off for a site.
pub async fn set_calls_enabled<S: LocalStore + ?Sized>(
    store: &S,
    site_key: &str,
    enabled: bool,
) -> StoreResult<()> {
    let mut attrs = serde_json::Map::new();
    attrs.insert("calls_enabled".into(), enabled.into());
    store
        .update(&format!("SITE#{site_key}"), "META", attrs)
        .await
}

pub async fn get_site<S: LocalStore + ?Sized>(
    store: &S,
    site_key: &str,
) -> StoreResult<Option<Site>> {
    match store.get(&format!("SITE#{site_key}"), "META").await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

/// Removes a site. Its conversations stay in the store (history), unreachable by key.
pub async fn delete_site<S: LocalStore + ?Sized>(store: &S, site: &Site) -> StoreResult<()> {
    store
        .delete(&format!("SITE#{}", site.site_key), "META")
        .await?;
    store
        .delete(
            &format!("ACCOUNT#{}", site.account_id),
            &format!("SITE#{}", site.site_key),
        )
        .await
}

/// The sites this agent works on: all of the account's for an admin, else the assigned ones.
pub async fn agent_sites<S: LocalStore + ?Sized>(
    store: &S,
    agent: &Agent,
) -> StoreResult<Vec<Site>> {
    Ok(account_sites(store, &agent.account_id)
        .await?
        .into_iter()
        .filter(|s| s.admits(agent))
        .collect())
}

pub async fn account_agents<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
) -> StoreResult<Vec<Agent>> {
    let page = store
        .query(Query::prefix(format!("ACCOUNT#{account_id}"), "AGENT#").limit(1000))
        .await?;
    let mut agents = Vec::new();
    for item in page.items {
        if let Some(agent) = agent_by_email(store, item.sk.trim_start_matches("AGENT#")).await? {
            if agent.account_id == account_id {
                agents.push(agent);
            }
        }
    }
    Ok(agents)
}

/// Overwrites an existing agent's profile (name, role, password hash).
pub async fn update_agent<S: LocalStore + ?Sized>(store: &S, agent: &Agent) -> StoreResult<()> {
    write_agent(store, agent, Condition::Always).await
}

/// The profile (under the condition) and the account's listing entry of an agent.
async fn write_agent<S: LocalStore + ?Sized>(
    store: &S,
    agent: &Agent,
    condition: Condition,
) -> StoreResult<()> {
    let email = normalize_email(&agent.email);
    store
        .put(item(format!("AGENT#{email}"), "PROFILE", agent)?, condition)
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

/// Removes an agent; their open sessions stop working at the next check.
pub async fn delete_agent<S: LocalStore + ?Sized>(store: &S, agent: &Agent) -> StoreResult<()> {
    let email = normalize_email(&agent.email);
    store.delete(&format!("AGENT#{email}"), "PROFILE").await?;
    store
        .delete(
            &format!("ACCOUNT#{}", agent.account_id),
            &format!("AGENT#{email}"),
        )
        .await
}

pub async fn account_sites<S: LocalStore + ?Sized>(
    store: &S,
    account_id: &str,
) -> StoreResult<Vec<Site>> {
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
pub async fn create_agent<S: LocalStore + ?Sized>(store: &S, agent: &Agent) -> StoreResult<()> {
    write_agent(store, agent, Condition::NotExists).await
}

pub async fn agent_by_email<S: LocalStore + ?Sized>(
    store: &S,
    email: &str,
) -> StoreResult<Option<Agent>> {
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

pub async fn create_session<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    session: &Session,
) -> StoreResult<()> {
    store
        .put(
            item(session_pk(token), "META", session)?.with_expiry(session.expires_at),
            Condition::NotExists,
        )
        .await
}

/// The live session for a token; `None` if unknown or expired.
pub async fn session<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    now_secs: u64,
) -> StoreResult<Option<Session>> {
    match store.get(&session_pk(token), "META").await? {
        Some(item) if !item.is_expired(now_secs) => item.decode().map(Some),
        _ => Ok(None),
    }
}

/// The agent a session token belongs to, with the session; `None` if the token is
/// unknown or expired, or the agent is gone. Every request and socket asks this.
pub async fn agent_for_session<S: LocalStore + ?Sized>(
    store: &S,
    token: &str,
    now_secs: u64,
) -> StoreResult<Option<(Session, Agent)>> {
    let Some(session) = session(store, token, now_secs).await? else {
        return Ok(None);
    };
    Ok(agent_by_email(store, &session.email)
        .await?
        .map(|agent| (session, agent)))
}

pub async fn delete_session<S: LocalStore + ?Sized>(store: &S, token: &str) -> StoreResult<()> {
    store.delete(&session_pk(token), "META").await
}

/// The site `site_key` if this agent works on it (their account's, and assigned to them
/// unless they are an admin); `None` otherwise, whatever the reason.
pub async fn site_for_agent<S: LocalStore + ?Sized>(
    store: &S,
    agent: &Agent,
    site_key: &str,
) -> StoreResult<Option<Site>> {
    Ok(get_site(store, site_key)
        .await?
        .filter(|site| site.admits(agent)))
}
