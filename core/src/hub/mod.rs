//! The hub: all live state of one site, as one sans-IO state machine.
//!
//! It owns typed parts, each with its own state, timers and actions, as `str0m::Rtc`
//! owns its ICE agent, DTLS and session:
//!
//! - [`roster`]: the connections (who is on each socket), rate limits, heartbeat sweep;
//! - [`presence`]: visitors, visits and pages, status, the agents' live list, availability;
//! - [`conversations`]: chat (lifecycle, delivery after storage, typing, blocks);
//! - [`calls`]: who is invited to, in or asking for a call, and their call tokens;
//! - [`storage`]: the store requests in flight (ordering, retries, restore).
//!
//! The hub routes every input to the part it is for, with one exhaustive `match` per
//! frame enum, and carries what one part tells another (a visitor's row changed, a call
//! note for the chat, a write for the store) as internal events.
//!
//! # Run loop
//!
//! An adapter (the local tokio server, the Cloudflare Durable Object, a test) keeps one
//! rule: **everything goes through [`Hub::handle`] with the time, and everything the hub
//! returns is carried out.**
//!
//! 1. Create the hub with [`Hub::new`]. A new hub first restores its conversations from
//!    the store: [`Hub::next_wakeup`] is due at once, and the first `handle` asks for it.
//!    Inputs that arrive meanwhile wait inside the hub (bounded).
//! 2. For every event, call `handle(input, now)` with the wall clock in milliseconds:
//!    a socket accepted ([`Input::VisitorConnected`] / [`Input::AgentConnected`], after
//!    [`crate::access`] admitted it); each data message, turned into an input by
//!    [`crate::codec::inbound`]; a socket gone ([`Input::Disconnected`]); the site's
//!    settings whenever they are (re)read ([`Input::SiteSettings`]); a signed call event
//!    ([`Input::CallEvent`]); and [`Input::Tick`] when `next_wakeup()` is reached.
//! 3. Carry out every [`Output`], in order: send frames ([`crate::codec::encode`]) to the
//!    connection's bounded queue (drop a connection whose queue is full: never let one
//!    slow browser hold up the hub); close connections with the code and reason given,
//!    after the frames queued before the close; run each [`Output::Store`] request with
//!    [`storage::perform`] — concurrently, the hub orders what must be ordered — and
//!    hand its reply back as [`Input::Stored`], whatever the outcome.
//! 4. After every `handle`, re-arm one timer for `next_wakeup()`.
//!
//! The hub never reads a clock, does I/O or draws random numbers, so tests drive it with
//! explicit times and no sleeps, and the same code runs in wasm32 and natively.

mod calls;
pub mod cobrowse;
mod conversations;
mod presence;
pub mod resume;
mod roster;
pub mod storage;
mod timers;

use std::collections::{BTreeSet, VecDeque};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::access;
use crate::codec::FrameError;
use crate::protocol::media::{CallEvent, MediaCommand};
use crate::protocol::*;
use crate::store::accounts::{admits_role, Language, SiteIdentity};
use crate::store::agents::Role;
use crate::store::contacts::StoredEvent;

pub use calls::{CallConfig, SiteSettings};
pub use resume::{Resumable, SeenVisitor};
pub use storage::{StoreOp, StoreReply, StoreRequest};

use calls::Calls;
use cobrowse::Cobrowse;
use conversations::Conversations;
use presence::{Identified, Presence, RowMarks};
use roster::{Admission, AgentConn, Peer, Roster, VisitorConn};
use storage::{Delivery, Storage};

