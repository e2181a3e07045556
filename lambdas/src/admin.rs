//! Admin endpoints (A1–A3): sites (each one widget: a site key, its consultants, allowed origins),
//! agents and experts, and what agents use in conversations — offers, canned responses, the
//! product catalogue. Everything is scoped to the admin's account; reading offers, canned
//! responses and products is open to every agent of the account (they use them).

use std::collections::BTreeSet;

use crate::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Serialize;
use vitrine_core::codec::{self, is_http_url};
use vitrine_core::protocol::http::{AgentUpdate, Gallery, Imported, ProductQuery, SiteInput};
use vitrine_core::store::accounts::{self, Site, SiteEdit};
use vitrine_core::store::agents::{self, Agent, AgentProfile, Role};
use vitrine_core::store::catalog::{self, CatalogItem, Product};
use vitrine_core::store::StoreError;

use crate::{changed, ApiError, ApiState, Backend, Changed, CurrentAgent};

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).expect("the OS has a random source");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn invalid(e: codec::FrameError) -> ApiError {
    ApiError::bad_request(e.message)
}

// -- sites ------------------------------------------------------------------------------------

/// Checks a site's fields against the admin's account; returns the normalised edit.
async fn checked_site<S: Backend, B>(
    state: &ApiState<S, B>,
    me: &CurrentAgent,
    input: SiteInput,
) -> Result<SiteEdit, ApiError> {
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
    let agents = agents::account_agents(&state.store, &me.agent.account_id).await?;
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
    Ok(SiteEdit {
        name: input.name.trim().to_string(),
        active: input.active,
        allowed_origins: origins,
        consultants: consultants.into_iter().collect(),
        language: input.language,
        typing_preview: input.typing_preview,
        cobrowse_consent: input.cobrowse_consent,
    })
}

pub async fn list_sites<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<Json<Vec<Site>>, ApiError> {
    me.require_admin()?;
    Ok(Json(
        accounts::account_sites(&state.store, &me.agent.account_id).await?,
    ))
}

pub async fn create_site<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
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
        language: input.language,
        typing_preview: input.typing_preview,
        cobrowse_consent: input.cobrowse_consent,
    };
    accounts::put_site(&state.store, &site).await?;
    let identity = accounts::SiteIdentity {
        secret: crate::contacts::new_identity_secret(),
        required: true,
    };
    accounts::put_site_identity(&state.store, &site.site_key, &identity).await?;
    Ok((StatusCode::CREATED, Json(site)))
}

pub(crate) async fn admin_site<S: Backend, B>(
    state: &ApiState<S, B>,
    me: &CurrentAgent,
    site_key: &str,
) -> Result<Site, ApiError> {
    me.require_admin()?;
    accounts::get_site(&state.store, site_key)
        .await?
        .filter(|s| s.account_id == me.agent.account_id)
        .ok_or_else(|| ApiError::not_found("no such site"))
}

pub(crate) async fn site_changed<S, B>(state: &ApiState<S, B>, site_key: &str) {
    changed(
        state,
        Changed::Site {
            site_key: site_key.to_string(),
        },
    )
    .await;
}

/// Edit, activate or deactivate a site, or change its consultants (A2). Only these
/// attributes are written: an agent's calls switch made meanwhile stays as it is.
pub async fn update_site<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(site_key): Path<String>,
    Json(input): Json<SiteInput>,
) -> Result<Json<Site>, ApiError> {
    let existing = admin_site(&state, &me, &site_key).await?;
    let edit = checked_site(&state, &me, input).await?;
    let site = match accounts::edit_site(&state.store, &existing, &edit).await {
        Err(StoreError::ConditionFailed) => return Err(ApiError::not_found("no such site")),
        other => other?,
    };
    site_changed(&state, &site_key).await;
    Ok(Json(site))
}

pub async fn delete_site<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(site_key): Path<String>,
) -> Result<StatusCode, ApiError> {
    let site = admin_site(&state, &me, &site_key).await?;
    accounts::delete_site(&state.store, &site).await?;
    site_changed(&state, &site_key).await;
    Ok(StatusCode::NO_CONTENT)
}

// -- agents ----------------------------------------------------------------------------------

pub async fn list_agents<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<Json<Vec<AgentProfile>>, ApiError> {
    me.require_admin()?;
    let agents = agents::account_agents(&state.store, &me.agent.account_id).await?;
    Ok(Json(agents.iter().map(AgentProfile::from).collect()))
}

async fn account_agent<S: Backend, B>(
    state: &ApiState<S, B>,
    me: &CurrentAgent,
    agent_id: &str,
) -> Result<Agent, ApiError> {
    me.require_admin()?;
    agents::account_agents(&state.store, &me.agent.account_id)
        .await?
        .into_iter()
        .find(|a| a.agent_id == agent_id)
        .ok_or_else(|| ApiError::not_found("no such agent"))
}

async fn agent_changed<S, B>(state: &ApiState<S, B>, agent: &Agent) {
    let change = Changed::Agent {
        account_id: agent.account_id.clone(),
        agent_id: agent.agent_id.clone(),
    };
    changed(state, change).await;
}

pub async fn update_agent<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
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
    agents::update_agent(&state.store, &agent).await?;
    // Their open sockets follow at once (an agent who lost a site's access drops off it).
    agent_changed(&state, &agent).await;
    Ok(Json(AgentProfile::from(&agent)))
}

pub async fn delete_agent<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(agent_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let agent = account_agent(&state, &me, &agent_id).await?;
    if agent.agent_id == me.agent.agent_id {
        return Err(ApiError::bad_request("you cannot delete yourself"));
    }
    // Their sessions end with them, and their open sockets close now.
    agents::delete_agent(&state.store, &agent).await?;
    agent_changed(&state, &agent).await;
    Ok(StatusCode::NO_CONTENT)
}

// -- offers, canned responses, products --------------------------------------------------------

pub async fn list<S: Backend, B, T: CatalogItem + Serialize>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<Json<Vec<T>>, ApiError> {
    Ok(Json(
        catalog::list_items::<S, T>(&state.store, &me.agent.account_id).await?,
    ))
}

pub async fn create<S: Backend, B, T: CatalogItem + Serialize>(
    State(state): State<ApiState<S, B>>,
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

pub async fn update<S: Backend, B, T: CatalogItem + Serialize>(
    State(state): State<ApiState<S, B>>,
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

pub async fn delete<S: Backend, B, T: CatalogItem>(
    State(state): State<ApiState<S, B>>,
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

/// The product gallery (C6): search by name, filter by brand and category.
pub async fn products<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Query(query): Query<ProductQuery>,
) -> Result<Json<Gallery>, ApiError> {
    let all: Vec<Product> =
        catalog::list_items::<S, Product>(&state.store, &me.agent.account_id).await?;
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

/// Imports a catalogue file (CSV or JSON, see [`catalog::parse_catalogue`]); products with
/// an ID replace the product of that ID. A bad row imports nothing and names the row.
pub async fn import_products<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
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
