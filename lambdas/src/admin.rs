//! Admin endpoints (A1–A3): chats (sites) with their consultants and allowed origins,
//! agents and experts, and what agents use in chats — offers, canned responses, the
//! product catalogue. Everything is scoped to the admin's account; reading offers, canned
//! responses and products is open to every agent of the account (they use them).

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use vitrine_core::accounts::{self, Agent, AgentProfile, Role, Site};
use vitrine_core::catalog::{self, CatalogItem, Product};
use vitrine_core::codec::{self, is_http_url};
use vitrine_core::store::{Store, StoreError};

use crate::auth::new_password;
use crate::{hash_password, ApiError, ApiState, CurrentAgent};

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).expect("the OS has a random source");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn invalid(e: codec::FrameError) -> ApiError {
    ApiError::bad_request(e.message)
}

// -- chats (sites) ---------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    name: String,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    consultants: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Checks a chat's fields against the admin's account; returns the normalised input.
async fn checked_site<S: Store>(
    state: &ApiState<S>,
    me: &CurrentAgent,
    input: SiteInput,
) -> Result<SiteInput, ApiError> {
    codec::validate_text("name", &input.name, 120).map_err(invalid)?;
    let mut origins = Vec::new();
    for origin in &input.allowed_origins {
        let origin = origin.trim().trim_end_matches('/').to_string();
        let host_only = origin
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.contains('/'));
        if !is_http_url(&origin) || !host_only {
            return Err(ApiError::bad_request(format!(
                "allowed origin \"{origin}\" must look like https://shop.example (scheme and host, no path)"
            )));
        }
        origins.push(origin);
    }
    let agents = accounts::account_agents(&state.store, &me.agent.account_id).await?;
    let known: BTreeSet<&str> = agents.iter().map(|a| a.agent_id.as_str()).collect();
    if let Some(unknown) = input
        .consultants
        .iter()
        .find(|c| !known.contains(c.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "no agent {unknown} in your account"
        )));
    }
    let consultants: BTreeSet<String> = input.consultants.into_iter().collect();
    Ok(SiteInput {
        name: input.name.trim().to_string(),
        active: input.active,
        allowed_origins: origins,
        consultants: consultants.into_iter().collect(),
    })
}

pub async fn list_sites<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
) -> Result<Json<Vec<Site>>, ApiError> {
    me.require_admin()?;
    Ok(Json(
        accounts::account_sites(&state.store, &me.agent.account_id).await?,
    ))
}

pub async fn create_site<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Json(input): Json<SiteInput>,
) -> Result<(StatusCode, Json<Site>), ApiError> {
    me.require_admin()?;
    let input = checked_site(&state, &me, input).await?;
    let site = Site {
        site_key: format!("site-{}", random_hex(8)),
        account_id: me.agent.account_id.clone(),
        name: input.name,
        active: input.active,
        allowed_origins: input.allowed_origins,
        consultants: input.consultants,
        calls_enabled: true,
    };
    accounts::put_site(&state.store, &site).await?;
    Ok((StatusCode::CREATED, Json(site)))
}

async fn admin_site<S: Store>(
    state: &ApiState<S>,
    me: &CurrentAgent,
    site_key: &str,
) -> Result<Site, ApiError> {
    me.require_admin()?;
    accounts::get_site(&state.store, site_key)
        .await?
        .filter(|s| s.account_id == me.agent.account_id)
        .ok_or_else(|| ApiError::not_found("no such chat"))
}

async fn site_changed<S>(state: &ApiState<S>, site_key: &str) {
    if let Some(hook) = &state.on_site_changed {
        hook(site_key.to_string()).await;
    }
}

/// Edit, activate or deactivate a chat, or change its consultants (A2).
pub async fn update_site<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Path(site_key): Path<String>,
    Json(input): Json<SiteInput>,
) -> Result<Json<Site>, ApiError> {
    let existing = admin_site(&state, &me, &site_key).await?;
    let input = checked_site(&state, &me, input).await?;
    let site = Site {
        name: input.name,
        active: input.active,
        allowed_origins: input.allowed_origins,
        consultants: input.consultants,
        ..existing
    };
    accounts::put_site(&state.store, &site).await?;
    site_changed(&state, &site_key).await;
    Ok(Json(site))
}

pub async fn delete_site<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Path(site_key): Path<String>,
) -> Result<StatusCode, ApiError> {
    let site = admin_site(&state, &me, &site_key).await?;
    accounts::delete_site(&state.store, &site).await?;
    site_changed(&state, &site_key).await;
    Ok(StatusCode::NO_CONTENT)
}

// -- agents ----------------------------------------------------------------------------------

pub async fn list_agents<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
) -> Result<Json<Vec<AgentProfile>>, ApiError> {
    me.require_admin()?;
    let agents = accounts::account_agents(&state.store, &me.agent.account_id).await?;
    Ok(Json(agents.iter().map(AgentProfile::from).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteInput {
    email: String,
    name: String,
    role: Role,
}

#[derive(Serialize)]
pub struct Invited {
    agent: AgentProfile,
    /// Shown once; the new agent signs in with it and changes it.
    password: String,
}

/// Creates an agent, expert or admin with a one-time password the admin passes on (A1).
pub async fn invite_agent<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Json(input): Json<InviteInput>,
) -> Result<(StatusCode, Json<Invited>), ApiError> {
    me.require_admin()?;
    codec::validate_text("name", &input.name, 120).map_err(invalid)?;
    let email = accounts::normalize_email(&input.email);
    if email.is_empty() {
        return Err(ApiError::bad_request("email must not be empty"));
    }
    codec::validate_email(&email)
        .map_err(|_| ApiError::bad_request("email is not an e-mail address"))?;
    let password = new_password();
    let hash_input = password.clone();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&hash_input))
        .await
        .map_err(|_| ApiError::bad_request("could not hash the password"))?;
    let agent = Agent {
        agent_id: format!("agent-{}", random_hex(8)),
        email,
        account_id: me.agent.account_id.clone(),
        name: input.name.trim().to_string(),
        role: input.role,
        password_hash,
    };
    match accounts::create_agent(&state.store, &agent).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(Invited {
                agent: AgentProfile::from(&agent),
                password,
            }),
        )),
        Err(StoreError::ConditionFailed) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "email_taken",
            "an agent with this e-mail already exists",
        )),
        Err(e) => Err(e.into()),
    }
}