#[derive(Debug, Clone)]
pub struct HubConfig {
    /// A visitor whose last page closed is shown offline only after this long, so a
    /// navigation to the next page (disconnect + reconnect) does not flicker.
    pub offline_grace_ms: u64,
    /// How long an offline visitor stays in the list before it is removed.
    pub offline_retention_ms: u64,
    /// A connection that sent nothing (not even a ping) for this long is closed.
    pub heartbeat_timeout_ms: u64,
    /// Minimum time between two list updates to one agent (updates are batched).
    pub agent_flush_interval_ms: u64,
    /// How often idle connections are checked against the heartbeat timeout.
    pub sweep_interval_ms: u64,
    /// Frames per second a connection may send on average, and the burst it may use.
    pub frames_per_second: f64,
    pub frame_burst: f64,
    /// Chat messages per second one visitor may send on average (all tabs), and the burst.
    pub visitor_messages_per_second: f64,
    pub visitor_message_burst: f64,
    /// New conversations one network address may open (burst, then per second): one
    /// person switching identities cannot flood the agents with pending conversations.
    pub address_conversation_burst: f64,
    pub address_conversations_per_second: f64,
    /// The media node (calls are unavailable without one).
    pub calls: Option<CallConfig>,
    /// Signs visitor credentials (see `access::visitor_credential`). Secret, and stable:
    /// changing it makes every browser a new visitor.
    pub visitor_key: Vec<u8>,
    /// Say what each connection needs to survive a rebuild ([`Output::Remember`]): on for
    /// a Durable Object, whose memory goes while its sockets stay (see [`resume`]).
    pub remember: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            offline_grace_ms: 6_000,
            offline_retention_ms: 120_000,
            heartbeat_timeout_ms: 75_000,
            agent_flush_interval_ms: 40,
            sweep_interval_ms: 15_000,
            frames_per_second: 10.0,
            frame_burst: 40.0,
            visitor_messages_per_second: 0.5,
            visitor_message_burst: 8.0,
            address_conversation_burst: 5.0,
            address_conversations_per_second: 1.0 / 60.0,
            calls: None,
            visitor_key: Vec::new(),
            remember: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentIdentity {
    pub agent_id: String,
    pub name: String,
    /// Admins work on every site of their account; agents and experts where assigned.
    /// Experts are transfer targets (C8) like agents, shown apart.
    pub role: Role,
}

impl AgentIdentity {
    pub fn as_ref(&self) -> AgentRef {
        AgentRef {
            agent_id: self.agent_id.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A widget's socket was accepted (its site and origin admitted).
    VisitorConnected {
        conn: ConnId,
        location: Location,
        /// The network address the socket came from (limits are per address).
        address: String,
        /// 16 random bytes: the ID of a new visitor if this socket turns out to be one (the
        /// hub draws no randomness of its own).
        nonce: [u8; 16],
    },
    /// An agent's socket was accepted (session and site checked).
    AgentConnected {
        conn: ConnId,
        agent: AgentIdentity,
        /// The session it was opened with ([`crate::store::agents::session_id`]): the
        /// socket lives only as long as that session.
        session: String,
        available: bool,
    },
    FromVisitor {
        conn: ConnId,
        frame: VisitorFrame,
    },
    FromAgent {
        conn: ConnId,
        frame: AgentFrame,
    },
    /// A message that did not decode: answered with an error (and the socket closed if it
    /// was too large); counts against the rate limit.
    Rejected {
        conn: ConnId,
        error: FrameError,
    },
    Disconnected {
        conn: ConnId,
    },
    /// A connection of an earlier hub of this site, taken back silently after the
    /// adapter lost the hub but not the socket (a Durable Object evicted while hibernating).
    Resume {
        conn: ConnId,
        state: Resumable,
    },
    /// The runtime answered these connections' pings itself, last at these times (a
    /// Durable Object's auto-response, which never wakes the hub): they are alive.
    /// Adapters say it, for all their sockets at once, before a sweep ([`Hub::sweep_due`]).
    Heard(Vec<(ConnId, UnixMillis)>),
    /// The answer to an [`Output::Store`] request, success or not.
    Stored(StoreReply),
    /// The site's settings, whenever the adapter (re)reads them. Unchanged is a no-op;
    /// agents no longer assigned to the site lose their sockets at once.
    SiteSettings(SiteSettings),
    /// An agent was changed (role) or removed (`None`): their sockets follow at once.
    AgentChanged {
        agent_id: String,
        agent: Option<AgentIdentity>,
    },
    /// A session ended (signed out, or revoked by a password change): the sockets opened
    /// with it close at once.
    SessionEnded {
        agent_id: String,
        session: String,
    },
    /// The media node reported on a call (signature already checked, C14).
    CallEvent(CallEvent),
    /// Time passed; fires due timers.
    Tick,
}

// Outputs live only until the adapter drains them after each input: boxing the big
// variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    ToVisitor {
        conn: ConnId,
        frame: VisitorServerFrame,
    },
    ToAgent {
        conn: ConnId,
        frame: AgentServerFrame,
    },
    Close {
        conn: ConnId,
        code: u16,
        reason: String,
    },
    /// Run with [`storage::perform`]; answer with [`Input::Stored`].
    Store(StoreRequest),
    /// Tell the media node (POST to its control endpoint, signed with the media key).
    Media(MediaCommand),
    /// Keep this beside the socket and hand it back as [`Input::Resume`] to a new hub
    /// (only with [`HubConfig::remember`]).
    Remember { conn: ConnId, state: Resumable },
}

/// What one part tells the others, routed by the hub after the part acted.
#[allow(clippy::large_enum_variant)] // short-lived, like outputs
#[derive(Debug)]
enum Event {
    /// A visitor's row in the live list changed (unread, in call, call request).
    RowChanged(String),
    /// A line for the visitor's conversation, opening one owned by `agent` if needed (C14).
    CallNote {
        visitor_id: String,
        agent: AgentRef,
        note: ChatEvent,
    },
    /// A durable write or a read.
    Store(StoreOp),
    /// A visitor left the site for good; parts drop what they keep about them.
    VisitorGone(String),
}

/// What a part may touch while it acts: the time, the connections (read-only), and the
/// outputs and events it produces.
struct Ctx<'a> {
    now: UnixMillis,
    roster: &'a Roster,
    out: &'a mut Vec<Output>,
    events: &'a mut VecDeque<Event>,
}

// `to_…` reads "send to …" here, not a conversion.
#[allow(clippy::wrong_self_convention)]
impl Ctx<'_> {
    fn to_visitor_conn(&mut self, conn: ConnId, frame: VisitorServerFrame) {
        self.out.push(Output::ToVisitor { conn, frame });
    }

    /// To every tab of a visitor.
    fn to_visitor(&mut self, visitor_id: &str, frame: VisitorServerFrame) {
        for &conn in self.roster.visitor_conns(visitor_id) {
            self.out.push(Output::ToVisitor {
                conn,
                frame: frame.clone(),
            });
        }
    }

    fn to_agent(&mut self, conn: ConnId, frame: AgentServerFrame) {
        self.out.push(Output::ToAgent { conn, frame });
    }

    /// To every connection of the agents `which` selects.
    fn to_agents(&mut self, which: impl Fn(&AgentConn) -> bool, frame: AgentServerFrame) {
        for (conn, _) in self.roster.agents().filter(|(_, a)| which(a)) {
            self.out.push(Output::ToAgent {
                conn,
                frame: frame.clone(),
            });
        }
    }

    /// To every widget that said hello.
    fn to_widgets(&mut self, frame: VisitorServerFrame) {
        for conn in self.roster.widgets() {
            self.out.push(Output::ToVisitor {
                conn,
                frame: frame.clone(),
            });
        }
    }

    /// An error frame, in the connection's own protocol.
    fn error(&mut self, conn: ConnId, error: FrameError) {
        let frame = error.to_frame();
        match self.roster.peer(conn) {
            Some(Peer::Visitor(_)) => self.to_visitor_conn(conn, VisitorServerFrame::Error(frame)),
            Some(Peer::Agent(_)) => self.to_agent(conn, AgentServerFrame::Error(frame)),
            None => {}
        }
    }

    fn close(&mut self, conn: ConnId, code: u16, reason: &str) {
        self.out.push(Output::Close {
            conn,
            code,
            reason: reason.into(),
        });
    }

    fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    fn store(&mut self, op: StoreOp) {
        self.emit(Event::Store(op));
    }
}

/// A [`Ctx`] over a hub's fields (not the whole hub, so a part can act while it exists).
macro_rules! ctx {
    ($hub:ident, $now:expr) => {
        Ctx {
            now: $now,
            roster: &$hub.roster,
            out: &mut $hub.out,
            events: &mut $hub.events,
        }
    };
}

/// Inputs a hub holds while it restores, at most; beyond, new sockets are turned away
/// (their widgets retry) so a store outage cannot grow memory without bound.
const MAX_WAITING_INPUTS: usize = 10_000;

