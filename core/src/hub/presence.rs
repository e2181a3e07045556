//! Presence: the site's visitors (visit, current page, status), the agents' live list
//! (batched updates), and availability (P1–P6).
//!
//! Status: `active` if any of a visitor's tabs is, `idle` if all are, `offline` once
//! their last tab has been gone for the grace period (a page load closes one socket and
//! opens the next; the list must not flicker); offline visitors are removed after the
//! retention period.

use std::collections::{BTreeSet, HashMap};

use super::timers::Timers;
use super::{Ctx, Event, HubConfig, Roster, StoreOp};
use crate::protocol::*;
use crate::store::browsing::{Visit, VisitedPage};

/// The live list's signals other parts own (P4, P7).
pub(super) struct RowMarks {
    pub in_call: bool,
    pub call_requested: bool,
    pub unread: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Send an agent connection its batched list changes.
    Flush(ConnId),
    /// A visitor's last tab closed this long ago: offline now?
    Grace(String),
    /// Offline this long: remove from the list?
    Expire(String),
}

struct Visitor {
    visit_id: String,
    visit_started_at: UnixMillis,
    page: CurrentPage,
    page_seq: u32,
    location: Location,
    left_at: Option<UnixMillis>,
    offline_since: Option<UnixMillis>,
    status: VisitorStatus,
    visit_count: u32,
    /// K1: who the shop said this visitor is (after a rebuild: what the row showed).
    identity: Option<Identity>,
    /// The contact the row names: the identity once the store holds its card, so an agent
    /// who opens the card on seeing the name finds it (the store answers after the hub).
    contact: Option<ContactRef>,
    /// How often that changed while the hub knew them (bounded: each change is written).
    identity_changes: u8,
}

/// Identities one visitor may take while the hub knows them: a shop signs in and out a few
/// times; more is someone making contacts (each change is a few store writes).
pub(super) const MAX_IDENTITY_CHANGES: u8 = 5;

/// What an identification did to the visitor's row.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Identified {
    Same,
    Changed,
    TooMany,
}

/// List changes waiting for one agent connection's next flush.
#[derive(Default)]
struct Batch {
    last_flush_at: Option<UnixMillis>,
    scheduled: bool,
    changed: BTreeSet<String>,
    removed: BTreeSet<String>,
}

pub(super) struct Presence {
    visitors: HashMap<String, Visitor>,
    batches: HashMap<ConnId, Batch>,
    site_available: bool,
    timers: Timers<Timer>,
    offline_grace_ms: u64,
    offline_retention_ms: u64,
    flush_interval_ms: u64,
}

impl Presence {
    pub fn new(config: &HubConfig) -> Self {
        Self {
            visitors: HashMap::new(),
            batches: HashMap::new(),
            site_available: false,
            timers: Timers::default(),
            offline_grace_ms: config.offline_grace_ms,
            offline_retention_ms: config.offline_retention_ms,
            flush_interval_ms: config.agent_flush_interval_ms,
        }
    }

    pub fn len(&self) -> usize {
        self.visitors.len()
    }

    /// Whether the visitor is in the list (online, or offline and not yet removed).
    pub fn contains(&self, visitor_id: &str) -> bool {
        self.visitors.contains_key(visitor_id)
    }

    /// The page a visitor is on (or was on last).
    pub fn page_url(&self, visitor_id: &str) -> Option<&str> {
        self.visitors.get(visitor_id).map(|v| v.page.url.as_str())
    }

    pub fn site_available(&self) -> bool {
        self.site_available
    }

    pub fn next_wakeup(&self) -> Option<UnixMillis> {
        self.timers.next()
    }

    // -- visitors ---------------------------------------------------------------------------

