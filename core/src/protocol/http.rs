//! The HTTP API's requests and answers (`vitrine-lambdas` serves them; the portal's
//! `api.ts` calls them with these types, generated). Stored records the API returns as
//! they are (`Site`, `Offer`, `VisitorDetails`…) are defined with their store modules.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{ChatMessage, ConversationStatus, ConversationSummary};
use crate::store::accounts::Site;
use crate::store::agents::{AgentProfile, Role};
use crate::store::catalog::Product;

/// Every error answer: `{"error": {"code", "message"}}` with a fitting status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ErrorDetail {
    /// Machine-readable (`unauthorized`, `not_found`, `bad_request`, …).
    pub code: String,
    /// For people.
    pub message: String,
}

/// `POST /api/login`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Which account to sign in to, for a person who is an agent of several.
    #[serde(default)]
    #[ts(optional)]
    pub account_id: Option<String>,
}

/// The answer to a login: signed in (the session cookie is set), or the accounts this
/// person may pick from (sign in again naming one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoginAnswer {
    SignedIn { agent: AgentProfile },
    ChooseAccount { accounts: Vec<AccountChoice> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AccountChoice {
    pub account_id: String,
    pub name: String,
    pub role: Role,
}

/// `GET /api/me`: the signed-in agent and the sites they work on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Me {
    pub agent: AgentProfile,
    pub sites: Vec<Site>,
    /// Signed in with an invitation's one-time password: the portal asks for a new one
    /// before anything else (the API refuses everything else until then).
    pub must_change_password: bool,
}

/// `GET /api/session`: who is signed in on this browser, if anyone. The portal asks this
/// at every load; signed out is an answer, not an error (no 401 in the console).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Session {
    pub me: Option<Me>,
}

/// `POST /api/me/password`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current: String,
    pub new: String,
}

/// `GET /api/conversations` query: folders and search (C3, C11).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct ConversationQuery {
    /// One site (site key); all of the agent's sites when absent.
    #[serde(default)]
    #[ts(optional)]
    pub site: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub status: Option<ConversationStatus>,
    /// Contact name or e-mail, case-insensitive substring.
    #[serde(default)]
    #[ts(optional)]
    pub q: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub visitor: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// One search hit, with the site it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FoundConversation {
    pub site_key: String,
    pub site_name: String,
    #[serde(flatten)]
    pub conversation: ConversationSummary,
}

/// `GET /api/sites/{site}/conversations/{id}/messages?after=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MessagesPage {
    pub conversation: ConversationSummary,
    pub messages: Vec<ChatMessage>,
}

/// `POST /api/uploads`: the stored image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Uploaded {
    pub blob_id: String,
    pub url: String,
}

/// `GET /api/products` query: the product gallery's search and filters (C6).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct ProductQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    #[ts(optional)]
    pub brand: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub category: Option<String>,
}

/// `GET /api/products`: matching products, and every brand and category for the filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Gallery {
    pub products: Vec<Product>,
    pub brands: Vec<String>,
    pub categories: Vec<String>,
}

/// `POST /api/products/import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Imported {
    pub imported: usize,
}

/// `POST /api/admin/sites`, `PUT /api/admin/sites/{site}`: what an admin sets on a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub consultants: Vec<String>,
}

fn yes() -> bool {
    true
}

/// `POST /api/admin/agents`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct InviteInput {
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// The invited agent, and the one-time password of a person new to Vitrine (shown once).
/// Someone who is already an agent of another account signs in with their own password.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Invited {
    pub agent: AgentProfile,
    pub password: Option<String>,
}

/// `PUT /api/admin/agents/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdate {
    pub name: String,
    pub role: Role,
}
