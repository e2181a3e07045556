//! The shop's REST API (K1): its backend upserts, reads and imports contacts with an API
//! key of its account (`Authorization: Bearer vk_…`), made, listed and revoked by admins.
//!
//! A key reaches the sites of its account only: any other site is "not found", whether it
//! exists or not. Each key has scopes (`contacts:read`, `contacts:write`) and a rate
//! ([`api_keys::PER_MINUTE`]). What the shop sends is vouched for (verified contacts).

use crate::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use vitrine_core::clock::now_ms;
use vitrine_core::codec::{self, validate_contact_id};
use vitrine_core::protocol::http::{
    ApiKeyInput, ContactUpsert, ContactsImported, NewApiKey, RowError,
};
use vitrine_core::protocol::Identity;
use vitrine_core::store::accounts::{self, Site};
use vitrine_core::store::api_keys::{self, ApiKey, Scope, MAX_KEYS};
use vitrine_core::store::contacts::{self, ContactCard, Identified, MAX_TAGS, MAX_TAG_CHARS};

use crate::admin::random_hex;
use crate::contacts::card_of;
use crate::{ApiError, ApiState, Backend, CurrentAgent};

/// Rows one import takes at most (a bigger list goes in several requests).
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// A request authenticated by an API key.
pub struct ShopKey(pub ApiKey);

impl<S: Backend, B: Sync> FromRequestParts<ApiState<S, B>> for ShopKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState<S, B>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("send the API key: Authorization: Bearer vk_…")
            })?;
        let key = api_keys::authenticate(&state.store, token.trim())
            .await?
            .ok_or_else(|| ApiError::unauthorized("this API key is not valid (revoked?)"))?;
        if !api_keys::within_rate(&state.store, &key.key_id, now_ms()).await? {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "more than {} requests this minute with this key",
                    api_keys::PER_MINUTE
                ),
            ));
        }
        Ok(Self(key))
    }
}

fn no_contact() -> ApiError {
    ApiError::not_found("no such contact on this site")
}

/// The site, if it is the key's account's and the key has `scope`.
async fn key_site<S: Backend, B>(
    state: &ApiState<S, B>,
    key: &ApiKey,
    scope: Scope,
    site: &str,
) -> Result<Site, ApiError> {
    if !key.allows(scope) {
        let scope = serde_json::to_value(scope).expect("an enum");
        return Err(ApiError::forbidden(format!(
            "this API key lacks the {} scope",
            scope.as_str().unwrap_or_default()
        )));
    }
    match accounts::get_site(&state.store, site).await? {
        Some(site) if site.account_id == key.account_id => Ok(site),
        _ => Err(ApiError::not_found("no such site in this key's account")),
    }
}

pub async fn read<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    ShopKey(key): ShopKey,
    Path((site, contact_id)): Path<(String, String)>,
) -> Result<Json<ContactCard>, ApiError> {
    let site = key_site(&state, &key, Scope::ContactsRead, &site).await?;
    validate_contact_id(&contact_id).map_err(|_| no_contact())?;
    Ok(Json(card_of(&state, &site, &contact_id).await?))
}

/// Checks one contact as the shop sent it; the message says which field is wrong.
fn checked(
    contact_id: &str,
    input: &ContactUpsert,
) -> Result<(Identity, Option<Vec<String>>), String> {
    let blank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let identity = Identity {
        id: contact_id.to_string(),
        name: blank(&input.name),
        email: blank(&input.email),
        phone: blank(&input.phone),
        address: blank(&input.address),
    };
    codec::validate_identity(&identity).map_err(|e| e.message)?;
    if let Some(tags) = &input.tags {
        if tags.len() > MAX_TAGS {
            return Err(format!("at most {MAX_TAGS} tags"));
        }
        if tags
            .iter()
            .any(|t| t.trim().chars().count() > MAX_TAG_CHARS)
        {
            return Err(format!("a tag is at most {MAX_TAG_CHARS} characters"));
        }
    }
    Ok((identity, input.tags.clone()))
}

async fn upsert_one<S: Backend, B>(
    state: &ApiState<S, B>,
    site: &Site,
    identity: &Identity,
    tags: Option<Vec<String>>,
) -> Result<(), ApiError> {
    let now = now_ms();
    // The shop's own backend vouches for what it sends.
    let done = contacts::upsert(&state.store, &site.site_key, identity, true, now).await?;
    debug_assert_eq!(
        done,
        Identified::Linked,
        "a verified upsert is never refused"
    );
    if let Some(tags) = tags {
        contacts::set_tags(&state.store, &site.site_key, &identity.id, &tags, now).await?;
    }
    Ok(())
}

