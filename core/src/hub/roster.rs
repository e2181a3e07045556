//! The hub's connections: who is on each socket (a visitor's widget or an agent's
//! portal), the per-socket rate limit, the heartbeat sweep, and the indexes every part
//! uses to address frames (a visitor's tabs, the agents).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::AgentIdentity;
use crate::clock::UnixMillis;
use crate::protocol::{Activity, ConnId, Location, OnlineAgent};
use crate::store::agents::Role;

pub(super) struct VisitorConn {
    /// Set by `hello`; cleared by `leave`.
    pub visitor_id: Option<String>,
    /// Said `leave`: this socket is no one any more, and cannot say `hello` again.
    pub left: bool,
    pub location: Location,
    pub activity: Activity,
    pub address: String,
    /// The new visitor's ID if this socket's `hello` proves no one.
    pub nonce: [u8; 16],
}

pub(super) struct AgentConn {
    pub identity: AgentIdentity,
    /// The session the socket was opened with.
    pub session: String,
    pub available: bool,
}

/// Who is on a connection.
pub(super) enum Peer {
    Visitor(VisitorConn),
    Agent(AgentConn),
}

struct Conn {
    peer: Peer,
    last_frame_at: UnixMillis,
    /// When the runtime last answered this socket's ping for the hub (the Durable
    /// Object's auto-response): alive, though no frame reached the hub.
    heard_at: UnixMillis,
    tokens: f64,
    /// Told it is rate-limited; reset when a frame gets through again.
    limited: bool,
}

/// What the rate limit says about a frame.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admission {
    Admitted,
    /// Dropped; `tell` the client once per flood.
    Dropped {
        tell: bool,
    },
    /// No such connection (already closed).
    Unknown,
}

pub(super) struct Roster {
    conns: HashMap<ConnId, Conn>,
    /// The connections that said `hello` as each visitor (their tabs).
    by_visitor: HashMap<String, Vec<ConnId>>,
    agents: BTreeSet<ConnId>,
    sweep_at: Option<UnixMillis>,
    frames_per_second: f64,
    frame_burst: f64,
    heartbeat_timeout_ms: u64,
    sweep_interval_ms: u64,
}

impl Roster {
    pub fn new(config: &super::HubConfig) -> Self {
        Self {
            conns: HashMap::new(),
            by_visitor: HashMap::new(),
            agents: BTreeSet::new(),
            sweep_at: None,
            frames_per_second: config.frames_per_second,
            frame_burst: config.frame_burst,
            heartbeat_timeout_ms: config.heartbeat_timeout_ms,
            sweep_interval_ms: config.sweep_interval_ms,
        }
    }

    pub fn add(&mut self, conn: ConnId, peer: Peer, now: UnixMillis) {
        if let Peer::Agent(_) = peer {
            self.agents.insert(conn);
        }
        self.conns.insert(
            conn,
            Conn {
                peer,
                last_frame_at: now,
                heard_at: now,
                tokens: self.frame_burst,
                limited: false,
            },
        );
        if self.sweep_at.is_none() {
            self.sweep_at = Some(now + self.sweep_interval_ms);
        }
    }

    /// Forgets a connection; returns what it was.
    pub fn remove(&mut self, conn: ConnId) -> Option<Peer> {
        self.unbind_visitor(conn);
        self.agents.remove(&conn);
        self.conns.remove(&conn).map(|c| c.peer)
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns.keys().copied()
    }