async fn account_agent<S: Store>(
    state: &ApiState<S>,
    me: &CurrentAgent,
    agent_id: &str,
) -> Result<Agent, ApiError> {
    me.require_admin()?;
    accounts::account_agents(&state.store, &me.agent.account_id)
        .await?
        .into_iter()
        .find(|a| a.agent_id == agent_id)
        .ok_or_else(|| ApiError::not_found("no such agent"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdate {
    name: String,
    role: Role,
}

pub async fn update_agent<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Path(agent_id): Path<String>,
    Json(input): Json<AgentUpdate>,
) -> Result<Json<AgentProfile>, ApiError> {
    let agent = account_agent(&state, &me, &agent_id).await?;
    codec::validate_text("name", &input.name, 120).map_err(invalid)?;
    if agent.agent_id == me.agent.agent_id && input.role != Role::Admin {
        return Err(ApiError::bad_request(
            "you cannot take away your own admin role",
        ));
    }
    let agent = Agent {
        name: input.name.trim().to_string(),
        role: input.role,
        ..agent
    };
    accounts::update_agent(&state.store, &agent).await?;
    Ok(Json(AgentProfile::from(&agent)))
}

pub async fn delete_agent<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Path(agent_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let agent = account_agent(&state, &me, &agent_id).await?;
    if agent.agent_id == me.agent.agent_id {
        return Err(ApiError::bad_request("you cannot delete yourself"));
    }
    accounts::delete_agent(&state.store, &agent).await?;
    Ok(StatusCode::NO_CONTENT)
}

// -- offers, canned responses, products --------------------------------------------------------

pub async fn list<S: Store, T: CatalogItem + Serialize>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
) -> Result<Json<Vec<T>>, ApiError> {
    Ok(Json(
        catalog::list_items::<S, T>(&state.store, &me.agent.account_id).await?,
    ))
}

pub async fn create<S: Store, T: CatalogItem + Serialize>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Json(mut item): Json<T>,
) -> Result<(StatusCode, Json<T>), ApiError> {
    me.require_admin()?;
    if item.id().is_empty() {
        item.set_id(random_hex(8));
    }
    catalog::validate_item_id(item.id()).map_err(invalid)?;
    item.validate().map_err(invalid)?;
    catalog::put_item(&state.store, &me.agent.account_id, &item).await?;
    Ok((StatusCode::CREATED, Json(item)))
}

pub async fn update<S: Store, T: CatalogItem + Serialize>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Path(id): Path<String>,
    Json(mut item): Json<T>,
) -> Result<Json<T>, ApiError> {
    me.require_admin()?;
    catalog::validate_item_id(&id).map_err(|_| ApiError::not_found("no such item"))?;
    item.set_id(id);
    item.validate().map_err(invalid)?;
    catalog::put_item(&state.store, &me.agent.account_id, &item).await?;
    Ok(Json(item))
}

pub async fn delete<S: Store, T: CatalogItem>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    me.require_admin()?;
    if catalog::delete_item::<S, T>(&state.store, &me.agent.account_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such item"))
    }
}

#[derive(Deserialize)]
pub struct ProductQuery {
    #[serde(default)]
    q: String,
    brand: Option<String>,
    category: Option<String>,
}

#[derive(Serialize)]
pub struct Gallery {
    products: Vec<Product>,
    /// Every brand and category of the catalogue, for the gallery's filters.
    brands: Vec<String>,
    categories: Vec<String>,
}

/// The product gallery (C6): search by name, filter by brand and category.
pub async fn products<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Query(query): Query<ProductQuery>,
) -> Result<Json<Gallery>, ApiError> {
    let all: Vec<Product> = catalog::list_items(&state.store, &me.agent.account_id).await?;
    let nonempty =
        |values: BTreeSet<String>| values.into_iter().filter(|v| !v.is_empty()).collect();
    Ok(Json(Gallery {
        brands: nonempty(all.iter().map(|p| p.brand.clone()).collect()),
        categories: nonempty(all.iter().map(|p| p.category.clone()).collect()),
        products: catalog::search_products(
            &all,
            &query.q,
            query.brand.as_deref(),
            query.category.as_deref(),
        )
        .into_iter()
        .cloned()
        .collect(),
    }))
}

#[derive(Serialize)]
pub struct Imported {
    imported: usize,
}

/// Imports a catalogue file (CSV or JSON, see [`catalog::parse_catalogue`]); products with
/// an ID replace the product of that ID. A bad row imports nothing and names the row.
pub async fn import_products<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    body: String,
) -> Result<Json<Imported>, ApiError> {
    me.require_admin()?;
    let products = catalog::parse_catalogue(&body).map_err(ApiError::bad_request)?;
    for mut product in products.iter().cloned() {
        if product.product_id.is_empty() {
            product.product_id = random_hex(8);
        }
        catalog::put_item(&state.store, &me.agent.account_id, &product).await?;
    }
    Ok(Json(Imported {
        imported: products.len(),
    }))
}
