//! Durable browsing facts (visits, page views) and the reads the portal makes of them (P3).
//!
//! | pk                          | sk                         | what              |
//! |-----------------------------|----------------------------|-------------------|
//! | `VISITOR#{site}#{visitor}`  | `VISIT#{visit_id}`         | one visit         |
//! | `VISITOR#{site}#{visitor}`  | `PV#{visit_id}#{seq:010}`  | one page view     |
//! | `NEXT#{site}#{page}`        | `{next page}`              | K4: how often `next` followed `page` in a visit (counter) |
//! | `VIEWS#{site}`              | `{page}`                   | K4: the page's views (counter) |
//!
//! Pages in K4's counters are [`crate::recommend::page_key`]s; counters restart every
//! [`COUNTS_WINDOW_SECS`], so what shoppers did long ago fades.
//!
//! Visit IDs are time-sortable (the widget makes them from its clock), so both kinds sort
//! chronologically. Every write is a conditional put keyed by client-generated IDs, so a
//! resend after a reconnect or a hub restart writes nothing new. Counts are derived by
//! queries: a visit costs one write, a page view one write, a heartbeat none. The site is
//! part of the key: two sites never see each other's visitors, even with the same ID.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Condition, Item, LocalStore, Query, StoreError, StoreResult};
use crate::clock::UnixMillis;
use crate::recommend::{page_key, SUCCESSORS};

/// One visit of a visitor: where it started and from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Visit {
    #[serde(default)]
    pub visit_id: String,
    pub started_at: UnixMillis,
    pub country: Option<String>,
    pub city: Option<String>,
    pub referrer: Option<String>,
    pub landing_url: String,
}

/// One page a visitor opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitedPage {
    pub visit_id: String,
    pub seq: u32,
    pub url: String,
    pub title: String,
    #[serde(default)]
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
    /// Most recent first, at most [`VISITS_LIMIT`].
    pub visits: Vec<Visit>,
    /// Most recent first, at most [`HISTORY_LIMIT`].
    pub page_views: Vec<VisitedPage>,
}

pub const HISTORY_LIMIT: u32 = 100;
pub const VISITS_LIMIT: u32 = 20;

pub fn visitor_pk(site: &str, visitor_id: &str) -> String {
    format!("VISITOR#{site}#{visitor_id}")
}

fn page_view_sk(visit_id: &str, seq: u32) -> String {
    format!("PV#{visit_id}#{seq:010}")
}

/// Stores a visit (once) and returns how many visits this visitor has made.
pub async fn record_visit<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    visitor_id: &str,
    visit: &Visit,
) -> StoreResult<u32> {
    let pk = visitor_pk(site, visitor_id);
    let item = Item::of(pk.clone(), format!("VISIT#{}", visit.visit_id), visit)?;
    ignore_existing(store.put(item, Condition::NotExists).await)?;
    Ok(store.count(&pk, "VISIT#").await? as u32)
}

/// How long K4's counters count before starting again (90 days).
pub const COUNTS_WINDOW_SECS: u64 = 90 * 24 * 3600;

/// Records a page view; `previous`: the page the visitor was on before, in this visit.
/// K4's counters count it once (a resend finds the view stored and counts nothing).
pub async fn record_page_view<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    visitor_id: &str,
    view: &VisitedPage,
    previous: Option<&str>,
) -> StoreResult<()> {
    let item = Item::of(
        visitor_pk(site, visitor_id),
        page_view_sk(&view.visit_id, view.seq),
        view,
    )?;
    match store.put(item, Condition::NotExists).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Ok(()),
        Err(e) => return Err(e),
    }
    let page = page_key(&view.url);
    let until = view.at / 1000 + COUNTS_WINDOW_SECS;
    store.incr(&format!("VIEWS#{site}"), &page, until).await?;
    if let Some(previous) = previous.map(page_key).filter(|p| *p != page) {
        store
            .incr(&format!("NEXT#{site}#{previous}"), &page, until)
            .await?;
    }
    Ok(())
}

fn counts(items: Vec<Item>) -> Vec<(String, u64)> {
    items
        .into_iter()
        .map(|i| {
            let n = i.u64("n").unwrap_or(0);
            (i.sk, n)
        })
        .collect()
}

/// K4: the pages that followed `page` in visits, and how often.
pub async fn successors<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    page: &str,
) -> StoreResult<Vec<(String, u64)>> {
    let query = Query::prefix(format!("NEXT#{site}#{page}"), "").limit(SUCCESSORS);
    Ok(counts(store.query(query).await?.items))
}

/// K4: the site's pages and their views (the first 1,000 pages by key).
pub async fn page_views_by_page<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
) -> StoreResult<Vec<(String, u64)>> {
    let query = Query::prefix(format!("VIEWS#{site}"), "").limit(1000);
    Ok(counts(store.query(query).await?.items))
}

/// A resend of something already stored is success: that is what makes writes idempotent.
fn ignore_existing(result: StoreResult<()>) -> StoreResult<()> {
    match result {
        Err(StoreError::ConditionFailed) => Ok(()),
        other => other,
    }
}

fn decode_visit(item: &Item) -> StoreResult<Visit> {
    let mut visit: Visit = item.decode()?;
    visit.visit_id = item.sk.trim_start_matches("VISIT#").to_string();
    Ok(visit)
}

/// The visitor's details for the portal, or `None` if the site never saw them.
pub async fn visitor_details<S: LocalStore + ?Sized>(
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
    Ok(Some(VisitorDetails {
        visitor_id: visitor_id.to_string(),
        first_seen_at: first_visit
            .items
            .first()
            .and_then(|i| i.u64("started_at"))
            .unwrap_or(0),
        visit_count: store.count(&pk, "VISIT#").await? as u32,
        page_view_count: store.count(&pk, "PV#").await? as u32,
        visits: visits_page
            .items
            .iter()
            .map(decode_visit)
            .collect::<StoreResult<_>>()?,
        page_views: views_page
            .items
            .iter()
            .map(Item::decode)
            .collect::<StoreResult<_>>()?,
    }))
}
