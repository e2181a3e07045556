//! The agent/admin HTTP API. One axum [`Router`]: the local server mounts it under `/`,
//! and `vitrine-api-lambda` serves it from AWS Lambda. Every route speaks JSON; errors are
//! `{"error": {"code", "message"}}` with a fitting status.
//!
//! - `auth`: sign in/out, who am I, change password
//! - `chat`: conversation folders and search, message history, image uploads and blobs
//! - `admin`: chats (sites), agents, offers, canned responses, the product catalogue (A1–A3)

mod admin;
mod auth;
mod chat;
mod error;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use vitrine_core::accounts::{self, AgentProfile, Site};
use vitrine_core::catalog::{CannedResponse, Offer, Product};
use vitrine_core::codec::validate_id;
use vitrine_core::records::{self, VisitorDetails};
use vitrine_core::store::Store;
use vitrine_store::LocalBlobs;

pub use auth::{hash_password, CurrentAgent, SESSION_COOKIE};
pub use error::ApiError;

/// Called with a site key after an admin changed or deleted that chat, so a process that
/// caches sites (the local edge) applies it at once; the API answers once it has.
pub type SiteChanged = Arc<
    dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

#[derive(Clone)]
pub struct ApiState<S> {
    pub store: S,
    pub blobs: LocalBlobs,
    /// Mark the session cookie `Secure` (on for HTTPS deployments).
    pub secure_cookies: bool,
    pub session_ttl_secs: u64,
    pub on_site_changed: Option<SiteChanged>,
}

impl<S> ApiState<S> {
    pub fn new(store: S, blobs: LocalBlobs, secure_cookies: bool) -> Self {
        Self {
            store,
            blobs,
            secure_cookies,
            session_ttl_secs: 12 * 3600,
            on_site_changed: None,
        }
    }
}

pub fn router<S: Store + Clone>(state: ApiState<S>) -> Router {
    Router::new()
        .route(
            "/api/health",
            get(|| async { Json(serde_json::json!({"ok": true})) }),
        )
        .route("/api/login", post(auth::login::<S>))
        .route("/api/logout", post(auth::logout::<S>))
        .route("/api/me", get(me::<S>))
        .route("/api/me/password", post(auth::change_password::<S>))
        .route("/api/sites/{site}/visitors/{visitor_id}", get(visitor::<S>))
        .route("/api/conversations", get(chat::search::<S>))
        .route(
            "/api/sites/{site}/conversations/{conversation_id}/messages",
            get(chat::messages::<S>),
        )
        .route(
            "/api/uploads",
            post(chat::upload::<S>)
                .layer(DefaultBodyLimit::max(vitrine_store::MAX_BLOB_BYTES + 1024)),
        )
        .route("/blobs/{blob_id}", get(chat::blob::<S>))
        .route(
            "/api/admin/sites",
            get(admin::list_sites::<S>).post(admin::create_site::<S>),
        )
        .route(
            "/api/admin/sites/{site}",
            put(admin::update_site::<S>).delete(admin::delete_site::<S>),
        )
        .route(
            "/api/admin/agents",
            get(admin::list_agents::<S>).post(admin::invite_agent::<S>),
        )
        .route(
            "/api/admin/agents/{agent_id}",
            put(admin::update_agent::<S>).delete(admin::delete_agent::<S>),
        )
        .route(
            "/api/offers",
            get(admin::list::<S, Offer>).post(admin::create::<S, Offer>),
        )
        .route(
            "/api/offers/{id}",
            put(admin::update::<S, Offer>).delete(admin::delete::<S, Offer>),
        )
        .route(
            "/api/canned",
            get(admin::list::<S, CannedResponse>).post(admin::create::<S, CannedResponse>),
        )
        .route(
            "/api/canned/{id}",
            put(admin::update::<S, CannedResponse>).delete(admin::delete::<S, CannedResponse>),
        )
        .route(
            "/api/products",
            get(admin::products::<S>).post(admin::create::<S, Product>),
        )
        .route(
            "/api/products/import",
            post(admin::import_products::<S>).layer(DefaultBodyLimit::max(4 * 1024 * 1024)),
        )
        .route(
            "/api/products/{id}",
            put(admin::update::<S, Product>).delete(admin::delete::<S, Product>),
        )
        .with_state(state)
}

#[derive(Serialize)]
struct Me {
    agent: AgentProfile,
    /// The chats this agent works on.
    sites: Vec<Site>,
}

async fn me<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
) -> Result<Json<Me>, ApiError> {
    let sites = accounts::agent_sites(&state.store, &me.agent).await?;
    Ok(Json(Me {
        agent: me.profile,
        sites,
    }))
}

/// The chat `site` if this agent works on it; "not found" for another account's chat, a
/// chat they are not assigned to and an unknown key alike (nothing leaks across tenants).
pub(crate) async fn my_site<S: Store>(
    state: &ApiState<S>,
    me: &CurrentAgent,
    site: &str,
) -> Result<Site, ApiError> {
    accounts::site_for_agent(&state.store, &me.agent, site)
        .await?
        .ok_or_else(|| ApiError::not_found("no such chat"))
}

/// A visitor's browsing history (P3).
async fn visitor<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Path((site, visitor_id)): Path<(String, String)>,
) -> Result<Json<VisitorDetails>, ApiError> {
    let not_found = || ApiError::not_found("no such visitor on this site");
    my_site(&state, &me, &site).await.map_err(|_| not_found())?;
    validate_id("visitor_id", &visitor_id).map_err(|_| not_found())?;
    let details = records::visitor_details(&state.store, &site, &visitor_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(details))
}
