//! The agent/admin HTTP API. One axum [`Router`]: the local server mounts it under `/`,
//! and `vitrine-api-lambda` serves it from AWS Lambda. Every route speaks JSON; errors are
//! `{"error": {"code", "message"}}` with a fitting status.

mod auth;
mod error;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use vitrine_core::accounts::{self, AgentProfile, Site};
use vitrine_core::codec::validate_id;
use vitrine_core::records::{self, VisitorDetails};
use vitrine_core::store::Store;

pub use auth::{hash_password, CurrentAgent, SESSION_COOKIE};
pub use error::ApiError;

#[derive(Clone)]
pub struct ApiState<S> {
    pub store: S,
    /// Mark the session cookie `Secure` (on for HTTPS deployments).
    pub secure_cookies: bool,
    pub session_ttl_secs: u64,
}

impl<S> ApiState<S> {
    pub fn new(store: S, secure_cookies: bool) -> Self {
        Self {
            store,
            secure_cookies,
            session_ttl_secs: 12 * 3600,
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
        .route("/api/sites/{site}/visitors/{visitor_id}", get(visitor::<S>))
        .with_state(state)
}

#[derive(Serialize)]
struct Me {
    agent: AgentProfile,
    sites: Vec<Site>,
}

async fn me<S: Store>(
    State(state): State<ApiState<S>>,
    agent: CurrentAgent,
) -> Result<Json<Me>, ApiError> {
    let sites = accounts::account_sites(&state.store, &agent.session.account_id).await?;
    Ok(Json(Me {
        agent: agent.profile,
        sites,
    }))
}

/// A visitor's browsing history (P3). Only for agents of the account that owns the site.
async fn visitor<S: Store>(
    State(state): State<ApiState<S>>,
    agent: CurrentAgent,
    Path((site, visitor_id)): Path<(String, String)>,
) -> Result<Json<VisitorDetails>, ApiError> {
    // Same answer for "no such site" and "not your site": nothing leaks across tenants.
    let not_found = || ApiError::not_found("no such visitor on this site");
    accounts::site_for_session(&state.store, &agent.session, &site)
        .await?
        .ok_or_else(not_found)?;
    validate_id("visitor_id", &visitor_id).map_err(|_| not_found())?;
    let details = records::visitor_details(&state.store, &site, &visitor_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(details))
}
