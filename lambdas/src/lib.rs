//! The agent/admin HTTP API. One axum [`Router`]: the local server mounts it under `/`,
//! and `vitrine-api-lambda` serves it from AWS Lambda. Every route speaks JSON (types in
//! `vitrine_core::protocol::http`, generated for the portal); errors are
//! `{"error": {"code", "message"}}` with a fitting status.
//!
//! - `auth`: sign in/out, who am I, change password
//! - `conversations`: folders and search, message history, image uploads and blobs
//! - `admin`: sites, agents, offers, canned responses, the product catalogue (A1–A3)
//! - `contacts`: contact cards, tags, notes, tasks (K1–K5); the sites' identity secrets
//! - `mail`: the account's SMTP server (K3)
//! - `shop`: the shop backend's REST API (API keys; contacts upsert, read, CSV import)

mod admin;
mod auth;
mod contacts;
mod conversations;
mod edge;
mod error;
mod invitations;
mod mail;
pub mod setup;
mod shop;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post, put};
use axum::Router;
use vitrine_core::codec::validate_id;
use vitrine_core::protocol::http::{Me, Session};
use vitrine_core::store::accounts::{self, Site};
use vitrine_core::store::blobs::{BlobStore, MAX_BLOB_BYTES};
use vitrine_core::store::browsing::{self, VisitorDetails};
use vitrine_core::store::catalog::{CannedResponse, Offer, Product};
use vitrine_core::store::Store;

pub use auth::{hash_password, CurrentAgent, SESSION_COOKIE};
pub use edge::notify_edge;
pub use error::{ApiError, Json};

pub use vitrine_core::changes::Changed;

/// Called after something live sockets depend on changed; the API answers once it has
/// returned.
pub type OnChange = Arc<
    dyn Fn(Changed) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// The operator's e-mail, for what only the platform sends (invitations, resets, account
/// notices): flags of both binaries that serve the API.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PlatformMailArgs {
    /// The platform's SMTP server: `smtp://host:25`, `smtp+starttls://user:pass@host:587`
    /// or `smtps://user:pass@host:465`. Without it, invitation links are shown to the
    /// inviting admin and passwords cannot be reset by e-mail (a local install).
    #[arg(long, env = "VITRINE_PLATFORM_SMTP", hide_env_values = true)]
    pub platform_smtp: Option<String>,
    /// The sender of the platform's e-mail.
    #[arg(
        long,
        env = "VITRINE_PLATFORM_MAIL_FROM",
        default_value = "Vitrine <no-reply@vitrine.invalid>"
    )]
    pub platform_mail_from: String,
    /// Where people open the portal (`https://app.example`): the base of the links in
    /// those e-mails.
    #[arg(long, env = "VITRINE_PORTAL_URL")]
    pub portal_url: Option<String>,
}

impl PlatformMailArgs {
    /// Sets the API's platform mailer and portal address; `default_portal` when none is
    /// configured (the local server serves the portal itself).
    pub fn apply<S, B>(
        &self,
        state: &mut ApiState<S, B>,
        default_portal: Option<String>,
    ) -> Result<(), String> {
        state.platform_mail = match &self.platform_smtp {
            Some(url) => Some(Arc::new(vitrine_mail::PlatformMailer::from_url(
                url,
                &self.platform_mail_from,
            )?)),
            None => None,
        };
        state.portal_url = self.portal_url.clone().or(default_portal);
        Ok(())
    }
}

/// What a store and a blob store must be to serve the API.
pub trait Backend: Store + Clone + Sync + 'static {}
impl<T: Store + Clone + Sync + 'static> Backend for T {}

#[derive(Clone)]
pub struct ApiState<S, B> {
    pub store: S,
    pub blobs: B,
    /// Mark the session cookie `Secure` (on for HTTPS deployments).
    pub secure_cookies: bool,
    pub session_ttl_secs: u64,
    pub on_change: Option<OnChange>,
    /// The key the Worker signs browsers' addresses with (its `VITRINE_CHANGES_KEY`): set
    /// when the API is behind the Worker.
    pub client_address_key: Option<Vec<u8>>,
    /// The operator's mail server: invitations, password resets, account notices. Never a
    /// tenant's (its admin could read them).
    pub platform_mail: Option<Arc<vitrine_mail::PlatformMailer>>,
    /// Where the portal is (`https://app.example`): the base of the links those e-mails
    /// carry, configured, never taken from a request's headers.
    pub portal_url: Option<String>,
    /// Accounts' SMTP servers may be on private addresses (`vitrine_mail::check_host`).
    pub mail_private_hosts: bool,
}