/// All live state of one site.
pub struct Hub {
    site: String,
    roster: Roster,
    presence: Presence,
    conversations: Conversations,
    calls: Calls,
    cobrowse: Cobrowse,
    storage: Storage,
    /// The site's consultants: agents (not admins) must be one to stay connected.
    consultants: Vec<String>,
    /// B4: the widget's language, if an admin forced one (told to widgets on `welcome`).
    language: Option<Language>,
    /// C4: off, visitors' drafts never reach agents (and widgets are told not to send them).
    typing_preview: bool,
    /// K1: how the shop's identities are checked.
    identity: Option<SiteIdentity>,
    visitor_key: Vec<u8>,
    /// Until the store has answered the restore request: the inputs that came meanwhile.
    restoring: Option<VecDeque<Input>>,
    /// With `remember`: the connections whose [`Resumable`] the last input changed.
    touched: Option<BTreeSet<ConnId>>,
    out: Vec<Output>,
    events: VecDeque<Event>,
}

impl Hub {
    /// A hub for `site` (the site key). It restores itself before handling anything.
    pub fn new(site: impl Into<String>, config: HubConfig) -> Self {
        let site = site.into();
        Self {
            roster: Roster::new(&config),
            presence: Presence::new(&config),
            conversations: Conversations::new(&config),
            calls: Calls::new(&site, config.calls.clone()),
            cobrowse: Cobrowse::new(),
            storage: Storage::default(),
            consultants: Vec::new(),
            language: None,
            typing_preview: true,
            identity: None,
            visitor_key: config.visitor_key.clone(),
            restoring: Some(VecDeque::new()),
            touched: config.remember.then(BTreeSet::new),
            out: Vec::new(),
            events: VecDeque::new(),
            site,
        }
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    /// Applies one input at time `now` and returns what the adapter must do.
    pub fn handle(&mut self, input: Input, now: UnixMillis) -> Vec<Output> {
        if let Some(waiting) = &mut self.restoring {
            if !self.storage.restore_requested() {
                self.storage.request(StoreOp::Restore, &mut self.out);
            }
            match input {
                Input::Stored(reply) => self.stored(reply, now),
                Input::Tick => {}
                input if waiting.len() < MAX_WAITING_INPUTS => waiting.push_back(input),
                // Full: turn new sockets away and close those whose frames would be lost.
                Input::VisitorConnected { conn, .. }
                | Input::AgentConnected { conn, .. }
                | Input::FromVisitor { conn, .. }
                | Input::FromAgent { conn, .. }
                | Input::Rejected { conn, .. } => self.out.push(Output::Close {
                    conn,
                    code: close_code::TRY_AGAIN_LATER,
                    reason: "the site is starting; try again".into(),
                }),
                input @ (Input::Disconnected { .. } | Input::Resume { .. }) => {
                    waiting.push_back(input)
                }
                Input::SiteSettings(_)
                | Input::Heard(_)
                | Input::CallEvent(_)
                | Input::AgentChanged { .. }
                | Input::SessionEnded { .. } => {}
            }
        } else {
            self.apply(input, now);
        }
        self.fire_timers(now);
        self.route_events(now);
        self.remember();
        std::mem::take(&mut self.out)
    }

    /// Whether the next `Tick` sweeps silent connections: the adapter first says which
    /// the runtime heard from ([`Input::Heard`]).
    pub fn sweep_due(&self, now: UnixMillis) -> bool {
        self.roster.sweep_due(now)
    }

    /// The hub's connections.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.roster.conns()
    }

    /// What `conn` needs to be taken back by a new hub.
    pub fn resumable(&self, conn: ConnId) -> Option<Resumable> {
        Some(match self.roster.peer(conn)? {
            Peer::Visitor(v) => Resumable::Visitor {
                address: v.address.clone(),
                location: v.location.clone(),
                nonce: v.nonce,
                left: v.left,
                activity: v.activity,
                visitor: v
                    .visitor_id
                    .as_deref()
                    .and_then(|id| self.presence.seen(id))
                    .map(SeenVisitor::cut),
            },
            Peer::Agent(a) => Resumable::Agent {
                agent: a.identity.clone(),
                session: a.session.clone(),
                available: a.available,
            },
        })
    }

    /// Marks what `input` changes about its connections' [`Resumable`]s.
    fn touch(&mut self, input: &Input) {
        let Some(touched) = &mut self.touched else {
            return;
        };
        let touches = match input {
            Input::VisitorConnected { conn, .. } | Input::AgentConnected { conn, .. } => {
                Some((*conn, resume::Touches::Sender))
            }
            Input::FromVisitor { conn, frame } => {
                Some((*conn, resume::visitor_frame_touches(frame)))
            }
            Input::FromAgent { conn, frame } => Some((*conn, resume::agent_frame_touches(frame))),
            Input::AgentChanged { agent_id, .. } => {
                touched.extend(self.roster.agent_conns_of(agent_id));
                None
            }
            Input::Rejected { .. }
            | Input::Disconnected { .. }
            | Input::Resume { .. }
            | Input::Heard(_)
            | Input::Stored(_)
            | Input::SiteSettings(_)
            | Input::SessionEnded { .. }
            | Input::CallEvent(_)
            | Input::Tick => None,
        };
        match touches {
            None | Some((_, resume::Touches::Nobody)) => {}
            Some((conn, resume::Touches::Sender)) => {
                touched.insert(conn);
            }
            Some((conn, resume::Touches::VisitorTabs)) => {
                touched.insert(conn);
                if let Some(visitor_id) = self.roster.visitor_of(conn) {
                    touched.extend(self.roster.visitor_conns(visitor_id));
                }
            }
        }
    }

    /// [`Output::Remember`] for every connection touched, once it has been applied.
    fn remember(&mut self) {
        let Some(touched) = self.touched.take() else {
            return;
        };
        for conn in &touched {
            // A hello binds the tab only now: its visitor's other tabs carry the page too.
            if let Some(visitor_id) = self.roster.visitor_of(*conn) {
                for &tab in self.roster.visitor_conns(visitor_id) {
                    if let Some(state) = self.resumable(tab) {
                        self.out.push(Output::Remember { conn: tab, state });
                    }
                }
            } else if let Some(state) = self.resumable(*conn) {
                self.out.push(Output::Remember { conn: *conn, state });
            }
        }
        self.touched = Some(BTreeSet::new());
    }