    /// A tab said hello (the roster has bound it to the visitor already).
    pub fn hello(
        &mut self,
        ctx: &mut Ctx<'_>,
        visitor_id: &str,
        visit_id: String,
        visit_age_ms: u64,
        page: PageView,
        location: Location,
    ) {
        let now = ctx.now;
        let is_new_visit = self
            .visitors
            .get(visitor_id)
            .is_none_or(|v| v.visit_id != visit_id);
        if is_new_visit {
            let visit_started_at = now.saturating_sub(visit_age_ms);
            ctx.store(StoreOp::Visit {
                visitor_id: visitor_id.to_string(),
                visit: Visit {
                    visit_id: visit_id.clone(),
                    started_at: visit_started_at,
                    country: location.country.clone(),
                    city: location.city.clone(),
                    referrer: page.referrer.clone(),
                    landing_url: page.url.clone(),
                },
            });
            record_page_view(ctx, visitor_id, &visit_id, &page, None);
            self.visitors.insert(
                visitor_id.to_string(),
                Visitor {
                    visit_id,
                    visit_started_at,
                    page: current_page(&page, now),
                    page_seq: page.seq,
                    location,
                    left_at: None,
                    offline_since: None,
                    status: VisitorStatus::Active,
                    visit_count: 0,
                    identity: None,
                    contact: None,
                    identity_changes: 0,
                },
            );
        } else {
            let v = self.visitors.get_mut(visitor_id).expect("checked above");
            v.left_at = None;
            v.offline_since = None;
            if location.country.is_some() {
                v.location = location;
            }
            if page.seq > v.page_seq {
                let previous = std::mem::replace(&mut v.page, current_page(&page, now));
                v.page_seq = page.seq;
                let visit_id = v.visit_id.clone();
                record_page_view(ctx, visitor_id, &visit_id, &page, Some(previous.url));
            }
        }
        self.refresh_status(ctx, visitor_id);
        self.mark_changed(ctx, visitor_id);
    }

    /// What a rebuilt hub needs to show the visitor as before ([`super::Resumable`]).
    pub fn seen(&self, visitor_id: &str) -> Option<super::SeenVisitor> {
        let v = self.visitors.get(visitor_id)?;
        Some(super::SeenVisitor {
            visitor_id: visitor_id.to_string(),
            visit_id: v.visit_id.clone(),
            visit_started_at: v.visit_started_at,
            visit_count: v.visit_count,
            page: v.page.clone(),
            page_seq: v.page_seq,
            contact: v.contact.clone(),
        })
    }

    /// A tab of a rebuilt hub: the visitor is back as they were, and nobody is told (the
    /// agents' lists have them already).
    pub fn resume(&mut self, roster: &Roster, seen: super::SeenVisitor, location: Location) {
        let status = match roster.visitor_activity(&seen.visitor_id) {
            Some(Activity::Idle) => VisitorStatus::Idle,
            _ => VisitorStatus::Active,
        };
        let v = self
            .visitors
            .entry(seen.visitor_id)
            .or_insert_with(|| Visitor {
                visit_id: seen.visit_id,
                visit_started_at: seen.visit_started_at,
                page: seen.page.clone(),
                page_seq: seen.page_seq,
                location,
                left_at: None,
                offline_since: None,
                status,
                visit_count: seen.visit_count,
                identity: seen.contact.clone().map(|c| Identity {
                    id: c.contact_id,
                    name: c.name,
                    email: c.email,
                    ..Identity::default()
                }),
                contact: seen.contact.clone(),
                identity_changes: 0,
            });
        // Tabs may have been remembered at different times: the latest page wins.
        if seen.page_seq > v.page_seq {
            v.page = seen.page;
            v.page_seq = seen.page_seq;
        }
        v.status = status;
    }

