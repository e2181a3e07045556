//! Durable browsing facts (visits, page views) and the reads the portal makes of them.
//! Key design (one table, see ARCHITECTURE.md):
//!
//! | pk                          | sk                         | what              |
//! |-----------------------------|----------------------------|-------------------|
//! | `VISITOR#{site}#{visitor}`  | `VISIT#{visit_id}`         | one visit         |
//! | `VISITOR#{site}#{visitor}`  | `PV#{visit_id}#{seq:010}`  | one page view     |
//!
//! Visit IDs are time-sortable (the widget makes them from its clock), so both kinds sort
//! chronologically. Every write is a conditional put keyed by client-generated IDs, so a
//! resend after a reconnect or a hub restart writes nothing new. Counts are derived by
//! queries: a visit costs one write, a page view one write, a heartbeat none.

use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;

use crate::conversations;
use crate::protocol::{ChatMessage, ConversationSummary, UnixMillis};
use crate::store::{Condition, Item, Query, Store, StoreError, StoreResult};

/// A durable fact the hub asks its adapter to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Visit(VisitRecord),
    PageView(PageViewRecord),
    /// A conversation's lifecycle changed (created, taken, transferred, ended, reopened).
    Conversation(ConversationSummary),
    /// A chat message; answered with [`Written::Message`] (the hub delivers it only then).
    Message(ChatMessage),
    Blocked {
        visitor_id: String,
        blocked: bool,
        at: UnixMillis,
    },
    /// V11: an agent switched calls on or off for the site (stored on the site record).
    CallsSetting {
        enabled: bool,
    },
}