    /// When the adapter must call `handle(Input::Tick, _)` next, if ever.
    pub fn next_wakeup(&self) -> Option<UnixMillis> {
        if self.restoring.is_some() && !self.storage.restore_requested() {
            return Some(0);
        }
        [
            self.roster.next_wakeup(),
            self.presence.next_wakeup(),
            self.storage.next_wakeup(),
            self.cobrowse.next_wakeup(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Each connected agent's identity and session, once per session (what
    /// [`crate::access::recheck_agents`] reads again).
    pub fn agent_sessions(&self) -> Vec<(AgentIdentity, String)> {
        let mut sessions: Vec<(AgentIdentity, String)> = Vec::new();
        for (_, agent) in self.roster.agents() {
            if !sessions
                .iter()
                .any(|(a, s)| a.agent_id == agent.identity.agent_id && *s == agent.session)
            {
                sessions.push((agent.identity.clone(), agent.session.clone()));
            }
        }
        sessions
    }

    pub fn visitor_count(&self) -> usize {
        self.presence.len()
    }

    pub fn connection_count(&self) -> usize {
        self.roster.len()
    }

    /// Whether the hub has its conversations back from the store.
    pub fn is_restored(&self) -> bool {
        self.restoring.is_none()
    }

    /// The live list as an agent would receive it in a snapshot.
    pub fn live_list(&self) -> Vec<LiveVisitor> {
        let (calls, conversations) = (&self.calls, &self.conversations);
        self.presence.rows(&|v| marks(calls, conversations, v))
    }

    fn apply(&mut self, input: Input, now: UnixMillis) {
        self.touch(&input);
        match input {
            Input::VisitorConnected {
                conn,
                location,
                address,
                nonce,
            } => self.roster.add(
                conn,
                Peer::Visitor(VisitorConn {
                    visitor_id: None,
                    left: false,
                    address,
                    nonce,
                    location,
                    activity: Activity::Active,
                }),
                now,
            ),
            Input::AgentConnected {
                conn,
                agent,
                session,
                available,
            } => self.agent_connected(conn, agent, session, available, now),
            // P8's page events from a tab that records have their own budget, in bytes
            // (`cobrowse`); from any other socket they count as any frame.
            Input::FromVisitor {
                conn,
                frame: frame @ VisitorFrame::CobrowseEvents { .. },
            } if self.records(conn) => self.visitor_frame(conn, frame, now),
            Input::FromVisitor { conn, frame } => {
                if self.admit(conn, now) {
                    self.visitor_frame(conn, frame, now);
                }
            }
            Input::FromAgent { conn, frame } => {
                if self.admit(conn, now) {
                    self.agent_frame(conn, frame, now);
                }
            }
            Input::Rejected { conn, error } => {
                if error.code == ErrorCode::Oversize {
                    // Answered and closed whatever the rate: the frame never reaches a part.
                    let mut ctx = ctx!(self, now);
                    ctx.error(conn, error);
                    ctx.close(conn, close_code::MESSAGE_TOO_BIG, "frame too large");
                    self.disconnected(conn, now);
                } else if self.admit(conn, now) {
                    ctx!(self, now).error(conn, error);
                }
            }
            Input::Disconnected { conn } => self.disconnected(conn, now),
            Input::Resume { conn, state } => self.resume(conn, state, now),
            Input::Heard(heard) => {
                for (conn, at) in heard {
                    self.roster.heard(conn, at);
                }
            }
            Input::Stored(reply) => self.stored(reply, now),
            Input::SiteSettings(settings) => {
                let reassigned = settings.consultants != self.consultants;
                self.consultants = settings.consultants.clone();
                self.language = settings.language;
                self.typing_preview = settings.typing_preview;
                self.cobrowse.consent_required = settings.cobrowse_consent;
                self.identity = settings.identity.clone();
                self.calls.settings(&mut ctx!(self, now), settings);
                if reassigned {
                    self.enforce_assignments(now);
                }
            }
            Input::AgentChanged { agent_id, agent } => self.agent_changed(&agent_id, agent, now),
            Input::SessionEnded { agent_id, session } => {
                let conns = self.roster.agent_conns_of_session(&agent_id, &session);
                self.drop_agent(conns, close_code::UNAUTHORIZED, "signed out", now);
            }
            Input::CallEvent(event) => {
                let mut ctx = ctx!(self, now);
                self.calls.event(&mut ctx, event);
            }
            Input::Tick => {}
        }
    }

    /// The per-connection rate limit; a flood gets one error, then silence.
    /// Whether `conn` is the tab recording a viewed page.
    fn records(&self, conn: ConnId) -> bool {
        self.roster
            .visitor_conn(conn)
            .and_then(|v| v.visitor_id.as_deref())
            .is_some_and(|visitor_id| self.cobrowse.records(visitor_id, conn))
    }

    fn admit(&mut self, conn: ConnId, now: UnixMillis) -> bool {
        match self.roster.admit(conn, now) {
            Admission::Admitted => true,
            Admission::Dropped { tell } => {
                if tell {
                    ctx!(self, now).error(
                        conn,
                        FrameError::new(
                            ErrorCode::RateLimited,
                            "you are sending too fast; slow down",
                        ),
                    );
                }
                false
            }
            Admission::Unknown => false,
        }
    }

    fn disconnected(&mut self, conn: ConnId, now: UnixMillis) {
        let visitor = self.roster.unbind_visitor(conn);
        let peer = self.roster.remove(conn);
        let mut ctx = ctx!(self, now);
        match peer {
            Some(Peer::Visitor(_)) => {
                if let Some(visitor_id) = visitor {
                    self.presence.tab_closed(&mut ctx, &visitor_id);
                }
            }
            Some(Peer::Agent(agent)) => {
                self.presence.agent_disconnected(&mut ctx, conn);
                self.conversations.agent_conn_closed(&mut ctx, conn);
                self.calls
                    .agent_conn_closed(&mut ctx, &agent.identity.agent_id);
                self.cobrowse.agent_gone(&mut ctx, conn);
            }
            None => {}
        }
    }

    /// Takes back a connection of an earlier hub without a word to anyone: the browser
    /// has its welcome or snapshot already.
    fn resume(&mut self, conn: ConnId, state: Resumable, now: UnixMillis) {
        match state {
            Resumable::Visitor {
                address,
                location,
                nonce,
                left,
                activity,
                visitor,
            } => {
                let peer = VisitorConn {
                    visitor_id: None,
                    left,
                    address,
                    nonce,
                    location: location.clone(),
                    activity,
                };
                self.roster.add(conn, Peer::Visitor(peer), now);
                if let Some(seen) = visitor.filter(|_| !left) {
                    self.roster.bind_visitor(conn, &seen.visitor_id, activity);
                    self.presence.resume(&self.roster, seen, location);
                }
            }
            Resumable::Agent {
                agent,
                session,
                available,
            } => {
                let peer = AgentConn {
                    identity: agent,
                    session,
                    available,
                };
                self.roster.add(conn, Peer::Agent(peer), now);
                self.presence.agent_resumed(&self.roster, conn, now);
            }
        }
    }

    fn agent_connected(
        &mut self,
        conn: ConnId,
        agent: AgentIdentity,
        session: String,
        available: bool,
        now: UnixMillis,
    ) {
        self.roster.add(
            conn,
            Peer::Agent(AgentConn {
                identity: agent.clone(),
                session,
                available,
            }),
            now,
        );
        let snapshot = AgentServerFrame::Snapshot {
            visitors: self.live_list(),
            availability: self.presence.availability_for(&self.roster, conn),
            conversations: self.conversations.visible_to(&agent.agent_id),
            agents: self.roster.online_agents(),
            blocked: self.conversations.blocked_list(),
            server_now: now,
        };
        let mut ctx = ctx!(self, now);
        ctx.to_agent(conn, snapshot);
        self.presence.agent_connected(&mut ctx, conn);
        self.calls.resume_agent(&mut ctx, conn, &agent);
        self.presence.update_availability(&mut ctx);
    }

    /// An agent was changed or removed elsewhere (admin API): their open sockets follow now.
    fn agent_changed(&mut self, agent_id: &str, agent: Option<AgentIdentity>, now: UnixMillis) {
        let conns = self.roster.agent_conns_of(agent_id);
        if conns.is_empty() {
            return;
        }
        match agent {
            Some(agent) if self.assigned(&agent) => {
                for conn in conns {
                    self.roster.set_identity(conn, agent.clone());
                }
                self.presence.update_availability(&mut ctx!(self, now));
            }
            Some(_) => self.drop_agent(
                conns,
                close_code::FORBIDDEN,
                "you no longer work on this site",
                now,
            ),
            None => self.drop_agent(
                conns,
                close_code::UNAUTHORIZED,
                "your access was removed",
                now,
            ),
        }
    }

    /// After the site's consultants changed: agents no longer assigned lose their sockets.
    fn enforce_assignments(&mut self, now: UnixMillis) {
        let unassigned: Vec<ConnId> = self
            .roster
            .agents()
            .filter(|(_, a)| !self.assigned(&a.identity))
            .map(|(c, _)| c)
            .collect();
        self.drop_agent(
            unassigned,
            close_code::FORBIDDEN,
            "you no longer work on this site",
            now,
        );
    }

    /// The one rule for agents of this site's account, as at connect (`Site::admits`).
    fn assigned(&self, agent: &AgentIdentity) -> bool {
        admits_role(&self.consultants, &agent.agent_id, agent.role)
    }

    fn drop_agent(&mut self, conns: Vec<ConnId>, code: u16, reason: &str, now: UnixMillis) {
        for conn in conns {
            ctx!(self, now).close(conn, code, reason);
            self.disconnected(conn, now);
        }
    }

    // -- frames -----------------------------------------------------------------------------

    fn visitor_frame(&mut self, conn: ConnId, frame: VisitorFrame, now: UnixMillis) {
        let visitor_id = self.roster.visitor_of(conn).map(str::to_string);
        let Some(visitor_id) = visitor_id else {
            return match frame {
                VisitorFrame::Hello {
                    v: _,
                    credential,
                    visit_id,
                    visit_age_ms,
                    page,
                    activity,
                    chat_after_seq,
                } => self.hello(
                    conn,
                    credential,
                    visit_id,
                    visit_age_ms,
                    page,
                    activity,
                    chat_after_seq,
                    now,
                ),
                VisitorFrame::Ping {} => {
                    ctx!(self, now).to_visitor_conn(conn, VisitorServerFrame::Pong)
                }
                VisitorFrame::PageView(_)
                | VisitorFrame::Activity { .. }
                | VisitorFrame::Leave {}
                | VisitorFrame::SendMessage { .. }
                | VisitorFrame::Typing { .. }
                | VisitorFrame::EndConversation {}
                | VisitorFrame::CallRequest { .. }
                | VisitorFrame::CallAnswer { .. }
                | VisitorFrame::CallHangup { .. }
                | VisitorFrame::Identify { .. }
                | VisitorFrame::Track { .. }
                | VisitorFrame::Transcript { .. }
                | VisitorFrame::CobrowseConsent { .. }
                | VisitorFrame::CobrowseStop {}
                | VisitorFrame::CobrowseEvents { .. } => ctx!(self, now).error(
                    conn,
                    FrameError::new(ErrorCode::HelloRequired, "send hello first"),
                ),
            };
        };
        let mut ctx = ctx!(self, now);
        match frame {
            VisitorFrame::Hello { .. } => ctx.error(
                conn,
                FrameError::new(ErrorCode::HelloRequired, "hello was already received"),
            ),
            VisitorFrame::Ping {} => ctx.to_visitor_conn(conn, VisitorServerFrame::Pong),
            VisitorFrame::PageView(page) => self.presence.page_view(&mut ctx, &visitor_id, page),
            VisitorFrame::Activity { state } => {
                self.roster.set_activity(conn, state);
                self.presence
                    .refresh_status(&mut ctx!(self, now), &visitor_id);
            }
            VisitorFrame::Leave {} => {
                // The socket stays open until the page is gone; it no longer counts, and it
                // can be no one else either (one identity per socket).
                self.roster.leave(conn);
                let mut ctx = ctx!(self, now);
                self.presence.tab_closed(&mut ctx, &visitor_id);
            }
            VisitorFrame::SendMessage {
                client_id,
                text,
                page_url,
                contact,
            } => {
                // The leave-a-message form's e-mail makes an (unverified) contact too.
                if let Some(form) = &contact {
                    self.claimed(&visitor_id, form, now);
                }
                let mut ctx = ctx!(self, now);
                // An identified visitor's conversation is found by their name and e-mail (C11).
                let contact = contact.or_else(|| {
                    self.presence.identity(&visitor_id).map(|i| Contact {
                        name: i.name.clone(),
                        email: i.email.clone(),
                    })
                });
                self.conversations.visitor_message(
                    &mut ctx,
                    conn,
                    &visitor_id,
                    client_id,
                    text,
                    page_url,
                    contact,
                )
            }
            // The site keeps drafts to the visitor: not a byte of them goes further.
            VisitorFrame::Typing { .. } if !self.typing_preview => {}
            VisitorFrame::Typing { draft } => {
                self.conversations
                    .visitor_typing(&mut ctx, &visitor_id, draft)
            }
            VisitorFrame::EndConversation {} => {
                self.conversations.visitor_ends(&mut ctx, conn, &visitor_id)
            }
            VisitorFrame::CallRequest { cancel: false }
                if self.conversations.is_blocked(&visitor_id) =>
            {
                ctx.error(conn, conversations::blocked_error())
            }
            VisitorFrame::CallRequest { cancel } => {
                let owner = self.conversations.owner_of_open(&visitor_id);
                self.calls
                    .request(&mut ctx, conn, &visitor_id, cancel, owner.as_deref())
            }
            VisitorFrame::CallAnswer { call_id, accept } => {
                self.calls
                    .answer(&mut ctx, conn, &visitor_id, &call_id, accept)
            }
            VisitorFrame::CallHangup { call_id } => {
                self.calls.hangup(&mut ctx, &visitor_id, &call_id)
            }
            VisitorFrame::Identify {
                identity,
                signature,
            } => self.identify(conn, &visitor_id, identity, signature, now),
            VisitorFrame::Track { event } => {
                if let Some(visit_id) = self.presence.visit_id(&visitor_id) {
                    let event = StoredEvent {
                        event,
                        visit_id: visit_id.to_string(),
                        at: now,
                    };
                    ctx.store(StoreOp::Track { visitor_id, event });
                }
            }
            VisitorFrame::Transcript {
                conversation_id,
                email,
            } => self.transcript(conn, &visitor_id, conversation_id, email, now),
            VisitorFrame::CobrowseConsent { accept } => {
                self.cobrowse.consent(&mut ctx, conn, &visitor_id, accept)
            }
            VisitorFrame::CobrowseStop {} => self.cobrowse.visitor_stop(&mut ctx, &visitor_id),
            VisitorFrame::CobrowseEvents { seq, chunk, last } => {
                self.cobrowse
                    .events(&mut ctx, conn, &visitor_id, seq, chunk, last)
            }
        }
    }

    /// K1: a visitor not identified by the shop gave an e-mail (the leave-a-message form):
    /// they become the unverified contact of that address, which never changes a contact
    /// the shop vouched for (the store refuses to link it).
    fn claimed(&mut self, visitor_id: &str, form: &Contact, now: UnixMillis) {
        if self.presence.identity(visitor_id).is_some() {
            return;
        }
        let Some(email) = form
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        else {
            return;
        };
        let id = email.to_lowercase();
        if crate::codec::validate_contact_id(&id).is_err() {
            return;
        }
        let identity = Identity {
            id,
            name: form.name.clone().filter(|n| !n.trim().is_empty()),
            email: Some(email.to_string()),
            ..Identity::default()
        };
        let mut ctx = ctx!(self, now);
        if self.presence.identified(visitor_id, &identity) == Identified::Changed {
            self.conversations.contact_is(visitor_id, &identity.id);
            ctx.store(StoreOp::Identify {
                visitor_id: visitor_id.to_string(),
                identity,
                verified: false,
                at: now,
            });
        }
    }

    /// K3: the visitor asks for their conversation by e-mail. The address becomes their
    /// (unverified) contact unless the shop identified them; the e-mail is recorded there.
    fn transcript(
        &mut self,
        conn: ConnId,
        visitor_id: &str,
        conversation_id: String,
        email: String,
        now: UnixMillis,
    ) {
        // The codec checked it is an address.
        let email = email.trim().to_string();
        self.claimed(
            visitor_id,
            &Contact {
                name: None,
                email: Some(email.clone()),
            },
            now,
        );
        let mut ctx = ctx!(self, now);
        match self
            .conversations
            .transcript(&mut ctx, visitor_id, &conversation_id, &email)
        {
            Ok(confirm) => ctx.to_visitor_conn(
                conn,
                VisitorServerFrame::TranscriptQueued { email, confirm },
            ),
            Err(error) => ctx.error(conn, error),
        }
    }

    /// K1: the shop says who this visitor is. A site that requires it (the default) takes
    /// only identities signed with its secret; the store hears only of a change.
    fn identify(
        &mut self,
        conn: ConnId,
        visitor_id: &str,
        identity: Identity,
        signature: Option<String>,
        now: UnixMillis,
    ) {
        use crate::identity::Proven;
        let proven = match (&self.identity, &signature) {
            (Some(site), Some(signature)) => {
                crate::identity::verify(&site.secret, &identity, signature)
            }
            _ => Proven::Nothing,
        };
        let verified = proven != Proven::Nothing;
        // A signature of the ID alone proves the ID: the rest is the visitor's own words,
        // and the card takes none of it.
        let identity = match proven {
            Proven::Id => Identity {
                id: identity.id,
                ..Identity::default()
            },
            Proven::All | Proven::Nothing => identity,
        };
        let refusal = match (&self.identity, &signature) {
            _ if verified => None,
            (None, _) => Some("identity verification is not set up for this site"),
            (Some(site), None) if site.required => {
                Some("this site requires a signed identity (signature)")
            }
            (Some(site), Some(_)) if site.required => {
                Some("the identity's signature does not verify")
            }
            _ => None,
        };
        let mut ctx = ctx!(self, now);
        if let Some(reason) = refusal {
            return ctx.error(conn, FrameError::new(ErrorCode::Forbidden, reason));
        }
        match self.presence.identified(visitor_id, &identity) {
            Identified::Same => return,
            Identified::TooMany => {
                let error = FrameError::new(
                    ErrorCode::RateLimited,
                    "this visitor changed identity too often; reload the page later",
                );
                return ctx.error(conn, error);
            }
            Identified::Changed => {}
        }
        let contact = Contact {
            name: identity.name.clone(),
            email: identity.email.clone(),
        };
        self.conversations
            .visitor_identified(&mut ctx, visitor_id, contact);
        self.conversations.contact_is(visitor_id, &identity.id);
        // K3: transcripts go to an address the shop vouched for without asking first.
        let proven_email = identity.email.clone().filter(|_| proven == Proven::All);
        self.conversations.proven_email(visitor_id, proven_email);
        ctx.store(StoreOp::Identify {
            visitor_id: visitor_id.to_string(),
            identity,
            verified,
            at: now,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn hello(
        &mut self,
        conn: ConnId,
        credential: Option<VisitorCredential>,
        visit_id: String,
        visit_age_ms: u64,
        page: PageView,
        activity: Activity,
        chat_after_seq: u64,
        now: UnixMillis,
    ) {
        let Some(vc) = self.roster.visitor_conn(conn) else {
            return;
        };
        if vc.left {
            let error = FrameError::new(
                ErrorCode::HelloRequired,
                "this connection has left; open a new one",
            );
            return ctx!(self, now).error(conn, error);
        }
        let location = vc.location.clone();
        // The credential is the identity: a visitor ID alone proves nothing. Without a
        // valid one this browser is a new visitor, with an ID the hub makes.
        let visitor_id = match credential {
            Some(c) if access::verify_visitor_credential(&self.visitor_key, &self.site, &c) => {
                c.visitor_id
            }
            _ => URL_SAFE_NO_PAD.encode(vc.nonce),
        };
        let visitor_id = visitor_id.as_str();
        self.roster.bind_visitor(conn, visitor_id, activity);
        let welcome = VisitorServerFrame::Welcome {
            v: PROTOCOL_VERSION,
            credential: access::visitor_credential(&self.visitor_key, &self.site, visitor_id),
            agents_available: self.presence.site_available(),
            has_conversation: self.conversations.open_of(visitor_id).is_some(),
            calls: self.calls.on(),
            blocked: self.conversations.is_blocked(visitor_id),
            language: self.language,
            typing_preview: self.typing_preview,
        };
        let mut ctx = ctx!(self, now);
        self.presence
            .hello(&mut ctx, visitor_id, visit_id, visit_age_ms, page, location);
        ctx.to_visitor_conn(conn, welcome);
        self.conversations
            .resume_visitor(&mut ctx, conn, visitor_id, chat_after_seq);
        self.calls.resume_visitor(&mut ctx, conn, visitor_id);
        self.cobrowse.tab_opened(&mut ctx, conn, visitor_id);
    }

    fn agent_frame(&mut self, conn: ConnId, frame: AgentFrame, now: UnixMillis) {
        let Some(me) = self.roster.agent(conn).map(|a| a.identity.clone()) else {
            return;
        };
        // Facts other parts need, read before a part takes the context.
        let eligible: std::collections::BTreeSet<String> = match &frame {
            AgentFrame::CallStart { visitor_ids } | AgentFrame::CallAdd { visitor_ids, .. } => {
                visitor_ids
                    .iter()
                    .filter(|v| self.presence.contains(v) && !self.conversations.is_blocked(v))
                    .cloned()
                    .collect()
            }
            _ => Default::default(),
        };
        let about = conversation_of(&frame).map(str::to_string);
        let mut ctx = ctx!(self, now);
        let result = match frame {
            AgentFrame::Ping {} => {
                ctx.to_agent(conn, AgentServerFrame::Pong);
                Ok(())
            }
            AgentFrame::SetAvailability { available } => {
                self.roster.set_available(conn, available);
                let mut ctx = ctx!(self, now);
                self.presence.availability_toggled(&mut ctx, conn);
                Ok(())
            }
            AgentFrame::StartConversation {
                visitor_id,
                client_id,
                body,
            } => {
                let present = self.presence.contains(&visitor_id);
                self.conversations
                    .start(&mut ctx, conn, &me, &visitor_id, present, client_id, body)
            }
            AgentFrame::Take { conversation_id } => {
                self.conversations.take(&mut ctx, &me, &conversation_id)
            }
            AgentFrame::SendMessage {
                conversation_id,
                client_id,
                body,
            } => self.conversations.agent_message(
                &mut ctx,
                conn,
                &me,
                &conversation_id,
                client_id,
                body,
            ),
            AgentFrame::Typing {
                conversation_id,
                typing,
            } => self
                .conversations
                .agent_typing(&mut ctx, conn, &me, &conversation_id, typing),
            AgentFrame::MarkRead {
                conversation_id,
                seq,
            } => self
                .conversations
                .mark_read(&mut ctx, &me, &conversation_id, seq),
            AgentFrame::Transfer {
                conversation_id,
                to_agent_id,
            } => self
                .conversations
                .transfer(&mut ctx, &me, &conversation_id, &to_agent_id),
            AgentFrame::End { conversation_id } => {
                self.conversations.end(&mut ctx, &me, &conversation_id)
            }
            AgentFrame::Reopen { conversation_id } => {
                self.conversations.reopen(&mut ctx, conn, &conversation_id)
            }
            AgentFrame::Block {
                visitor_id,
                blocked,
            } => {
                self.conversations
                    .block(&mut ctx, &me, &visitor_id, blocked);
                if blocked {
                    self.calls.withdraw_request(&mut ctx, &visitor_id);
                }
                Ok(())
            }
            AgentFrame::CallStart { visitor_ids } => {
                self.calls
                    .start(&mut ctx, conn, &me, &visitor_ids, &eligible)
            }
            AgentFrame::CallAccept { visitor_id } => {
                self.calls.accept(&mut ctx, conn, &me, &visitor_id)
            }
            AgentFrame::CallAdd {
                call_id,
                visitor_ids,
            } => self
                .calls
                .add(&mut ctx, &me, &call_id, &visitor_ids, &eligible),
            AgentFrame::CallRemove {
                call_id,
                visitor_id,
            } => self.calls.remove(&mut ctx, &me, &call_id, &visitor_id),
            AgentFrame::CallEnd { call_id } => self.calls.end(&mut ctx, &me, &call_id),
            AgentFrame::CallStreamKeys { call_id } => {
                self.calls.stream_keys(&mut ctx, conn, &me, &call_id)
            }
            AgentFrame::Navigate { visitor_id, url } => {
                let page = self.presence.page_url(&visitor_id);
                self.calls.navigate(&mut ctx, &me, &visitor_id, url, page)
            }
            AgentFrame::SetInteraction { call_id, allowed } => {
                self.calls.set_interaction(&mut ctx, &me, &call_id, allowed)
            }
            AgentFrame::SetCalls { enabled } => self.calls.set_enabled(&mut ctx, enabled),
            AgentFrame::CobrowseStart { visitor_id } => {
                self.cobrowse.start(&mut ctx, conn, &me, &visitor_id)
            }
            AgentFrame::CobrowseStop { visitor_id } => {
                self.cobrowse.agent_stop(&mut ctx, conn, &visitor_id);
                Ok(())
            }
            AgentFrame::CobrowsePoint { visitor_id, x, y } => {
                self.cobrowse.point(&mut ctx, conn, &me, &visitor_id, x, y)
            }
        };
        if let Err(error) = result {
            let error = match &about {
                Some(id) => error.in_conversation(id),
                None => error,
            };
            ctx!(self, now).error(conn, error);
        }
    }

    // -- storage ----------------------------------------------------------------------------

    fn stored(&mut self, reply: StoreReply, now: UnixMillis) {
        let Some(delivery) = self.storage.reply(reply, now) else {
            return;
        };
        let mut ctx = ctx!(self, now);
        match delivery {
            Delivery::Restored(restored) => {
                self.conversations.restore(restored);
                // Everything that waited is handled now, in the order it came.
                let waiting = self.restoring.take().unwrap_or_default();
                for input in waiting {
                    self.apply(input, now);
                }
            }
            Delivery::VisitCounted {
                visitor_id,
                visit_id,
                visit_count,
            } => self
                .presence
                .visit_counted(&mut ctx, &visitor_id, &visit_id, visit_count),
            Delivery::ContactStored {
                visitor_id,
                identity,
            } => self
                .presence
                .contact_stored(&mut ctx, &visitor_id, &identity),
            Delivery::MessagesStored { messages, ok } => {
                for (conversation_id, seq) in messages {
                    self.conversations
                        .message_stored(&mut ctx, &conversation_id, seq, ok);
                }
            }
            Delivery::ConversationLoaded {
                conversation_id,
                loaded,
            } => self
                .conversations
                .loaded(&mut ctx, &conversation_id, loaded),
        }
    }

    // -- timers and events --------------------------------------------------------------------

    fn fire_timers(&mut self, now: UnixMillis) {
        for conn in self.roster.sweep(now) {
            ctx!(self, now).close(conn, close_code::TIMEOUT, "no heartbeat");
            self.disconnected(conn, now);
        }
        self.storage.tick(now, &mut self.out);
        let (calls, conversations) = (&self.calls, &self.conversations);
        let mut ctx = ctx!(self, now);
        self.presence
            .tick(&mut ctx, &|v| marks(calls, conversations, v));
        self.cobrowse.tick(&mut ctx);
    }

    /// Carries what parts told each other until nothing is left to carry.
    fn route_events(&mut self, now: UnixMillis) {
        while let Some(event) = self.events.pop_front() {
            let mut ctx = ctx!(self, now);
            match event {
                Event::RowChanged(visitor_id) => self.presence.mark_changed(&mut ctx, &visitor_id),
                Event::CallNote {
                    visitor_id,
                    agent,
                    note,
                } => self
                    .conversations
                    .call_note(&mut ctx, &visitor_id, &agent, note),
                Event::Store(op) => self.storage.request(op, &mut self.out),
                Event::VisitorGone(visitor_id) => {
                    self.conversations.visitor_gone(&visitor_id);
                    self.cobrowse.visitor_gone(&mut ctx, &visitor_id);
                }
            }
        }
        // Rows marked changed by events may be due for a flush at once.
        let (calls, conversations) = (&self.calls, &self.conversations);
        let mut ctx = ctx!(self, now);
        self.presence
            .tick(&mut ctx, &|v| marks(calls, conversations, v));
        self.cobrowse.tick(&mut ctx);
    }
}

/// The live list's signals that other parts own (P4, P7).
fn marks(calls: &Calls, conversations: &Conversations, visitor_id: &str) -> RowMarks {
    RowMarks {
        in_call: calls.in_call(visitor_id),
        call_requested: calls.requested(visitor_id),
        unread: conversations.unread_of(visitor_id),
    }
}

/// The conversation an agent's frame acts on, if it acts on one.
fn conversation_of(frame: &AgentFrame) -> Option<&str> {
    match frame {
        AgentFrame::Take { conversation_id }
        | AgentFrame::SendMessage {
            conversation_id, ..
        }
        | AgentFrame::Typing {
            conversation_id, ..
        }
        | AgentFrame::MarkRead {
            conversation_id, ..
        }
        | AgentFrame::Transfer {
            conversation_id, ..
        }
        | AgentFrame::End { conversation_id }
        | AgentFrame::Reopen { conversation_id } => Some(conversation_id),
        // Listed, not `_`: a new frame about a conversation must say so here, or its
        // errors would not reach that conversation's view.
        AgentFrame::SetAvailability { .. }
        | AgentFrame::Ping {}
        | AgentFrame::StartConversation { .. }
        | AgentFrame::Block { .. }
        | AgentFrame::CallStart { .. }
        | AgentFrame::CallAccept { .. }
        | AgentFrame::CallAdd { .. }
        | AgentFrame::CallRemove { .. }
        | AgentFrame::CallEnd { .. }
        | AgentFrame::CallStreamKeys { .. }
        | AgentFrame::Navigate { .. }
        | AgentFrame::SetInteraction { .. }
        | AgentFrame::SetCalls { .. }
        | AgentFrame::CobrowseStart { .. }
        | AgentFrame::CobrowseStop { .. }
        | AgentFrame::CobrowsePoint { .. } => None,
    }
}