    pub fn page_view(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str, page: PageView) {
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return;
        };
        if page.seq <= v.page_seq {
            return; // a resend, or an older tab: already recorded
        }
        let previous = std::mem::replace(&mut v.page, current_page(&page, ctx.now));
        v.page_seq = page.seq;
        let visit_id = v.visit_id.clone();
        record_page_view(ctx, visitor_id, &visit_id, &page, Some(previous.url));
        self.mark_changed(ctx, visitor_id);
    }

    /// One of the visitor's tabs closed or left (the roster no longer counts it).
    pub fn tab_closed(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return;
        };
        if ctx.roster.visitor_conns(visitor_id).is_empty() {
            v.left_at = Some(ctx.now);
            self.timers.insert(
                ctx.now + self.offline_grace_ms,
                Timer::Grace(visitor_id.to_string()),
            );
        } else {
            self.refresh_status(ctx, visitor_id);
        }
    }

    /// Who the shop says this visitor is (K1).
    pub fn identity(&self, visitor_id: &str) -> Option<&Identity> {
        self.visitors.get(visitor_id)?.identity.as_ref()
    }

    /// The visit the visitor is on.
    pub fn visit_id(&self, visitor_id: &str) -> Option<&str> {
        Some(self.visitors.get(visitor_id)?.visit_id.as_str())
    }

    /// The shop identified the visitor; their row names them once it is stored
    /// ([`Self::contact_stored`]).
    pub fn identified(&mut self, visitor_id: &str, identity: &Identity) -> Identified {
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return Identified::Same;
        };
        if v.identity.as_ref() == Some(identity) {
            return Identified::Same;
        }
        if v.identity_changes >= MAX_IDENTITY_CHANGES {
            return Identified::TooMany;
        }
        v.identity_changes += 1;
        v.identity = Some(identity.clone());
        Identified::Changed
    }

    /// The store holds the contact of this identity: the row names it, unless the shop
    /// said someone else meanwhile (that one's write comes next).
    pub fn contact_stored(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str, identity: &Identity) {
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return;
        };
        if v.identity.as_ref() != Some(identity) {
            return;
        }
        let contact = Some(contact_ref(identity));
        if v.contact != contact {
            v.contact = contact;
            self.mark_changed(ctx, visitor_id);
        }
    }

    pub fn visit_counted(
        &mut self,
        ctx: &mut Ctx<'_>,
        visitor_id: &str,
        visit_id: &str,
        visit_count: u32,
    ) {
        if let Some(v) = self.visitors.get_mut(visitor_id) {
            if v.visit_id == visit_id && v.visit_count != visit_count {
                v.visit_count = visit_count;
                self.mark_changed(ctx, visitor_id);
            }
        }
    }

    /// Recomputes a visitor's status from their tabs; marks the row changed if it moved.
    pub fn refresh_status(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return;
        };
        let status = if v.offline_since.is_some() {
            VisitorStatus::Offline
        } else {
            match ctx.roster.visitor_activity(visitor_id) {
                // Inside the grace period: keep what the agents saw.
                None => v.status,
                Some(Activity::Active) => VisitorStatus::Active,
                Some(Activity::Idle) => VisitorStatus::Idle,
            }
        };
        if status != v.status {
            v.status = status;
            self.mark_changed(ctx, visitor_id);
        }
    }

    // -- agents -------------------------------------------------------------------------------

    pub fn agent_connected(&mut self, _ctx: &mut Ctx<'_>, conn: ConnId) {
        self.batches.insert(
            conn,
            Batch {
                // The snapshot just went out: the next change waits one interval.
                last_flush_at: Some(_ctx.now),
                ..Batch::default()
            },
        );
    }

    /// An agent's socket of a rebuilt hub: their list is current, so their next update
    /// carries only what changes from now on.
    pub fn agent_resumed(&mut self, roster: &Roster, conn: ConnId, now: UnixMillis) {
        self.batches.insert(
            conn,
            Batch {
                last_flush_at: Some(now),
                ..Batch::default()
            },
        );
        self.site_available = roster.any_agent_available();
    }

    pub fn agent_disconnected(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        self.batches.remove(&conn);
        self.update_availability(ctx);
    }

    pub fn availability_for(&self, roster: &Roster, conn: ConnId) -> AgentAvailability {
        AgentAvailability {
            me: roster.agent(conn).is_some_and(|a| a.available),
            site: roster.any_agent_available(),
            agents_online: roster.agents().count() as u32,
        }
    }

    /// An agent flipped their toggle (the roster has it already).
    pub fn availability_toggled(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        let before = self.site_available;
        self.update_availability(ctx);
        if before == self.site_available {
            // Nobody else's view changed, but this agent's own toggle did.
            let frame = AgentServerFrame::Availability(self.availability_for(ctx.roster, conn));
            ctx.to_agent(conn, frame);
        }
    }

    /// Recomputes whether any agent is available (P5): the widgets hear when that changed,
    /// every agent in any case (the count of agents online may have moved).
    pub fn update_availability(&mut self, ctx: &mut Ctx<'_>) {
        let available = ctx.roster.any_agent_available();
        if available != self.site_available {
            self.site_available = available;
            ctx.to_widgets(VisitorServerFrame::Availability {
                agents_available: available,
            });
        }
        let agents = ctx.roster.online_agents();
        let conns: Vec<ConnId> = ctx.roster.agents().map(|(c, _)| c).collect();
        for conn in conns {
            let frame = AgentServerFrame::Availability(self.availability_for(ctx.roster, conn));
            ctx.to_agent(conn, frame);
            ctx.to_agent(
                conn,
                AgentServerFrame::Agents {
                    agents: agents.clone(),
                },
            );
        }
    }

    // -- the live list ------------------------------------------------------------------------

    pub fn rows(&self, marks: &dyn Fn(&str) -> RowMarks) -> Vec<LiveVisitor> {
        self.visitors
            .iter()
            .map(|(id, v)| row(id, v, marks(id)))
            .collect()
    }

    /// The visitor's row goes to every agent at their next flush.
    pub fn mark_changed(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        if !self.visitors.contains_key(visitor_id) {
            return;
        }
        for (conn, batch) in self.batches.iter_mut() {
            batch.removed.remove(visitor_id);
            batch.changed.insert(visitor_id.to_string());
            schedule(
                &mut self.timers,
                *conn,
                batch,
                self.flush_interval_ms,
                ctx.now,
            );
        }
    }

    fn mark_removed(&mut self, now: UnixMillis, visitor_id: &str) {
        for (conn, batch) in self.batches.iter_mut() {
            batch.changed.remove(visitor_id);
            batch.removed.insert(visitor_id.to_string());
            schedule(&mut self.timers, *conn, batch, self.flush_interval_ms, now);
        }
    }

    /// Fires due timers: flushes, grace periods, retention.
    pub fn tick(&mut self, ctx: &mut Ctx<'_>, marks: &dyn Fn(&str) -> RowMarks) {
        while let Some(timer) = self.timers.pop_due(ctx.now) {
            match timer {
                Timer::Flush(conn) => self.flush(ctx, conn, marks),
                Timer::Grace(visitor_id) => self.grace_expired(ctx, &visitor_id),
                Timer::Expire(visitor_id) => self.retention_expired(ctx, &visitor_id),
            }
        }
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, marks: &dyn Fn(&str) -> RowMarks) {
        let Some(batch) = self.batches.get_mut(&conn) else {
            return;
        };
        batch.scheduled = false;
        if batch.changed.is_empty() && batch.removed.is_empty() {
            return;
        }
        batch.last_flush_at = Some(ctx.now);
        let changed = std::mem::take(&mut batch.changed);
        let removed = std::mem::take(&mut batch.removed).into_iter().collect();
        let upserts = changed
            .iter()
            .filter_map(|id| self.visitors.get(id).map(|v| row(id, v, marks(id))))
            .collect();
        ctx.to_agent(
            conn,
            AgentServerFrame::VisitorsChanged {
                upserts,
                removed,
                server_now: ctx.now,
            },
        );
    }

    fn grace_expired(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        let now = ctx.now;
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return;
        };
        let due = ctx.roster.visitor_conns(visitor_id).is_empty()
            && v.offline_since.is_none()
            && v.left_at
                .is_some_and(|left| left + self.offline_grace_ms <= now);
        if due {
            v.offline_since = Some(now);
            self.timers.insert(
                now + self.offline_retention_ms,
                Timer::Expire(visitor_id.to_string()),
            );
            self.refresh_status(ctx, visitor_id);
        }
    }

    fn retention_expired(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        let due = self
            .visitors
            .get(visitor_id)
            .and_then(|v| v.offline_since)
            .is_some_and(|since| since + self.offline_retention_ms <= ctx.now);
        if due {
            self.visitors.remove(visitor_id);
            self.mark_removed(ctx.now, visitor_id);
            ctx.emit(Event::VisitorGone(visitor_id.to_string()));
        }
    }
}

