//! Conversations over HTTP: the Closed folder and search (C3, C11), message history (for
//! reopening, and for a portal catching up after a reconnect), image uploads and serving
//! blobs. Live traffic (new messages, typing) goes through the hub's WebSocket instead.
//! Who may read what is `access::may_read_conversation`, the hub's rule too.

use crate::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vitrine_core::access::may_read_conversation;
use vitrine_core::codec::validate_id;
use vitrine_core::protocol::http::{ConversationQuery, FoundConversation, MessagesPage, Uploaded};
use vitrine_core::store::accounts;
use vitrine_core::store::blobs::{self, BlobError, BlobStore};
use vitrine_core::store::conversations::{self, ConversationFilter, MESSAGES_PAGE};

use crate::{my_site, ApiError, ApiState, Backend, CurrentAgent};

/// Conversations of the agent's sites, newest first, filtered by site, status and contact.
pub async fn search<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Query(params): Query<ConversationQuery>,
) -> Result<Json<Vec<FoundConversation>>, ApiError> {
    let mut sites = accounts::agent_sites(&state.store, &me.agent).await?;
    if let Some(site) = &params.site {
        sites.retain(|s| &s.site_key == site);
        if sites.is_empty() {
            return Err(ApiError::not_found("no such site"));
        }
    }
    let filter = ConversationFilter {
        status: params.status,
        contact: params.q.filter(|q| !q.trim().is_empty()),
        visitor_id: params.visitor,
        limit: params.limit.unwrap_or(100).min(500),
    };
    let mut found = Vec::new();
    for site in sites {
        for conversation in
            conversations::list_conversations(&state.store, &site.site_key, &filter).await?
        {
            if may_read_conversation(&me.agent.agent_id, &conversation) {
                found.push(FoundConversation {
                    site_key: site.site_key.clone(),
                    site_name: site.name.clone(),
                    conversation,
                });
            }
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.conversation.updated_at));
    found.truncate(filter.limit as usize);
    Ok(Json(found))
}

#[derive(Deserialize)]
pub struct MessagesParams {
    #[serde(default)]
    after: u64,
}

/// A conversation's messages after `after` (its full history from 0), oldest first.
pub async fn messages<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, conversation_id)): Path<(String, String)>,
    Query(params): Query<MessagesParams>,
) -> Result<Json<MessagesPage>, ApiError> {
    let not_found = || ApiError::not_found("no such conversation");
    my_site(&state, &me, &site).await.map_err(|_| not_found())?;
    validate_id("conversation_id", &conversation_id).map_err(|_| not_found())?;
    let conversation = conversations::get_conversation(&state.store, &site, &conversation_id)
        .await?
        .filter(|c| may_read_conversation(&me.agent.agent_id, c))
        .ok_or_else(not_found)?;
    let messages = conversations::messages_after(
        &state.store,
        &site,
        &conversation_id,
        params.after,
        MESSAGES_PAGE,
    )
    .await?;
    Ok(Json(MessagesPage {
        conversation,
        messages,
    }))
}

fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::TooLarge => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        BlobError::UnsupportedType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            e.to_string(),
        ),
        BlobError::Backend(cause) => {
            tracing::error!(error = %cause, "blob store failed");
            ApiError::unavailable("blob_store_unavailable", "could not store the image")
        }
    }
}

/// An agent uploads an image for a chat message (C6). The body is the raw file; its type
/// is checked from its bytes (PNG, JPEG, GIF, WebP), its size against the limit.
pub async fn upload<S: Backend, B: BlobStore + Sync>(
    State(state): State<ApiState<S, B>>,
    _me: CurrentAgent,
    body: Bytes,
) -> Result<Json<Uploaded>, ApiError> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).expect("the OS has a random source");
    let blob_id = blobs::store_image(&state.blobs, body.to_vec(), random)
        .await
        .map_err(blob_error)?;
    Ok(Json(Uploaded {
        url: format!("/blobs/{blob_id}"),
        blob_id,
    }))
}

/// Serves an uploaded image to the widget (another origin) and the portal. Blobs are
/// immutable; `nosniff` and a locked-down CSP keep a blob from ever running as a page.
pub async fn blob<S: Backend, B: BlobStore + Sync>(
    State(state): State<ApiState<S, B>>,
    Path(blob_id): Path<String>,
) -> Result<Response, ApiError> {
    let blob = blobs::image(&state.blobs, &blob_id)
        .await
        .map_err(blob_error)?
        .ok_or_else(|| ApiError::not_found("no such image"))?;
    let mut response = blob.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&blob.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    Ok(response)
}