    /// The runtime answered a ping on `conn` at `at` (see [`super::Input::Heard`]).
    pub fn heard(&mut self, conn: ConnId, at: UnixMillis) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.heard_at = c.heard_at.max(at);
        }
    }

    pub fn peer(&self, conn: ConnId) -> Option<&Peer> {
        self.conns.get(&conn).map(|c| &c.peer)
    }

    /// Token bucket per connection: a flooding client gets one error and its frames are
    /// dropped; nobody else notices.
    pub fn admit(&mut self, conn: ConnId, now: UnixMillis) -> Admission {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Admission::Unknown;
        };
        let elapsed = now.saturating_sub(c.last_frame_at) as f64 / 1000.0;
        c.tokens = (c.tokens + elapsed * self.frames_per_second).min(self.frame_burst);
        c.last_frame_at = now;
        if c.tokens < 1.0 {
            let tell = !c.limited;
            c.limited = true;
            return Admission::Dropped { tell };
        }
        c.limited = false;
        c.tokens -= 1.0;
        Admission::Admitted
    }

    // -- visitors -------------------------------------------------------------------------

    pub fn visitor_conn(&self, conn: ConnId) -> Option<&VisitorConn> {
        match self.peer(conn) {
            Some(Peer::Visitor(v)) => Some(v),
            _ => None,
        }
    }

    fn visitor_conn_mut(&mut self, conn: ConnId) -> Option<&mut VisitorConn> {
        match self.conns.get_mut(&conn).map(|c| &mut c.peer) {
            Some(Peer::Visitor(v)) => Some(v),
            _ => None,
        }
    }

    /// The visitor a connection said `hello` as.
    pub fn visitor_of(&self, conn: ConnId) -> Option<&str> {
        self.visitor_conn(conn)?.visitor_id.as_deref()
    }

    pub fn bind_visitor(&mut self, conn: ConnId, visitor_id: &str, activity: Activity) {
        let Some(vc) = self.visitor_conn_mut(conn) else {
            return;
        };
        vc.visitor_id = Some(visitor_id.to_string());
        vc.activity = activity;
        self.by_visitor
            .entry(visitor_id.to_string())
            .or_default()
            .push(conn);
    }

    /// The connection no longer counts as its visitor's (left, or closed); returns who.
    pub fn unbind_visitor(&mut self, conn: ConnId) -> Option<String> {
        let visitor_id = self.visitor_conn_mut(conn)?.visitor_id.take()?;
        if let Some(conns) = self.by_visitor.get_mut(&visitor_id) {
            conns.retain(|c| *c != conn);
            if conns.is_empty() {
                self.by_visitor.remove(&visitor_id);
            }
        }
        Some(visitor_id)
    }

    /// `leave`: the socket counts for no one from now on.
    pub fn leave(&mut self, conn: ConnId) -> Option<String> {
        let visitor = self.unbind_visitor(conn);
        if let Some(vc) = self.visitor_conn_mut(conn) {
            vc.left = true;
        }
        visitor
    }

    pub fn set_activity(&mut self, conn: ConnId, activity: Activity) {
        if let Some(vc) = self.visitor_conn_mut(conn) {
            vc.activity = activity;
        }
    }

    /// A visitor's open tabs.
    pub fn visitor_conns(&self, visitor_id: &str) -> &[ConnId] {
        self.by_visitor
            .get(visitor_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Active if any tab is; `None` with no tab open.
    pub fn visitor_activity(&self, visitor_id: &str) -> Option<Activity> {
        let conns = self.visitor_conns(visitor_id);
        if conns.is_empty() {
            return None;
        }
        let active = conns.iter().any(|c| {
            self.visitor_conn(*c)
                .is_some_and(|v| v.activity == Activity::Active)
        });
        Some(if active {
            Activity::Active
        } else {
            Activity::Idle
        })
    }

    /// Every widget that said `hello`.
    pub fn widgets(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.by_visitor.values().flatten().copied()
    }

    // -- agents ---------------------------------------------------------------------------

    pub fn agent(&self, conn: ConnId) -> Option<&AgentConn> {
        match self.peer(conn) {
            Some(Peer::Agent(a)) => Some(a),
            _ => None,
        }
    }

    /// The agent's role or name changed while connected.
    pub fn set_identity(&mut self, conn: ConnId, identity: AgentIdentity) {
        if let Some(Peer::Agent(a)) = self.conns.get_mut(&conn).map(|c| &mut c.peer) {
            a.identity = identity;
        }
    }

    pub fn set_available(&mut self, conn: ConnId, available: bool) {
        if let Some(Peer::Agent(a)) = self.conns.get_mut(&conn).map(|c| &mut c.peer) {
            a.available = available;
        }
    }

    pub fn agents(&self) -> impl Iterator<Item = (ConnId, &AgentConn)> + '_ {
        self.agents
            .iter()
            .filter_map(|c| self.agent(*c).map(|a| (*c, a)))
    }

    /// The connections (tabs) of one agent.
    pub fn agent_conns_of(&self, agent_id: &str) -> Vec<ConnId> {
        self.agents()
            .filter(|(_, a)| a.identity.agent_id == agent_id)
            .map(|(c, _)| c)
            .collect()
    }

    pub fn agent_conns_of_session(&self, agent_id: &str, session: &str) -> Vec<ConnId> {
        self.agents()
            .filter(|(_, a)| a.identity.agent_id == agent_id && a.session == session)
            .map(|(c, _)| c)
            .collect()
    }

    pub fn agent_identity(&self, agent_id: &str) -> Option<&AgentIdentity> {
        self.agents()
            .map(|(_, a)| &a.identity)
            .find(|i| i.agent_id == agent_id)
    }

    /// Agents connected now, one entry per agent (an agent may have several tabs).
    pub fn online_agents(&self) -> Vec<OnlineAgent> {
        let mut by_id: BTreeMap<&str, OnlineAgent> = BTreeMap::new();
        for (_, a) in self.agents() {
            let entry = by_id
                .entry(a.identity.agent_id.as_str())
                .or_insert_with(|| OnlineAgent {
                    agent_id: a.identity.agent_id.clone(),
                    name: a.identity.name.clone(),
                    expert: a.identity.role == Role::Expert,
                    available: false,
                });
            entry.available |= a.available;
        }
        by_id.into_values().collect()
    }

    pub fn any_agent_available(&self) -> bool {
        self.agents().any(|(_, a)| a.available)
    }

    // -- heartbeat sweep --------------------------------------------------------------------

    pub fn next_wakeup(&self) -> Option<UnixMillis> {
        self.sweep_at
    }

    pub fn sweep_due(&self, now: UnixMillis) -> bool {
        self.sweep_at.is_some_and(|at| at <= now)
    }

    /// At the sweep's time: the connections that went silent (a crashed browser never
    /// sends a close). The caller closes them.
    pub fn sweep(&mut self, now: UnixMillis) -> Vec<ConnId> {
        if self.sweep_at.is_none_or(|at| at > now) {
            return Vec::new();
        }
        let timeout = self.heartbeat_timeout_ms;
        let silent = self
            .conns
            .iter()
            .filter(|(_, c)| c.last_frame_at.max(c.heard_at) + timeout <= now)
            .map(|(id, _)| *id)
            .collect();
        self.sweep_at = (!self.conns.is_empty()).then_some(now + self.sweep_interval_ms);
        silent
    }
}
