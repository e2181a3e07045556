//! Durable chat: conversations, their messages and blocked visitors, on the [`Store`].
//!
//! | pk                              | sk                | what                                   |
//! |---------------------------------|-------------------|----------------------------------------|
//! | `CONVS#{site}`                  | `{conversation}`  | summary (lists, search; newest last)   |
//! | `OPEN#{site}`                   | `{conversation}`  | marker while pending/active (restore)  |
//! | `MSGS#{site}#{conversation}`    | `{seq:012}`       | one message                            |
//! | `BLOCKED#{site}`                | `{visitor}`       | a blocked visitor (C9)                 |
//!
//! Conversation IDs start with their creation time in base 36, so `CONVS#` sorts by age.
//! A message costs one conditional write (keyed by its sequence number); the summary is
//! written on lifecycle changes only (created, taken, transferred, ended, reopened), and
//! what changes with every message (preview, last seq, unread) is rebuilt from the
//! messages when a hub restores its open conversations.

use serde_json::json;

use super::{Condition, Item, LocalStore, Query, StoreError, StoreResult, Write};
use crate::protocol::{Author, ChatMessage, ConversationStatus, ConversationSummary, UnixMillis};

/// Messages a hub keeps per open conversation (for resume and resend detection).
pub const RECENT_MESSAGES: u32 = 200;
/// Longest page of messages the API returns.
pub const MESSAGES_PAGE: u32 = 500;

fn convs_pk(site: &str) -> String {
    format!("CONVS#{site}")
}
fn open_pk(site: &str) -> String {
    format!("OPEN#{site}")
}
fn messages_pk(site: &str, conversation_id: &str) -> String {
    format!("MSGS#{site}#{conversation_id}")
}
fn blocked_pk(site: &str) -> String {
    format!("BLOCKED#{site}")
}
fn seq_sk(seq: u64) -> String {
    format!("{seq:012}")
}

/// A time-sortable conversation ID made from the visitor's ID and the first message's
/// client ID: two visitors who write at the same millisecond with the same client ID (a
/// client picks its own) still get two conversations.
pub fn new_conversation_id(now: UnixMillis, visitor_id: &str, client_id: &str) -> String {
    let visitor: String = visitor_id.chars().take(12).collect();
    let client: String = client_id.chars().take(24).collect();
    format!("{:0>9}-{visitor}-{client}", base36(now))
}

pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// The summary and its open-index marker (present while pending or active), as writes.
fn summary_writes(site: &str, summary: &ConversationSummary) -> StoreResult<Vec<Write>> {
    let id = &summary.conversation_id;
    let marker = if summary.status == ConversationStatus::Closed {
        Write::Delete {
            pk: open_pk(site),
            sk: id.clone(),
        }
    } else {
        Write::Put {
            item: Item::new(open_pk(site), id.clone(), json!({})),
            condition: Condition::Always,
        }
    };
    Ok(vec![
        Write::Put {
            item: Item::new(convs_pk(site), id.clone(), encode(summary)?),
            condition: Condition::Always,
        },
        marker,
    ])
}

/// Writes a conversation's summary and keeps the open index in step with its status, in
/// one transaction.
pub async fn save_conversation<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    summary: &ConversationSummary,
) -> StoreResult<()> {
    store.transact(summary_writes(site, summary)?).await
}

/// A conversation's summary with one of its messages, in one transaction: a conversation
/// is created with its first message or not at all. A resend of that message (same seq
/// and client ID, already stored) writes the summary alone.
pub async fn open_conversation<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    summary: &ConversationSummary,
    message: &ChatMessage,
) -> StoreResult<()> {
    let mut writes = summary_writes(site, summary)?;
    writes.push(Write::Put {
        item: Item::new(
            messages_pk(site, &message.conversation_id),
            seq_sk(message.seq),
            encode(message)?,
        ),
        condition: Condition::NotExists,
    });
    match store.transact(writes).await {
        Err(StoreError::ConditionFailed) if is_stored(store, site, message).await? => {
            save_conversation(store, site, summary).await
        }
        other => other,
    }
}

/// Whether exactly this message (seq and client ID) is stored already.
async fn is_stored<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    message: &ChatMessage,
) -> StoreResult<bool> {
    Ok(store
        .get(
            &messages_pk(site, &message.conversation_id),
            &seq_sk(message.seq),
        )
        .await?
        .is_some_and(|item| item.str("client_id") == Some(message.client_id.as_str())))
}

/// Stores one message. A resend of the same message (same seq and client ID) is success;
/// a different message under a taken seq is `ConditionFailed`.
pub async fn save_message<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    message: &ChatMessage,
) -> StoreResult<()> {
    let pk = messages_pk(site, &message.conversation_id);
    let sk = seq_sk(message.seq);
    match store
        .put(Item::new(pk, sk, encode(message)?), Condition::NotExists)
        .await
    {
        Err(StoreError::ConditionFailed) if is_stored(store, site, message).await? => Ok(()),
        other => other,
    }
}

