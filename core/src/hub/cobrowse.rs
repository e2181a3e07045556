//! Co-browsing (P8) in the hub: agents view a visitor's page as the widget records it
//! (rrweb events, masked in the browser), relayed through the hub and never stored.
//!
//! One session per visitor, with its viewers (agent connections). The site may require the
//! visitor's consent first ([`SiteSettings::cobrowse_consent`](super::SiteSettings)); the
//! visitor can stop at any time. One tab records: the one that said hello last (a
//! navigation is a new tab of the same visitor, which records on). A viewer joining late
//! gets a full snapshot. Sessions are soft state: viewers repeat `cobrowse_start` every
//! [`COBROWSE_REFRESH_MS`] (cheap when the session is there), so a hub rebuilt without
//! them (a Durable Object's memory gone) has them back within that time (a site that asks
//! for consent asks again). Each session has a byte budget ([`BYTES_PER_SECOND`], burst
//! [`BURST_BYTES`]): past it, chunks are dropped, viewers are told the mirror is degraded,
//! and once the budget has refilled (a timer: the page may have gone quiet) they are told
//! it is live again and a fresh snapshot is asked for — a whole burst, so the snapshot of
//! a large page fits (the widget sends no batch over 3 MiB). A huge or animated page
//! cannot starve chat and presence.

use std::collections::{BTreeSet, HashMap};

use super::{AgentIdentity, Ctx};
use crate::codec::FrameError;
use crate::protocol::*;

/// What one viewed page may stream, on average.
pub const BYTES_PER_SECOND: f64 = 256.0 * 1024.0;
/// A full snapshot of a large page fits at once.
pub const BURST_BYTES: f64 = 4.0 * 1024.0 * 1024.0;

struct Session {
    viewers: BTreeSet<ConnId>,
    /// Who asked first (named to the visitor).
    agent_name: String,
    /// The visitor accepted, or the site does not ask.
    accepted: bool,
    /// The tab that records.
    recorder: Option<ConnId>,
    tokens: f64,
    at: UnixMillis,
    degraded: bool,
}

impl Session {
    fn refill(&mut self, now: UnixMillis) {
        let elapsed = now.saturating_sub(self.at) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * BYTES_PER_SECOND).min(BURST_BYTES);
        self.at = self.at.max(now);
    }

    /// Degraded, and calm again: live, from a fresh snapshot.
    fn recover(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        if self.tokens < BURST_BYTES {
            return;
        }
        self.degraded = false;
        for &viewer in &self.viewers {
            ctx.to_agent(viewer, state(visitor_id, CobrowseState::Viewing));
        }
        if let Some(recorder) = self.recorder {
            ctx.to_visitor_conn(recorder, VisitorServerFrame::CobrowseSnapshot {});
        }
    }
}

#[derive(Default)]
pub(super) struct Cobrowse {
    sessions: HashMap<String, Session>,
    pub consent_required: bool,
}

fn state(visitor_id: &str, state: CobrowseState) -> AgentServerFrame {
    AgentServerFrame::Cobrowse {
        visitor_id: visitor_id.to_string(),
        state,
    }
}

impl Cobrowse {
    pub fn new() -> Self {
        Self {
            sessions: HashMap::new(),
            consent_required: true,
        }
    }