/// What a successful write tells the hub back.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    Visit {
        visitor_id: String,
        visit_id: String,
        visit_count: u32,
    },
    Message {
        conversation_id: String,
        seq: u64,
    },
    Nothing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VisitRecord {
    pub visitor_id: String,
    pub visit_id: String,
    pub started_at: UnixMillis,
    pub country: Option<String>,
    pub city: Option<String>,
    pub referrer: Option<String>,
    pub landing_url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageViewRecord {
    pub visitor_id: String,
    pub visit_id: String,
    pub seq: u32,
    pub url: String,
    pub title: String,
    pub referrer: Option<String>,
    pub at: UnixMillis,
}

/// What the portal shows in a visitor's details (P3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitorDetails {
    pub visitor_id: String,
    pub first_seen_at: UnixMillis,
    pub visit_count: u32,
    pub page_view_count: u32,
    /// Most recent first.
    pub visits: Vec<VisitSummary>,
    /// Most recent first, at most [`HISTORY_LIMIT`].
    pub page_views: Vec<PageViewEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitSummary {
    pub visit_id: String,
    pub started_at: UnixMillis,
    pub country: Option<String>,
    pub city: Option<String>,
    pub referrer: Option<String>,
    pub landing_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PageViewEntry {
    pub visit_id: String,
    pub seq: u32,
    pub url: String,
    pub title: String,
    pub at: UnixMillis,
}

pub const HISTORY_LIMIT: u32 = 100;
pub const VISITS_LIMIT: u32 = 20;

pub fn visitor_pk(site: &str, visitor_id: &str) -> String {
    format!("VISITOR#{site}#{visitor_id}")
}

fn page_view_sk(visit_id: &str, seq: u32) -> String {
    format!("PV#{visit_id}#{seq:010}")
}

/// Writes one record and says what the hub should learn from it.
pub async fn write_record<S: Store>(
    store: &S,
    site: &str,
    record: &Record,
) -> StoreResult<Written> {
    match record {
        Record::Visit(visit) => Ok(Written::Visit {
            visitor_id: visit.visitor_id.clone(),
            visit_id: visit.visit_id.clone(),
            visit_count: record_visit(store, site, visit).await?,
        }),
        Record::CallsSetting { enabled } => {
            if let Some(mut record) = crate::accounts::get_site(store, site).await? {
                record.calls_enabled = *enabled;
                crate::accounts::put_site(store, &record).await?;
            }
            Ok(Written::Nothing)
        }
        Record::PageView(view) => record_page_view(store, site, view)
            .await
            .map(|_| Written::Nothing),
        Record::Conversation(summary) => conversations::save_conversation(store, site, summary)
            .await
            .map(|_| Written::Nothing),
        Record::Message(message) => {
            conversations::save_message(store, site, message).await?;
            Ok(Written::Message {
                conversation_id: message.conversation_id.clone(),
                seq: message.seq,
            })
        }
        Record::Blocked {
            visitor_id,
            blocked,
            at,
        } => conversations::set_blocked(store, site, visitor_id, *blocked, *at)
            .await
            .map(|_| Written::Nothing),
    }
}

pub async fn record_visit<S: Store>(
    store: &S,
    site: &str,
    visit: &VisitRecord,
) -> StoreResult<u32> {
    let pk = visitor_pk(site, &visit.visitor_id);
    let item = Item::new(
        pk.clone(),
        format!("VISIT#{}", visit.visit_id),
        json!({
            "started_at": visit.started_at,
            "country": visit.country,
            "city": visit.city,
            "referrer": visit.referrer,
            "landing_url": visit.landing_url,
        }),
    );
    ignore_existing(store.put(item, Condition::NotExists).await)?;
    Ok(store.count(&pk, "VISIT#").await? as u32)
}

pub async fn record_page_view<S: Store>(
    store: &S,
    site: &str,
    view: &PageViewRecord,
) -> StoreResult<()> {
    let item = Item::new(
        visitor_pk(site, &view.visitor_id),
        page_view_sk(&view.visit_id, view.seq),
        json!({
            "visit_id": view.visit_id,
            "seq": view.seq,
            "url": view.url,
            "title": view.title,
            "referrer": view.referrer,
            "at": view.at,
        }),
    );
    ignore_existing(store.put(item, Condition::NotExists).await)
}

/// A resend of something already stored is success: that is what makes writes idempotent.
fn ignore_existing(result: StoreResult<()>) -> StoreResult<()> {
    match result {
        Err(StoreError::ConditionFailed) => Ok(()),
        other => other,
    }
}

/// The visitor's details for the portal, or `None` if the site never saw them.
pub async fn visitor_details<S: Store>(
    store: &S,
    site: &str,
    visitor_id: &str,
) -> StoreResult<Option<VisitorDetails>> {
    let pk = visitor_pk(site, visitor_id);
    let visits_page = store
        .query(
            Query::prefix(&pk, "VISIT#")
                .descending()
                .limit(VISITS_LIMIT),
        )
        .await?;
    if visits_page.items.is_empty() {
        return Ok(None);
    }
    let first_visit = store.query(Query::prefix(&pk, "VISIT#").limit(1)).await?;
    let views_page = store
        .query(Query::prefix(&pk, "PV#").descending().limit(HISTORY_LIMIT))
        .await?;
    let visits = visits_page
        .items
        .iter()
        .map(|item| {
            Ok(VisitSummary {
                visit_id: item.sk.trim_start_matches("VISIT#").to_string(),
                started_at: item.u64("started_at").unwrap_or(0),
                country: item.str("country").map(str::to_string),
                city: item.str("city").map(str::to_string),
                referrer: item.str("referrer").map(str::to_string),
                landing_url: item.str("landing_url").unwrap_or_default().to_string(),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let page_views = views_page
        .items
        .iter()
        .map(|item| item.decode::<PageViewEntry>())
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(VisitorDetails {
        visitor_id: visitor_id.to_string(),
        first_seen_at: first_visit
            .items
            .first()
            .and_then(|i| i.u64("started_at"))
            .unwrap_or(0),
        visit_count: store.count(&pk, "VISIT#").await? as u32,
        page_view_count: store.count(&pk, "PV#").await? as u32,
        visits,
        page_views,
    }))
}
