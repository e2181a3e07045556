//! The HTTP API's requests and answers (`vitrine-lambdas` serves them; the portal's
//! `api.ts` calls them with these types, generated). Stored records the API returns as
//! they are (`Site`, `Offer`, `VisitorDetails`…) are defined with their store modules.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{ChatMessage, ConversationStatus, ConversationSummary};
use crate::store::accounts::{Language, Site};
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
    /// B4: force the widget's language (absent or null: the visitor's browser decides).
    #[serde(default)]
    pub language: Option<Language>,
    /// C4: agents see visitors' drafts as they type.
    #[serde(default = "yes")]
    pub typing_preview: bool,
    /// P8: agents view a visitor's page only after the visitor accepts.
    #[serde(default = "yes")]
    pub cobrowse_consent: bool,
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

/// A pending invitation, as the account's admins list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PendingInvitation {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub invited_by: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// The answer to an invitation: it went to the invitee by the platform's e-mail, or —
/// on an install whose operator set up no e-mail (a local one) — its link is shown to
/// the admin to pass on. The answer is the same whether or not the address already has a
/// sign-in elsewhere.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Invited {
    pub invitation: PendingInvitation,
    pub emailed: bool,
    /// The link's path on the portal's origin (`/portal/#invite=…`), only when the
    /// platform cannot send e-mail.
    pub link_path: Option<String>,
    /// Why the e-mail could not be sent (try again later, or revoke).
    pub email_error: Option<String>,
}

/// `POST /api/invitation` and `POST /api/password/reset/check`: a link's token.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct LinkToken {
    pub token: String,
}

/// What an invitation link offers, shown to whoever opens it (the invitee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct InvitationView {
    pub account_name: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub invited_by: String,
    /// The address already signs in to Vitrine: accepting takes that password; otherwise
    /// the invitee chooses one.
    pub has_sign_in: bool,
}

/// `POST /api/invitation/accept`: signs in to the new account (the session cookie is set).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    pub token: String,
    /// The person's existing password, or the one they choose (≥ 10 characters).
    pub password: String,
}

/// `POST /api/transcript`: what a transcript confirmation link (K3) would send, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TranscriptConfirmation {
    pub site_name: String,
    pub email: String,
}

/// `POST /api/password/forgot`: always answered 202 (whether the address signs in is not
/// told); the link goes by e-mail.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ForgotPassword {
    pub email: String,
}

/// `POST /api/password/reset`: a new password with the e-mailed link's token; every
/// session of the person ends.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    pub token: String,
    pub password: String,
}

/// `PUT /api/admin/agents/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdate {
    pub name: String,
    pub role: Role,
}

/// `GET /api/sites/{site}/visitors/{visitor}/contact`: the card of the contact this
/// visitor was identified as; `card: null` for an anonymous visitor (K5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitorContact {
    pub card: Option<crate::store::contacts::ContactCard>,
}

/// `PUT …/contacts/{contact}/tags`: the contact's tags, whole (K2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct TagsInput {
    pub tags: Vec<String>,
}

/// `POST …/contacts/{contact}/notes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub text: String,
}

/// `POST …/contacts/{contact}/tasks`: a task for an agent who works on the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    pub title: String,
    pub assignee_id: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub due: Option<String>,
}

/// `PUT …/contacts/{contact}/tasks/{task}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    pub done: bool,
}

/// `POST /api/admin/sites/{site}/identity`: require signatures or not; `rotate` makes a
/// new secret (the shop's backend must sign with it from then on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct IdentityInput {
    pub required: bool,
    #[serde(default)]
    pub rotate: bool,
}

/// `GET /api/admin/mail`: the account's SMTP server (K3), without its password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MailSettingsView {
    pub configured: bool,
    pub host: String,
    pub port: u16,
    pub security: crate::store::mail::SmtpSecurity,
    pub username: Option<String>,
    pub has_password: bool,
    pub from: String,
}

/// `PUT /api/admin/mail`. `password` absent keeps the stored one; `""` removes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct MailSettingsInput {
    pub host: String,
    pub port: u16,
    pub security: crate::store::mail::SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub password: Option<String>,
    pub from: String,
}

/// `POST /api/admin/mail/test`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct MailTestInput {
    pub to: String,
}

/// `POST /api/admin/api-keys`: a key for the shop's backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    pub name: String,
    pub scopes: Vec<crate::store::api_keys::Scope>,
}

/// The new key, and its token: shown this once, never stored in the clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NewApiKey {
    pub key: crate::store::api_keys::ApiKey,
    pub token: String,
}

/// `PUT /api/v1/sites/{site}/contacts/{id}` (the shop's REST API): makes or completes a
/// contact. Fields left out stay as they are; `tags`, when given, replace the contact's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ContactUpsert {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// One CSV row that was not imported, by its line number (the header is line 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RowError {
    pub row: u64,
    pub message: String,
}

/// `POST /api/v1/sites/{site}/contacts/import`: rows imported, rows refused and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContactsImported {
    pub imported: u32,
    pub errors: Vec<RowError>,
}