impl<S, B> ApiState<S, B> {
    pub fn new(store: S, blobs: B, secure_cookies: bool) -> Self {
        Self {
            store,
            blobs,
            secure_cookies,
            session_ttl_secs: 12 * 3600,
            on_change: None,
            client_address_key: None,
            platform_mail: None,
            portal_url: None,
            mail_private_hosts: false,
        }
    }
}

pub fn router<S, B>(state: ApiState<S, B>) -> Router
where
    S: Backend,
    B: BlobStore + Clone + Sync + 'static,
{
    Router::new()
        .route(
            "/api/health",
            get(|| async { Json(serde_json::json!({"ok": true})) }),
        )
        .route("/api/login", post(auth::login::<S, B>))
        .route("/api/logout", post(auth::logout::<S, B>))
        .route("/api/me", get(me::<S, B>))
        .route("/api/session", get(session::<S, B>))
        .route("/api/me/password", post(auth::change_password::<S, B>))
        .route("/api/password/forgot", post(invitations::forgot::<S, B>))
        .route("/api/password/reset", post(invitations::reset::<S, B>))
        .route("/api/invitation", post(invitations::view::<S, B>))
        .route("/api/transcript", post(invitations::transcript::<S, B>))
        .route(
            "/api/transcript/confirm",
            post(invitations::confirm_transcript::<S, B>),
        )
        .route("/api/invitation/accept", post(invitations::accept::<S, B>))
        .route("/api/admin/invitations", get(invitations::pending::<S, B>))
        .route(
            "/api/admin/invitations/{email}",
            axum::routing::delete(invitations::revoke::<S, B>),
        )
        .route(
            "/api/sites/{site}/visitors/{visitor_id}",
            get(visitor::<S, B>),
        )
        .route(
            "/api/sites/{site}/visitors/{visitor_id}/contact",
            get(contacts::of_visitor::<S, B>).post(contacts::create_for_visitor::<S, B>),
        )
        .route(
            "/api/sites/{site}/contacts/{contact_id}",
            get(contacts::card::<S, B>).put(contacts::edit::<S, B>),
        )
        .route(
            "/api/sites/{site}/contacts/{contact_id}/tags",
            put(contacts::set_tags::<S, B>),
        )
        .route(
            "/api/sites/{site}/contacts/{contact_id}/notes",
            post(contacts::add_note::<S, B>),
        )
        .route(
            "/api/sites/{site}/contacts/{contact_id}/tasks",
            post(contacts::add_task::<S, B>),
        )
        .route(
            "/api/sites/{site}/contacts/{contact_id}/tasks/{task_id}",
            put(contacts::update_task::<S, B>),
        )
        .route("/api/sites/{site}/tags", get(contacts::site_tags::<S, B>))
        .route(
            "/api/sites/{site}/agents",
            get(contacts::site_agents::<S, B>),
        )
        .route("/api/tasks", get(contacts::my_tasks::<S, B>))
        .route(
            "/api/admin/mail",
            get(mail::get::<S, B>)
                .put(mail::put::<S, B>)
                .delete(mail::delete::<S, B>),
        )
        .route("/api/admin/mail/test", post(mail::test::<S, B>))
        .route(
            "/api/admin/api-keys",
            get(shop::list_keys::<S, B>).post(shop::create_key::<S, B>),
        )
        .route(
            "/api/admin/api-keys/{key_id}",
            axum::routing::delete(shop::revoke_key::<S, B>),
        )
        .route(
            "/api/v1/sites/{site}/contacts/{contact_id}",
            get(shop::read::<S, B>).put(shop::upsert::<S, B>),
        )
        .route(
            "/api/v1/sites/{site}/contacts/import",
            post(shop::import::<S, B>).layer(DefaultBodyLimit::max(2 * 1024 * 1024)),
        )
        .route(
            "/api/admin/sites/{site}/identity",
            get(contacts::identity::<S, B>).post(contacts::set_identity::<S, B>),
        )
        .route("/api/conversations", get(conversations::search::<S, B>))
        .route(
            "/api/sites/{site}/conversations/{conversation_id}/messages",
            get(conversations::messages::<S, B>),
        )
        .route(
            "/api/uploads",
            post(conversations::upload::<S, B>).layer(DefaultBodyLimit::max(MAX_BLOB_BYTES + 1024)),
        )
        .route("/blobs/{blob_id}", get(conversations::blob::<S, B>))
        .route(
            "/api/admin/sites",
            get(admin::list_sites::<S, B>).post(admin::create_site::<S, B>),
        )
        .route(
            "/api/admin/sites/{site}",
            put(admin::update_site::<S, B>).delete(admin::delete_site::<S, B>),
        )
        .route(
            "/api/admin/agents",
            get(admin::list_agents::<S, B>).post(invitations::invite::<S, B>),
        )
        .route(
            "/api/admin/agents/{agent_id}",
            put(admin::update_agent::<S, B>).delete(admin::delete_agent::<S, B>),
        )
        .route(
            "/api/offers",
            get(admin::list::<S, B, Offer>).post(admin::create::<S, B, Offer>),
        )
        .route(
            "/api/offers/{id}",
            put(admin::update::<S, B, Offer>).delete(admin::delete::<S, B, Offer>),
        )
        .route(
            "/api/canned",
            get(admin::list::<S, B, CannedResponse>).post(admin::create::<S, B, CannedResponse>),
        )
        .route(
            "/api/canned/{id}",
            put(admin::update::<S, B, CannedResponse>)
                .delete(admin::delete::<S, B, CannedResponse>),
        )
        .route(
            "/api/products",
            get(admin::products::<S, B>).post(admin::create::<S, B, Product>),
        )
        .route(
            "/api/products/import",
            post(admin::import_products::<S, B>).layer(DefaultBodyLimit::max(4 * 1024 * 1024)),
        )
        .route(
            "/api/products/{id}",
            put(admin::update::<S, B, Product>).delete(admin::delete::<S, B, Product>),
        )
        .layer(axum::middleware::from_fn(same_origin_writes))
        .with_state(state)
}