    /// An agent asks to view the visitor's page.
    pub fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        me: &AgentIdentity,
        visitor_id: &str,
    ) -> Result<(), FrameError> {
        let Some(&tab) = ctx.roster.visitor_conns(visitor_id).last() else {
            return Err(FrameError::new(
                ErrorCode::NotFound,
                "this visitor has no page open",
            ));
        };
        let consent_required = self.consent_required;
        let session = self
            .sessions
            .entry(visitor_id.to_string())
            .or_insert_with(|| Session {
                viewers: BTreeSet::new(),
                agent_name: me.name.clone(),
                accepted: !consent_required,
                recorder: None,
                tokens: BURST_BYTES,
                at: ctx.now,
                degraded: false,
            });
        let new_viewer = session.viewers.insert(conn);
        if !session.accepted {
            ctx.to_agent(conn, state(visitor_id, CobrowseState::Waiting));
            if session.viewers.len() == 1 && new_viewer {
                let frame = VisitorServerFrame::CobrowseRequest {
                    agent_name: session.agent_name.clone(),
                };
                ctx.to_visitor(visitor_id, frame);
            }
            return Ok(());
        }
        let now = match session.degraded {
            true => CobrowseState::Degraded,
            false => CobrowseState::Viewing,
        };
        ctx.to_agent(conn, state(visitor_id, now));
        if !new_viewer {
            // A viewer's periodic refresh: its state is all it needs.
            return Ok(());
        }
        match session.recorder {
            // Recording already: the newcomer needs the page as it is now.
            Some(recorder) => {
                ctx.to_visitor_conn(recorder, VisitorServerFrame::CobrowseSnapshot {})
            }
            None => {
                session.recorder = Some(tab);
                let frame = VisitorServerFrame::CobrowseStart {
                    agent_name: session.agent_name.clone(),
                };
                ctx.to_visitor_conn(tab, frame);
            }
        }
        Ok(())
    }

    /// The visitor answered the request.
    pub fn consent(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, visitor_id: &str, accept: bool) {
        let Some(session) = self.sessions.get_mut(visitor_id) else {
            return;
        };
        if session.accepted {
            return;
        }
        if !accept {
            let session = self.sessions.remove(visitor_id).expect("present");
            for viewer in session.viewers {
                ctx.to_agent(viewer, state(visitor_id, CobrowseState::Refused));
            }
            return;
        }
        session.accepted = true;
        session.recorder = Some(conn);
        for &viewer in &session.viewers {
            ctx.to_agent(viewer, state(visitor_id, CobrowseState::Viewing));
        }
        let frame = VisitorServerFrame::CobrowseStart {
            agent_name: session.agent_name.clone(),
        };
        ctx.to_visitor_conn(conn, frame);
    }

    /// The visitor stops it (or refuses after all).
    pub fn visitor_stop(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        if let Some(session) = self.sessions.remove(visitor_id) {
            for viewer in session.viewers {
                ctx.to_agent(viewer, state(visitor_id, CobrowseState::Stopped));
            }
            ctx.to_visitor(visitor_id, VisitorServerFrame::CobrowseEnd {});
        }
    }

    /// An agent stops viewing; the last one ends the recording.
    pub fn agent_stop(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, visitor_id: &str) {
        let Some(session) = self.sessions.get_mut(visitor_id) else {
            return;
        };
        session.viewers.remove(&conn);
        if session.viewers.is_empty() {
            self.sessions.remove(visitor_id);
            ctx.to_visitor(visitor_id, VisitorServerFrame::CobrowseEnd {});
        }
    }

    /// An agent's connection closed: it views nothing any more.
    pub fn agent_gone(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        let viewed: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.viewers.contains(&conn))
            .map(|(v, _)| v.clone())
            .collect();
        for visitor_id in viewed {
            self.agent_stop(ctx, conn, &visitor_id);
        }
    }

    /// A tab of the visitor said hello (often: the next page): it records from now on.
    pub fn tab_opened(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, visitor_id: &str) {
        let Some(session) = self.sessions.get_mut(visitor_id) else {
            return;
        };
        if !session.accepted {
            let frame = VisitorServerFrame::CobrowseRequest {
                agent_name: session.agent_name.clone(),
            };
            return ctx.to_visitor_conn(conn, frame);
        }
        if let Some(old) = session.recorder.replace(conn) {
            if old != conn && ctx.roster.visitor_conn(old).is_some() {
                ctx.to_visitor_conn(old, VisitorServerFrame::CobrowseEnd {});
            }
        }
        let frame = VisitorServerFrame::CobrowseStart {
            agent_name: session.agent_name.clone(),
        };
        ctx.to_visitor_conn(conn, frame);
    }

    /// The visitor left the site: their viewers are told.
    pub fn visitor_gone(&mut self, ctx: &mut Ctx<'_>, visitor_id: &str) {
        if let Some(session) = self.sessions.remove(visitor_id) {
            for viewer in session.viewers {
                ctx.to_agent(viewer, state(visitor_id, CobrowseState::Gone));
            }
        }
    }

    /// Whether `conn` records `visitor_id`'s page for viewers (its events then bypass the
    /// frame-rate limit for their byte budget).
    pub fn records(&self, visitor_id: &str, conn: ConnId) -> bool {
        self.sessions
            .get(visitor_id)
            .is_some_and(|s| s.accepted && s.recorder == Some(conn))
    }

    /// Recorded events from a tab: relayed to the viewers within the session's budget.
    pub fn events(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        visitor_id: &str,
        seq: u64,
        chunk: String,
        last: bool,
    ) {
        let Some(session) = self.sessions.get_mut(visitor_id) else {
            // Nobody views this page (any more): stop its recorder.
            return ctx.to_visitor_conn(conn, VisitorServerFrame::CobrowseEnd {});
        };
        if !session.accepted || session.recorder != Some(conn) {
            return ctx.to_visitor_conn(conn, VisitorServerFrame::CobrowseEnd {});
        }
        session.refill(ctx.now);
        let cost = chunk.len() as f64;
        if session.degraded {
            // This chunk is stale either way: the viewers start over from a snapshot.
            return session.recover(ctx, visitor_id);
        }
        if session.tokens < cost {
            session.degraded = true;
            for &viewer in &session.viewers {
                ctx.to_agent(viewer, state(visitor_id, CobrowseState::Degraded));
            }
            return;
        }
        session.tokens -= cost;
        let frame = AgentServerFrame::CobrowseEvents {
            visitor_id: visitor_id.to_string(),
            seq,
            chunk,
            last,
        };
        for &viewer in &session.viewers {
            ctx.to_agent(viewer, frame.clone());
        }
    }

    /// When a degraded session will have refilled (the hub's next wakeup).
    pub fn next_wakeup(&self) -> Option<UnixMillis> {
        self.sessions
            .values()
            .filter(|s| s.degraded)
            .map(|s| {
                s.at + ((BURST_BYTES - s.tokens).max(0.0) / BYTES_PER_SECOND * 1000.0).ceil() as u64
            })
            .min()
    }

    /// Degraded sessions whose budget has refilled start over from a snapshot.
    pub fn tick(&mut self, ctx: &mut Ctx<'_>) {
        for (visitor_id, session) in &mut self.sessions {
            if session.degraded {
                session.refill(ctx.now);
                session.recover(ctx, visitor_id);
            }
        }
    }

    /// An agent who views the page points at a spot of it.
    pub fn point(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        me: &AgentIdentity,
        visitor_id: &str,
        x: f64,
        y: f64,
    ) -> Result<(), FrameError> {
        let recorder = self
            .sessions
            .get(visitor_id)
            .filter(|s| s.viewers.contains(&conn) && s.accepted)
            .and_then(|s| s.recorder)
            .ok_or_else(|| FrameError::new(ErrorCode::NotFound, "you are not viewing this page"))?;
        let frame = VisitorServerFrame::CobrowsePoint {
            x,
            y,
            agent_name: me.name.clone(),
        };
        ctx.to_visitor_conn(recorder, frame);
        Ok(())
    }
}
