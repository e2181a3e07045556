//! Chat over HTTP: the Closed folder and search (C3, C11), message history (for reopening,
//! and for a portal catching up after a reconnect), image uploads and serving blobs.
//! Live traffic (new messages, typing) goes through the hub's WebSocket instead.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use vitrine_core::accounts;
use vitrine_core::codec::validate_id;
use vitrine_core::conversations::{self, ConversationFilter, MESSAGES_PAGE};
use vitrine_core::protocol::{ChatMessage, ConversationStatus, ConversationSummary};
use vitrine_core::store::Store;
use vitrine_store::BlobError;

use crate::{my_site, ApiError, ApiState, CurrentAgent};

#[derive(Deserialize)]
pub struct SearchParams {
    /// One chat (site key); all of the agent's chats when absent.
    site: Option<String>,
    status: Option<ConversationStatus>,
    /// Contact name or e-mail, case-insensitive substring.
    q: Option<String>,
    visitor: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
pub struct FoundConversation {
    site_key: String,
    site_name: String,
    #[serde(flatten)]
    conversation: ConversationSummary,
}

/// Conversations of the agent's chats, newest first, filtered by chat, status and contact.
/// Agents see the closed history of their chats, and open ones that are theirs or pending.
pub async fn search<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Query(params): Query<SearchParams>,
) -> Result<Json<Vec<FoundConversation>>, ApiError> {
    let mut sites = accounts::agent_sites(&state.store, &me.agent).await?;
    if let Some(site) = &params.site {
        sites.retain(|s| &s.site_key == site);
        if sites.is_empty() {
            return Err(ApiError::not_found("no such chat"));
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
            let visible = match conversation.status {
                ConversationStatus::Closed | ConversationStatus::Pending => true,
                ConversationStatus::Active => conversation
                    .owner
                    .as_ref()
                    .is_some_and(|o| o.agent_id == me.agent.agent_id),
            };
            if visible {
                found.push(FoundConversation {
                    site_key: site.site_key.clone(),
                    site_name: site.name.clone(),
                    conversation,
                });
            }
        }
    }
    found.sort_by(|a, b| b.conversation.updated_at.cmp(&a.conversation.updated_at));
    found.truncate(filter.limit as usize);
    Ok(Json(found))
}

#[derive(Deserialize)]
pub struct MessagesParams {
    #[serde(default)]
    after: u64,
}

#[derive(Serialize)]
pub struct MessagesPage {
    conversation: ConversationSummary,
    messages: Vec<ChatMessage>,
}

/// A conversation's messages after `after` (its full history from 0), oldest first.
pub async fn messages<S: Store>(
    State(state): State<ApiState<S>>,
    me: CurrentAgent,
    Path((site, conversation_id)): Path<(String, String)>,
    Query(params): Query<MessagesParams>,
) -> Result<Json<MessagesPage>, ApiError> {
    let not_found = || ApiError::not_found("no such conversation");
    my_site(&state, &me, &site).await.map_err(|_| not_found())?;
    validate_id("conversation_id", &conversation_id).map_err(|_| not_found())?;
    let conversation = conversations::get_conversation(&state.store, &site, &conversation_id)
        .await?
        .ok_or_else(not_found)?;
    if conversation.status == ConversationStatus::Active
        && conversation
            .owner
            .as_ref()
            .is_none_or(|o| o.agent_id != me.agent.agent_id)
    {
        return Err(not_found());
    }
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

#[derive(Serialize)]
pub struct Uploaded {
    blob_id: String,
    url: String,
}

/// An agent uploads an image for a chat message (C6). The body is the raw file; its type
/// is checked from its bytes (PNG, JPEG, GIF, WebP), its size against the limit.
pub async fn upload<S: Store>(
    State(state): State<ApiState<S>>,
    _me: CurrentAgent,
    body: Bytes,
) -> Result<Json<Uploaded>, ApiError> {
    let blob_id = state.blobs.put_image(&body).await.map_err(|e| match e {
        BlobError::TooLarge => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        BlobError::UnsupportedType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            e.to_string(),
        ),
        BlobError::Io(io) => {
            tracing::error!(error = %io, "blob write failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "blob_store_unavailable",
                "could not store the image",
            )
        }
    })?;
    Ok(Json(Uploaded {
        url: format!("/blobs/{blob_id}"),
        blob_id,
    }))
}

/// Serves an uploaded image to the widget (another origin) and the portal. Blobs are
/// immutable; `nosniff` and a locked-down CSP keep a blob from ever running as a page.
pub async fn blob<S: Store>(
    State(state): State<ApiState<S>>,
    Path(blob_id): Path<String>,
) -> Result<Response, ApiError> {
    let (bytes, content_type) = state
        .blobs
        .get(&blob_id)
        .await
        .map_err(|_| ApiError::not_found("no such image"))?
        .ok_or_else(|| ApiError::not_found("no such image"))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
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