pub async fn upsert<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    ShopKey(key): ShopKey,
    Path((site, contact_id)): Path<(String, String)>,
    Json(input): Json<ContactUpsert>,
) -> Result<Json<ContactCard>, ApiError> {
    let site = key_site(&state, &key, Scope::ContactsWrite, &site).await?;
    let (identity, tags) = checked(&contact_id, &input).map_err(ApiError::bad_request)?;
    upsert_one(&state, &site, &identity, tags).await?;
    Ok(Json(card_of(&state, &site, &contact_id).await?))
}

/// A CSV of contacts: a header naming the columns (`id` required; `name`, `email`,
/// `phone`, `address`, `tags` with tags separated by `;`), one contact per row. Good rows
/// are imported; each bad one is reported by its line number and skipped.
pub async fn import<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    ShopKey(key): ShopKey,
    Path(site): Path<String>,
    body: String,
) -> Result<Json<ContactsImported>, ApiError> {
    let site = key_site(&state, &key, Scope::ContactsWrite, &site).await?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::bad_request(format!("line 1: {e}")))?
        .iter()
        .map(str::to_lowercase)
        .collect();
    const COLUMNS: [&str; 6] = ["id", "name", "email", "phone", "address", "tags"];
    if let Some(unknown) = header.iter().find(|h| !COLUMNS.contains(&h.as_str())) {
        return Err(ApiError::bad_request(format!(
            "line 1: unknown column {unknown:?} (columns: {})",
            COLUMNS.join(", ")
        )));
    }
    let column = |name: &str| header.iter().position(|h| h == name);
    let id_column =
        column("id").ok_or_else(|| ApiError::bad_request("line 1: an id column is required"))?;
    let mut imported = 0;
    let mut errors = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row = index as u64 + 2;
        if index >= MAX_IMPORT_ROWS {
            errors.push(RowError {
                row,
                message: format!(
                    "at most {MAX_IMPORT_ROWS} rows per import: send the rest in another"
                ),
            });
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                errors.push(RowError {
                    row,
                    message: e.to_string(),
                });
                continue;
            }
        };
        if record.len() != header.len() {
            errors.push(RowError {
                row,
                message: format!(
                    "{} fields where the header has {}",
                    record.len(),
                    header.len()
                ),
            });
            continue;
        }
        let field = |name: &str| {
            column(name)
                .map(|i| record[i].to_string())
                .filter(|v| !v.is_empty())
        };
        let id = record[id_column].to_string();
        let input = ContactUpsert {
            name: field("name"),
            email: field("email"),
            phone: field("phone"),
            address: field("address"),
            tags: field("tags").map(|t| {
                t.split(';')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            }),
        };
        match checked(&id, &input) {
            Ok((identity, tags)) => {
                upsert_one(&state, &site, &identity, tags).await?;
                imported += 1;
            }
            Err(message) => errors.push(RowError { row, message }),
        }
    }
    Ok(Json(ContactsImported { imported, errors }))
}

// -- admins: the account's keys ------------------------------------------------------------

pub async fn list_keys<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    me.require_admin()?;
    Ok(Json(
        api_keys::list(&state.store, &me.agent.account_id).await?,
    ))
}

pub async fn create_key<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Json(input): Json<ApiKeyInput>,
) -> Result<(StatusCode, Json<NewApiKey>), ApiError> {
    me.require_admin()?;
    codec::validate_text("name", &input.name, 80).map_err(|e| ApiError::bad_request(e.message))?;
    if input.scopes.is_empty() {
        return Err(ApiError::bad_request("a key needs at least one scope"));
    }
    if api_keys::list(&state.store, &me.agent.account_id)
        .await?
        .len()
        >= MAX_KEYS
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_keys",
            format!("an account holds at most {MAX_KEYS} keys: revoke one first"),
        ));
    }
    let mut scopes = input.scopes.clone();
    scopes.dedup();
    let key = ApiKey {
        key_id: random_hex(8),
        account_id: me.agent.account_id.clone(),
        name: input.name.trim().to_string(),
        scopes,
        created_at: now_ms(),
        created_by: me.agent.name.clone(),
    };
    let secret = random_hex(32);
    api_keys::create(&state.store, &key, &secret).await?;
    let token = api_keys::token(&key.key_id, &secret);
    Ok((StatusCode::CREATED, Json(NewApiKey { key, token })))
}

pub async fn revoke_key<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(key_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    me.require_admin()?;
    if key_id.len() != 16 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found("no such key"));
    }
    match api_keys::revoke(&state.store, &me.agent.account_id, &key_id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("no such key")),
    }
}