fn schedule(
    timers: &mut Timers<Timer>,
    conn: ConnId,
    batch: &mut Batch,
    interval: u64,
    now: UnixMillis,
) {
    if batch.scheduled {
        return;
    }
    batch.scheduled = true;
    let at = batch
        .last_flush_at
        .map_or(now, |last| (last + interval).max(now));
    timers.insert(at, Timer::Flush(conn));
}

fn record_page_view(
    ctx: &mut Ctx<'_>,
    visitor_id: &str,
    visit_id: &str,
    page: &PageView,
    previous_url: Option<String>,
) {
    ctx.store(StoreOp::PageView {
        previous_url,
        visitor_id: visitor_id.to_string(),
        page: VisitedPage {
            visit_id: visit_id.to_string(),
            seq: page.seq,
            url: page.url.clone(),
            title: page.title.clone(),
            referrer: page.referrer.clone(),
            at: ctx.now.saturating_sub(page.opened_ms_ago),
        },
    });
}

fn current_page(page: &PageView, now: UnixMillis) -> CurrentPage {
    CurrentPage {
        url: page.url.clone(),
        title: page.title.clone(),
        opened_at: now.saturating_sub(page.opened_ms_ago),
    }
}

fn row(id: &str, v: &Visitor, marks: RowMarks) -> LiveVisitor {
    LiveVisitor {
        visitor_id: id.to_string(),
        status: v.status,
        left_at: v.left_at.filter(|_| v.status == VisitorStatus::Offline),
        visit_started_at: v.visit_started_at,
        page: v.page.clone(),
        location: v.location.clone(),
        returning: v.visit_count > 1,
        visit_count: v.visit_count,
        page_views_this_visit: v.page_seq,
        in_call: marks.in_call,
        call_requested: marks.call_requested,
        unread: marks.unread,
        contact: v.contact.clone(),
    }
}

fn contact_ref(identity: &Identity) -> ContactRef {
    ContactRef {
        contact_id: identity.id.clone(),
        name: identity.name.clone(),
        email: identity.email.clone(),
    }
}