/// Messages of any conversations in one transaction (the hub's group commit), at most
/// [`super::MAX_TRANSACTION_WRITES`]. A message stored already (a resend whose first answer was
/// lost) fails the transaction; then each is written alone, as [`save_message`] does.
pub async fn save_messages<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    messages: &[ChatMessage],
) -> StoreResult<()> {
    if let [message] = messages {
        return save_message(store, site, message).await;
    }
    let writes = messages
        .iter()
        .map(|m| {
            Ok(Write::Put {
                item: Item::new(
                    messages_pk(site, &m.conversation_id),
                    seq_sk(m.seq),
                    encode(m)?,
                ),
                condition: Condition::NotExists,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    match store.transact(writes).await {
        Err(StoreError::ConditionFailed) => {
            for message in messages {
                save_message(store, site, message).await?;
            }
            Ok(())
        }
        other => other,
    }
}

pub async fn set_blocked<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    visitor_id: &str,
    blocked: bool,
    at: UnixMillis,
) -> StoreResult<()> {
    if blocked {
        store
            .put(
                Item::new(blocked_pk(site), visitor_id, json!({ "at": at })),
                Condition::Always,
            )
            .await
    } else {
        store.delete(&blocked_pk(site), visitor_id).await
    }
}

pub async fn blocked_visitors<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
) -> StoreResult<Vec<String>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::prefix(blocked_pk(site), "")
                    .after(cursor)
                    .limit(1000),
            )
            .await?;
        out.extend(page.items.into_iter().map(|i| i.sk));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

pub async fn get_conversation<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    conversation_id: &str,
) -> StoreResult<Option<ConversationSummary>> {
    match store.get(&convs_pk(site), conversation_id).await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

/// The last `limit` messages of a conversation, oldest first.
pub async fn recent_messages<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    conversation_id: &str,
    limit: u32,
) -> StoreResult<Vec<ChatMessage>> {
    let page = store
        .query(
            Query::prefix(messages_pk(site, conversation_id), "")
                .descending()
                .limit(limit),
        )
        .await?;
    let mut messages = page
        .items
        .iter()
        .map(Item::decode)
        .collect::<StoreResult<Vec<ChatMessage>>>()?;
    messages.reverse();
    Ok(messages)
}

/// Messages with a sequence number above `after_seq`, oldest first, at most `limit`.
pub async fn messages_after<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    conversation_id: &str,
    after_seq: u64,
    limit: u32,
) -> StoreResult<Vec<ChatMessage>> {
    let page = store
        .query(
            Query::prefix(messages_pk(site, conversation_id), "")
                .after(Some(seq_sk(after_seq)))
                .limit(limit),
        )
        .await?;
    page.items.iter().map(Item::decode).collect()
}

/// A conversation with its recent messages, with the per-message summary fields (preview,
/// last seq, unread) rebuilt from those messages.
pub async fn load_conversation<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    conversation_id: &str,
) -> StoreResult<Option<(ConversationSummary, Vec<ChatMessage>)>> {
    let Some(mut summary) = get_conversation(store, site, conversation_id).await? else {
        return Ok(None);
    };
    let messages = recent_messages(store, site, conversation_id, RECENT_MESSAGES).await?;
    if let Some(last) = messages.last() {
        summary.last_seq = summary.last_seq.max(last.seq);
        summary.preview = last.body.preview();
        summary.updated_at = summary.updated_at.max(last.at);
    }
    summary.unread = messages
        .iter()
        .rev()
        .take_while(|m| !matches!(m.author, Author::Agent { .. }))
        .filter(|m| m.author == Author::Visitor)
        .count() as u32;
    Ok(Some((summary, messages)))
}

/// Everything a hub needs when it starts: the open conversations and the blocked visitors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Restored {
    pub conversations: Vec<(ConversationSummary, Vec<ChatMessage>)>,
    pub blocked: Vec<String>,
}

pub async fn load_open<S: LocalStore + ?Sized>(store: &S, site: &str) -> StoreResult<Restored> {
    let mut conversations = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(Query::prefix(open_pk(site), "").after(cursor).limit(1000))
            .await?;
        for item in &page.items {
            if let Some(loaded) = load_conversation(store, site, &item.sk).await? {
                if loaded.0.status != ConversationStatus::Closed {
                    conversations.push(loaded);
                }
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(Restored {
        conversations,
        blocked: blocked_visitors(store, site).await?,
    })
}

/// Filters for the conversation list of the portal (folders and search, C3/C11).
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    /// Case-insensitive substring of the contact's name or e-mail.
    pub contact: Option<String>,
    pub visitor_id: Option<String>,
    pub limit: u32,
}

/// Conversations of a site, newest first. The search filters a bounded scan of the site's
/// conversation partition (newest 5,000), which DynamoDB serves as one paginated query.
pub async fn list_conversations<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    filter: &ConversationFilter,
) -> StoreResult<Vec<ConversationSummary>> {
    const SCAN_LIMIT: usize = 5000;
    let needle = filter.contact.as_ref().map(|c| c.trim().to_lowercase());
    let limit = filter.limit.clamp(1, 500) as usize;
    let mut out = Vec::new();
    let mut scanned = 0;
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::prefix(convs_pk(site), "")
                    .descending()
                    .after(cursor)
                    .limit(500),
            )
            .await?;
        scanned += page.items.len();
        for item in &page.items {
            let summary: ConversationSummary = item.decode()?;
            if filter.status.is_some_and(|s| s != summary.status) {
                continue;
            }
            if filter
                .visitor_id
                .as_ref()
                .is_some_and(|v| *v != summary.visitor_id)
            {
                continue;
            }
            if let Some(needle) = needle.as_deref().filter(|n| !n.is_empty()) {
                let hay = |s: &Option<String>| {
                    s.as_deref()
                        .is_some_and(|s| s.to_lowercase().contains(needle))
                };
                if !hay(&summary.contact.name) && !hay(&summary.contact.email) {
                    continue;
                }
            }
            out.push(summary);
            if out.len() >= limit {
                return Ok(out);
            }
        }
        match page.next {
            Some(next) if scanned < SCAN_LIMIT => cursor = Some(next),
            _ => return Ok(out),
        }
    }
}