/// Every state-changing request from a browser must come from the portal's own origin: a
/// page of another site (even a same-site one, like the shop) cannot import a catalogue
/// or upload a file with the agent's cookie, whatever content type it sends.
async fn same_origin_writes(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderName, Method};
    use axum::response::IntoResponse;
    let refused = {
        let writes = !matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        let header = |name| {
            request
                .headers()
                .get(name)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
        };
        // Behind the Worker, the host the browser spoke to is X-Forwarded-Host. A page of
        // another site cannot add that header to a request without a CORS preflight,
        // which this API never answers, so it cannot be used to pass this check.
        let host = header(HeaderName::from_static("x-forwarded-host")).or(header(header::HOST));
        writes && !vitrine_core::access::same_origin(header(header::ORIGIN), host)
    };
    if refused {
        return ApiError::forbidden("cross-origin requests may not change anything")
            .into_response();
    }
    next.run(request).await
}

/// Tells the hubs what an admin changed.
pub(crate) async fn changed<S, B>(state: &ApiState<S, B>, change: Changed) {
    if let Some(hook) = &state.on_change {
        hook(change).await;
    }
}

async fn me<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<Json<Me>, ApiError> {
    let sites = accounts::agent_sites(&state.store, &me.agent).await?;
    Ok(Json(Me {
        agent: me.profile,
        sites,
    }))
}

async fn session<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: Result<CurrentAgent, ApiError>,
) -> Result<Json<Session>, ApiError> {
    match me {
        Ok(me) => {
            let Json(me) = self::me(State(state), me).await?;
            Ok(Json(Session { me: Some(me) }))
        }
        Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => {
            Ok(Json(Session { me: None }))
        }
        Err(e) => Err(e),
    }
}

/// The site `site` if this agent works on it; "not found" for another account's site, a
/// site they are not assigned to and an unknown key alike (nothing leaks across tenants).
pub(crate) async fn my_site<S: Backend, B>(
    state: &ApiState<S, B>,
    me: &CurrentAgent,
    site: &str,
) -> Result<Site, ApiError> {
    accounts::site_for_agent(&state.store, &me.agent, site)
        .await?
        .ok_or_else(|| ApiError::not_found("no such site"))
}

/// A visitor's browsing history (P3).
async fn visitor<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, visitor_id)): Path<(String, String)>,
) -> Result<Json<VisitorDetails>, ApiError> {
    let not_found = || ApiError::not_found("no such visitor on this site");
    my_site(&state, &me, &site).await.map_err(|_| not_found())?;
    validate_id("visitor_id", &visitor_id).map_err(|_| not_found())?;
    let details = browsing::visitor_details(&state.store, &site, &visitor_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(details))
}
