//! Accounts and their sites (widgets). Agents, the people who sign in and their sessions
//! are [`super::agents`].
//!
//! | pk                       | sk               | what                                  |
//! |--------------------------|------------------|---------------------------------------|
//! | `ACCOUNT#{account_id}`   | `META`           | an account: name, plan                |
//! | `SITE#{site_key}`        | `META`           | a site: owning account, name, active  |
//! | `ACCOUNT#{account_id}`   | `SITE#{site_key}`| the account's list of sites           |
//! | `SITE#{site_key}`        | `IDENTITY`       | the site's identity secret (K1)       |
//!
//! A site is one widget with its site key, allowed origins and consultants (the seeds call
//! it a "chat", A2; in code and in the portal it is always a *site*, and "conversation"
//! is a chat between a visitor and agents). Admins see every site of their account;
//! agents and experts only the sites they are assigned to.
//!
//! Who may do what with these records is [`crate::access`]'s job.

use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;

use super::agents::{Agent, Role};
use super::{attributes, Condition, Item, LocalStore, Query, StoreResult};

/// The languages the widget and the portal speak (B4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Fr,
    Pl,
}

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
    /// B4: the widget's language, forced by an admin; `None` follows the visitor's browser.
    #[serde(default)]
    pub language: Option<Language>,
    /// C4: agents see what visitors type before they send it. Off, the hub drops drafts
    /// and the widget stops sending them.
    #[serde(default = "yes")]
    pub typing_preview: bool,
    /// P8: agents view a visitor's page only after the visitor accepts (on by default).
    #[serde(default = "yes")]
    pub cobrowse_consent: bool,
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
            Item::of(format!("ACCOUNT#{}", account.account_id), "META", account)?,
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

    /// Whether this agent works on this site: their account's, and assigned to it unless
    /// they are an admin. The hub applies the same rule to agents already connected
    /// ([`admits_role`]).
    pub fn admits(&self, agent: &Agent) -> bool {
        agent.account_id == self.account_id
            && admits_role(&self.consultants, &agent.agent_id, agent.role)
    }
}

/// An agent of the site's account works on it as an admin, or when assigned to it.
pub fn admits_role(consultants: &[String], agent_id: &str, role: Role) -> bool {
    role == Role::Admin || consultants.iter().any(|c| c == agent_id)
}

/// Creates a site (or replaces it whole: seeding and tests).
pub async fn put_site<S: LocalStore + ?Sized>(store: &S, site: &Site) -> StoreResult<()> {
    store
        .put(
            Item::of(format!("SITE#{}", site.site_key), "META", site)?,
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
    pub language: Option<Language>,
    pub typing_preview: bool,
    pub cobrowse_consent: bool,
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
        language: edit.language,
        typing_preview: edit.typing_preview,
        cobrowse_consent: edit.cobrowse_consent,
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

/// K1: how a site checks who the shop says its visitors are. Kept apart from [`Site`],
/// which every agent of the site reads: only admins see the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SiteIdentity {
    /// What the shop's backend signs its users' IDs with ([`crate::identity::sign`]).
    pub secret: String,
    /// Refuse identities without a valid signature. Off, anyone can claim any customer's
    /// card: only for shops that cannot sign yet.
    pub required: bool,
}

impl std::fmt::Debug for SiteIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteIdentity")
            .field("secret", &"…")
            .field("required", &self.required)
            .finish()
    }
}

/// The site's identity settings; `None` until an admin (or the site's creation) set them,
/// and then every identity is refused (fails closed).
pub async fn site_identity<S: LocalStore + ?Sized>(
    store: &S,
    site_key: &str,
) -> StoreResult<Option<SiteIdentity>> {
    match store.get(&format!("SITE#{site_key}"), "IDENTITY").await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

pub async fn put_site_identity<S: LocalStore + ?Sized>(
    store: &S,
    site_key: &str,
    identity: &SiteIdentity,
) -> StoreResult<()> {
    store
        .put(
            Item::of(format!("SITE#{site_key}"), "IDENTITY", identity)?,
            Condition::Always,
        )
        .await
}

/// Removes a site. Its conversations stay in the store (history), unreachable by key.
pub async fn delete_site<S: LocalStore + ?Sized>(store: &S, site: &Site) -> StoreResult<()> {
    store
        .delete(&format!("SITE#{}", site.site_key), "META")
        .await?;
    store
        .delete(&format!("SITE#{}", site.site_key), "IDENTITY")
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
