//! The presence hub: all live state of one site, as a sans-IO state machine.
//!
//! `hub.handle(input, now)` applies one input and returns what to do (frames to send,
//! connections to close, records to store). The adapter calls `handle(Input::Tick, now)`
//! when `next_wakeup()` is reached. The hub never reads a clock and never does I/O, so
//! the same code runs in the Worker (wasm32), in the local tokio server and in tests.

mod calls;
mod chat;

use std::collections::{BTreeSet, HashMap};

use crate::codec::FrameError;
use crate::protocol::*;
use crate::records::{PageViewRecord, Record, VisitRecord};

pub use calls::{CallConfig, CallState, SiteSettings};
pub use chat::ChatState;

pub type ConnId = u64;

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
    /// The media node (calls are unavailable without one).
    pub calls: Option<CallConfig>,
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
            calls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    pub agent_id: String,
    pub name: String,
    /// Experts are transfer targets (C8) like agents, shown apart.
    pub expert: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    VisitorConnected {
        conn: ConnId,
        location: Location,
    },
    AgentConnected {
        conn: ConnId,
        agent: AgentIdentity,
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
    /// A frame that failed to decode: counts against the rate limit, answered with an error.
    Rejected {
        conn: ConnId,
        error: FrameError,
    },
    Disconnected {
        conn: ConnId,
    },
    /// The store's answer to a [`Record::Visit`]: how many visits this visitor has made.
    VisitRecorded {
        visitor_id: String,
        visit_id: String,
        visit_count: u32,
    },
    /// A chat message is in the store: the hub may now deliver it.
    MessageStored {
        conversation_id: String,
        seq: u64,
    },
    /// A chat message could not be stored: the hub drops it and tells the sender.
    MessageFailed {
        conversation_id: String,
        seq: u64,
    },
    /// The store's answer to [`Output::LoadConversation`].
    ConversationLoaded {
        conversation_id: String,
        loaded: Option<(ConversationSummary, Vec<ChatMessage>)>,
    },
    /// The site's record (allowed origins, call gating), from the adapter whenever it
    /// (re)reads it. Unchanged settings are a no-op.
    SiteSettings(SiteSettings),
    /// The media node reported on a call (C14).
    CallEvent(crate::call::CallEvent),
    /// Time passed; fires due timers.
    Tick,
}

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
    /// A durable fact to write to the store. A `Visit` record is answered with
    /// [`Input::VisitRecorded`], a `Message` with [`Input::MessageStored`] or
    /// [`Input::MessageFailed`].
    Record(Record),
    /// Read a (closed) conversation from the store; answered with
    /// [`Input::ConversationLoaded`].
    LoadConversation { conversation_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Sweep,
    Flush(ConnId),
    Grace(String),
    Expire(String),
}

struct Visitor {
    visit_id: String,
    visit_started_at: UnixMillis,
    page: CurrentPage,
    page_seq: u32,
    location: Location,
    conns: Vec<ConnId>,
    left_at: Option<UnixMillis>,
    offline_since: Option<UnixMillis>,
    status: VisitorStatus,
    visit_count: u32,
    /// Chat message token bucket, shared by all of the visitor's tabs.
    message_tokens: f64,
    message_tokens_at: UnixMillis,
}

struct VisitorConn {
    visitor_id: Option<String>,
    location: Location,
    activity: Activity,
}

struct AgentConn {
    identity: AgentIdentity,
    available: bool,
    last_flush_at: Option<UnixMillis>,
    flush_scheduled: bool,
    changed: BTreeSet<String>,
    removed: BTreeSet<String>,
}

enum ConnRole {
    Visitor(VisitorConn),
    Agent(AgentConn),
}

struct Conn {
    role: ConnRole,
    last_frame_at: UnixMillis,
    tokens: f64,
    /// Told it is rate-limited; reset when a frame gets through again.
    limited: bool,
}

/// All live state of one site.
pub struct Hub {
    config: HubConfig,
    conns: HashMap<ConnId, Conn>,
    visitors: HashMap<String, Visitor>,
    timers: BTreeSet<(UnixMillis, Timer)>,
    site_available: bool,
    sweep_scheduled: bool,
    chat: ChatState,
    calls: CallState,
    out: Vec<Output>,
}

impl Hub {
    pub fn new(config: HubConfig) -> Self {
        Self {
            config,
            conns: HashMap::new(),
            visitors: HashMap::new(),
            timers: BTreeSet::new(),
            site_available: false,
            sweep_scheduled: false,
            chat: ChatState::default(),
            calls: CallState::default(),
            out: Vec::new(),
        }
    }

    /// Applies one input at time `now` and returns what the adapter must do.
    pub fn handle(&mut self, input: Input, now: UnixMillis) -> Vec<Output> {
        match input {
            Input::VisitorConnected { conn, location } => {
                self.add_conn(
                    conn,
                    ConnRole::Visitor(VisitorConn {
                        visitor_id: None,
                        location,
                        activity: Activity::Active,
                    }),
                    now,
                );
            }
            Input::AgentConnected {
                conn,
                agent,
                available,
            } => self.agent_connected(conn, agent, available, now),
            Input::FromVisitor { conn, frame } => {
                if self.admit_frame(conn, now) {
                    self.visitor_frame(conn, frame, now);
                }
            }
            Input::FromAgent { conn, frame } => {
                if self.admit_frame(conn, now) {
                    self.agent_frame(conn, frame, now);
                }
            }
            Input::Rejected { conn, error } => {
                if self.admit_frame(conn, now) {
                    self.send_error(conn, error);
                }
            }
            Input::Disconnected { conn } => self.disconnected(conn, now),
            Input::VisitRecorded {
                visitor_id,
                visit_id,
                visit_count,
            } => {
                if let Some(v) = self.visitors.get_mut(&visitor_id) {
                    if v.visit_id == visit_id && v.visit_count != visit_count {
                        v.visit_count = visit_count;
                        self.mark_changed(&visitor_id, now);
                    }
                }
            }
            Input::MessageStored {
                conversation_id,
                seq,
            } => self.message_stored(&conversation_id, seq, true, now),
            Input::MessageFailed {
                conversation_id,
                seq,
            } => self.message_stored(&conversation_id, seq, false, now),
            Input::ConversationLoaded {
                conversation_id,
                loaded,
            } => self.conversation_loaded(&conversation_id, loaded, now),
            Input::SiteSettings(settings) => self.site_settings(settings, now),
            Input::CallEvent(event) => self.call_event(event, now),
            Input::Tick => {}
        }
        self.fire_due_timers(now);
        std::mem::take(&mut self.out)
    }

    /// When the adapter must call `handle(Input::Tick, _)` next, if ever.
    pub fn next_wakeup(&self) -> Option<UnixMillis> {
        self.timers.first().map(|(at, _)| *at)
    }

    pub fn visitor_count(&self) -> usize {
        self.visitors.len()
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The live list as an agent would receive it in a snapshot.
    pub fn live_list(&self) -> Vec<LiveVisitor> {
        self.visitors
            .iter()
            .map(|(id, v)| self.live_visitor(id, v))
            .collect()
    }

    // -- connections ----------------------------------------------------------------------

    fn add_conn(&mut self, conn: ConnId, role: ConnRole, now: UnixMillis) {
        self.conns.insert(
            conn,
            Conn {
                role,
                last_frame_at: now,
                tokens: self.config.frame_burst,
                limited: false,
            },
        );
        if !self.sweep_scheduled {
            self.sweep_scheduled = true;
            self.timers
                .insert((now + self.config.sweep_interval_ms, Timer::Sweep));
        }
    }

    /// Token bucket per connection: a flooding client gets an error and its frames are
    /// dropped; nobody else notices.
    fn admit_frame(&mut self, conn_id: ConnId, now: UnixMillis) -> bool {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return false;
        };
        let elapsed = now.saturating_sub(conn.last_frame_at) as f64 / 1000.0;
        conn.tokens =
            (conn.tokens + elapsed * self.config.frames_per_second).min(self.config.frame_burst);
        conn.last_frame_at = now;
        if conn.tokens < 1.0 {
            // Tell the client once per flood, not once per dropped frame.
            if !conn.limited {
                conn.limited = true;
                self.send_error(
                    conn_id,
                    FrameError::new(ErrorCode::RateLimited, "too many frames; slow down"),
                );
            }
            return false;
        }
        conn.limited = false;
        conn.tokens -= 1.0;
        true
    }

    fn disconnected(&mut self, conn_id: ConnId, now: UnixMillis) {
        match self.conns.remove(&conn_id).map(|c| c.role) {
            Some(ConnRole::Visitor(vc)) => {
                if let Some(visitor_id) = vc.visitor_id {
                    self.detach_visitor_conn(&visitor_id, conn_id, now);
                }
            }
            Some(ConnRole::Agent(agent)) => {
                self.update_site_availability(now);
                self.agent_conn_closed(conn_id, &agent.identity.agent_id);
                self.agent_gone(&agent.identity.agent_id, now);
            }
            None => {}
        }
    }

    fn detach_visitor_conn(&mut self, visitor_id: &str, conn_id: ConnId, now: UnixMillis) {
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return;
        };
        v.conns.retain(|c| *c != conn_id);
        if v.conns.is_empty() {
            v.left_at = Some(now);
            self.timers.insert((
                now + self.config.offline_grace_ms,
                Timer::Grace(visitor_id.to_string()),
            ));
        } else {
            self.refresh_status(visitor_id, now);
        }
    }

    fn send_error(&mut self, conn: ConnId, error: FrameError) {
        let frame = error.to_frame();
        match self.conns.get(&conn).map(|c| &c.role) {
            Some(ConnRole::Visitor(_)) => self.out.push(Output::ToVisitor {
                conn,
                frame: VisitorServerFrame::Error(frame),
            }),
            Some(ConnRole::Agent(_)) => self.out.push(Output::ToAgent {
                conn,
                frame: AgentServerFrame::Error(frame),
            }),
            None => {}
        }
    }

    // -- visitors -------------------------------------------------------------------------

    fn visitor_frame(&mut self, conn_id: ConnId, frame: VisitorFrame, now: UnixMillis) {
        let Some(Conn {
            role: ConnRole::Visitor(vc),
            ..
        }) = self.conns.get_mut(&conn_id)
        else {
            return;
        };
        let visitor_id = vc.visitor_id.clone();
        match (frame, visitor_id) {
            (
                VisitorFrame::Hello {
                    visitor_id,
                    visit_id,
                    visit_age_ms,
                    page,
                    activity,
                    chat_after_seq,
                    ..
                },
                None,
            ) => {
                vc.visitor_id = Some(visitor_id.clone());
                vc.activity = activity;
                let location = vc.location.clone();
                self.hello(
                    conn_id,
                    visitor_id.clone(),
                    visit_id,
                    visit_age_ms,
                    page,
                    location,
                    now,
                );
                self.resume_visitor_chat(conn_id, &visitor_id, chat_after_seq);
                self.resume_visitor_call(conn_id, &visitor_id, now);
            }
            (VisitorFrame::Hello { .. }, Some(_)) => self.send_error(
                conn_id,
                FrameError::new(ErrorCode::HelloRequired, "hello was already received"),
            ),
            (VisitorFrame::Ping {}, _) => self.out.push(Output::ToVisitor {
                conn: conn_id,
                frame: VisitorServerFrame::Pong,
            }),
            (_, None) => self.send_error(
                conn_id,
                FrameError::new(ErrorCode::HelloRequired, "send hello first"),
            ),
            (VisitorFrame::PageView(page), Some(visitor_id)) => {
                self.page_view(&visitor_id, page, now)
            }
            (VisitorFrame::Activity { state }, Some(visitor_id)) => {
                vc.activity = state;
                self.refresh_status(&visitor_id, now);
            }
            (VisitorFrame::Leave {}, Some(visitor_id)) => {
                // The socket stays open until the page is gone; it no longer counts.
                vc.visitor_id = None;
                self.detach_visitor_conn(&visitor_id, conn_id, now);
            }
            (
                VisitorFrame::SendMessage {
                    client_id,
                    text,
                    page_url,
                    contact,
                },
                Some(visitor_id),
            ) => self.visitor_message(
                conn_id,
                &visitor_id,
                client_id,
                text,
                page_url,
                contact,
                now,
            ),
            (VisitorFrame::Typing { draft }, Some(visitor_id)) => {
                self.visitor_typing(&visitor_id, draft)
            }
            (VisitorFrame::EndConversation {}, Some(visitor_id)) => {
                self.visitor_ends(conn_id, &visitor_id, now)
            }
            (
                frame @ (VisitorFrame::CallRequest { .. }
                | VisitorFrame::CallAnswer { .. }
                | VisitorFrame::CallHangup { .. }),
                Some(visitor_id),
            ) => self.visitor_call_frame(conn_id, &visitor_id, frame, now),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn hello(
        &mut self,
        conn_id: ConnId,
        visitor_id: String,
        visit_id: String,
        visit_age_ms: u64,
        page: PageView,
        location: Location,
        now: UnixMillis,
    ) {
        let visit_started_at = now.saturating_sub(visit_age_ms);
        let is_new_visit = self
            .visitors
            .get(&visitor_id)
            .is_none_or(|v| v.visit_id != visit_id);
        if is_new_visit {
            self.visitors.insert(
                visitor_id.clone(),
                Visitor {
                    visit_id: visit_id.clone(),
                    visit_started_at,
                    page: current_page(&page, now),
                    page_seq: page.seq,
                    location: location.clone(),
                    conns: vec![conn_id],
                    left_at: None,
                    offline_since: None,
                    status: VisitorStatus::Active,
                    visit_count: 0,
                    message_tokens: self.config.visitor_message_burst,
                    message_tokens_at: now,
                },
            );
            self.out.push(Output::Record(Record::Visit(VisitRecord {
                visitor_id: visitor_id.clone(),
                visit_id: visit_id.clone(),
                started_at: visit_started_at,
                country: location.country.clone(),
                city: location.city.clone(),
                referrer: page.referrer.clone(),
                landing_url: page.url.clone(),
            })));
            self.record_page_view(&visitor_id, &visit_id, &page, now);
        } else {
            let v = self.visitors.get_mut(&visitor_id).expect("checked above");
            v.conns.push(conn_id);
            v.left_at = None;
            v.offline_since = None;
            if location.country.is_some() {
                v.location = location;
            }
            if page.seq > v.page_seq {
                v.page = current_page(&page, now);
                v.page_seq = page.seq;
                self.record_page_view(&visitor_id, &visit_id, &page, now);
            }
        }
        self.out.push(Output::ToVisitor {
            conn: conn_id,
            frame: VisitorServerFrame::Welcome {
                v: PROTOCOL_VERSION,
                agents_available: self.site_available,
                has_conversation: self.chat.open_conversation_of(&visitor_id).is_some(),
                calls: self.calls_on(),
            },
        });
        self.refresh_status(&visitor_id, now);
        self.mark_changed(&visitor_id, now);
    }

    fn page_view(&mut self, visitor_id: &str, page: PageView, now: UnixMillis) {
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return;
        };
        if page.seq <= v.page_seq {
            return; // a resend, or an older tab: already recorded
        }
        v.page = current_page(&page, now);
        v.page_seq = page.seq;
        let visit_id = v.visit_id.clone();
        self.record_page_view(visitor_id, &visit_id, &page, now);
        self.mark_changed(visitor_id, now);
    }

    fn record_page_view(
        &mut self,
        visitor_id: &str,
        visit_id: &str,
        page: &PageView,
        now: UnixMillis,
    ) {
        self.out
            .push(Output::Record(Record::PageView(PageViewRecord {
                visitor_id: visitor_id.to_string(),
                visit_id: visit_id.to_string(),
                seq: page.seq,
                url: page.url.clone(),
                title: page.title.clone(),
                referrer: page.referrer.clone(),
                at: now.saturating_sub(page.opened_ms_ago),
            })));
    }

    /// Recomputes a visitor's status from its connections and marks it changed if it moved.
    fn refresh_status(&mut self, visitor_id: &str, now: UnixMillis) {
        let Some(v) = self.visitors.get(visitor_id) else {
            return;
        };
        let status = if v.offline_since.is_some() {
            VisitorStatus::Offline
        } else if v.conns.is_empty() {
            v.status // inside the grace period: keep what the agent saw
        } else if v.conns.iter().any(|c| {
            matches!(self.conns.get(c), Some(Conn { role: ConnRole::Visitor(vc), .. }) if vc.activity == Activity::Active)
        }) {
            VisitorStatus::Active
        } else {
            VisitorStatus::Idle
        };
        if status != v.status {
            self.visitors.get_mut(visitor_id).expect("present").status = status;
            self.mark_changed(visitor_id, now);
        }
    }

    // -- agents ---------------------------------------------------------------------------

    fn agent_connected(
        &mut self,
        conn: ConnId,
        identity: AgentIdentity,
        available: bool,
        now: UnixMillis,
    ) {
        let me = identity.clone();
        self.add_conn(
            conn,
            ConnRole::Agent(AgentConn {
                identity,
                available,
                last_flush_at: Some(now),
                flush_scheduled: false,
                changed: BTreeSet::new(),
                removed: BTreeSet::new(),
            }),
            now,
        );
        let visitors = self.live_list();
        self.out.push(Output::ToAgent {
            conn,
            frame: AgentServerFrame::Snapshot {
                visitors,
                availability: self.availability_for(conn),
                conversations: self.conversations_for(conn),
                agents: self.online_agents(),
                blocked: self.chat.blocked_list(),
                server_now: now,
            },
        });
        self.resume_agent_call(conn, &me, now);
        self.update_site_availability(now);
    }

    fn agent_frame(&mut self, conn: ConnId, frame: AgentFrame, now: UnixMillis) {
        match frame {
            AgentFrame::Ping {} => self.out.push(Output::ToAgent {
                conn,
                frame: AgentServerFrame::Pong,
            }),
            AgentFrame::SetAvailability { available } => {
                if let Some(Conn {
                    role: ConnRole::Agent(agent),
                    ..
                }) = self.conns.get_mut(&conn)
                {
                    agent.available = available;
                }
                let before = self.site_available;
                self.update_site_availability(now);
                if before == self.site_available {
                    // Nobody else's view changed, but this agent's own toggle did.
                    self.out.push(Output::ToAgent {
                        conn,
                        frame: AgentServerFrame::Availability(self.availability_for(conn)),
                    });
                }
            }
            frame @ (AgentFrame::CallStart { .. }
            | AgentFrame::CallAccept { .. }
            | AgentFrame::CallAdd { .. }
            | AgentFrame::CallRemove { .. }
            | AgentFrame::CallEnd { .. }
            | AgentFrame::Navigate { .. }
            | AgentFrame::SetInteraction { .. }
            | AgentFrame::SetCalls { .. }) => {
                let Some(Conn {
                    role: ConnRole::Agent(agent),
                    ..
                }) = self.conns.get(&conn)
                else {
                    return;
                };
                let me = agent.identity.clone();
                if let Err(e) = self.agent_call_frame(conn, &me, frame, now) {
                    self.send_error(conn, e);
                }
            }
            chat_frame => self.agent_chat_frame(conn, chat_frame, now),
        }
    }

    fn agents(&self) -> impl Iterator<Item = (ConnId, &AgentConn)> {
        self.conns.iter().filter_map(|(id, c)| match &c.role {
            ConnRole::Agent(a) => Some((*id, a)),
            _ => None,
        })
    }

    fn availability_for(&self, conn: ConnId) -> AgentAvailability {
        let me = self
            .agents()
            .find(|(id, _)| *id == conn)
            .is_some_and(|(_, a)| a.available);
        AgentAvailability {
            me,
            site: self.agents().any(|(_, a)| a.available),
            agents_online: self.agents().count() as u32,
        }
    }

    /// Recomputes whether any agent is available; tells the widgets if that changed and
    /// every agent in any case (the count of agents online may have moved).
    fn update_site_availability(&mut self, _now: UnixMillis) {
        let available = self.agents().any(|(_, a)| a.available);
        if available != self.site_available {
            self.site_available = available;
            let widget_conns: Vec<ConnId> = self
                .conns
                .iter()
                .filter(
                    |(_, c)| matches!(&c.role, ConnRole::Visitor(vc) if vc.visitor_id.is_some()),
                )
                .map(|(id, _)| *id)
                .collect();
            for conn in widget_conns {
                self.out.push(Output::ToVisitor {
                    conn,
                    frame: VisitorServerFrame::Availability {
                        agents_available: available,
                    },
                });
            }
        }
        let agent_conns: Vec<ConnId> = self.agents().map(|(id, _)| id).collect();
        let agents = self.online_agents();
        for conn in agent_conns {
            let frame = AgentServerFrame::Availability(self.availability_for(conn));
            self.out.push(Output::ToAgent { conn, frame });
            self.out.push(Output::ToAgent {
                conn,
                frame: AgentServerFrame::Agents {
                    agents: agents.clone(),
                },
            });
        }
    }

    /// Agents connected now, one entry per agent (an agent may have several tabs).
    fn online_agents(&self) -> Vec<OnlineAgent> {
        let mut by_id: std::collections::BTreeMap<&str, OnlineAgent> = Default::default();
        for (_, a) in self.agents() {
            let entry = by_id
                .entry(a.identity.agent_id.as_str())
                .or_insert_with(|| OnlineAgent {
                    agent_id: a.identity.agent_id.clone(),
                    name: a.identity.name.clone(),
                    expert: a.identity.expert,
                    available: false,
                });
            entry.available |= a.available;
        }
        by_id.into_values().collect()
    }

    // -- batching list updates to agents --------------------------------------------------

    fn mark_changed(&mut self, visitor_id: &str, now: UnixMillis) {
        let interval = self.config.agent_flush_interval_ms;
        for (conn, c) in self.conns.iter_mut() {
            if let ConnRole::Agent(agent) = &mut c.role {
                agent.removed.remove(visitor_id);
                agent.changed.insert(visitor_id.to_string());
                schedule_flush(&mut self.timers, *conn, agent, interval, now);
            }
        }
    }

    fn mark_removed(&mut self, visitor_id: &str, now: UnixMillis) {
        let interval = self.config.agent_flush_interval_ms;
        for (conn, c) in self.conns.iter_mut() {
            if let ConnRole::Agent(agent) = &mut c.role {
                agent.changed.remove(visitor_id);
                agent.removed.insert(visitor_id.to_string());
                schedule_flush(&mut self.timers, *conn, agent, interval, now);
            }
        }
    }

    fn flush_agent(&mut self, conn: ConnId, now: UnixMillis) {
        let Some(Conn {
            role: ConnRole::Agent(agent),
            ..
        }) = self.conns.get_mut(&conn)
        else {
            return;
        };
        agent.flush_scheduled = false;
        if agent.changed.is_empty() && agent.removed.is_empty() {
            return;
        }
        agent.last_flush_at = Some(now);
        let changed = std::mem::take(&mut agent.changed);
        let removed: Vec<String> = std::mem::take(&mut agent.removed).into_iter().collect();
        let upserts = changed
            .iter()
            .filter_map(|id| self.visitors.get(id).map(|v| self.live_visitor(id, v)))
            .collect();
        self.out.push(Output::ToAgent {
            conn,
            frame: AgentServerFrame::VisitorsChanged {
                upserts,
                removed,
                server_now: now,
            },
        });
    }

    // -- timers ---------------------------------------------------------------------------

    fn fire_due_timers(&mut self, now: UnixMillis) {
        while let Some((at, _)) = self.timers.first() {
            if *at > now {
                break;
            }
            let (_, timer) = self.timers.pop_first().expect("non-empty");
            match timer {
                Timer::Flush(conn) => self.flush_agent(conn, now),
                Timer::Grace(visitor_id) => self.grace_expired(&visitor_id, now),
                Timer::Expire(visitor_id) => self.retention_expired(&visitor_id, now),
                Timer::Sweep => self.sweep(now),
            }
        }
    }

    fn grace_expired(&mut self, visitor_id: &str, now: UnixMillis) {
        let grace = self.config.offline_grace_ms;
        let retention = self.config.offline_retention_ms;
        let Some(v) = self.visitors.get_mut(visitor_id) else {
            return;
        };
        let due = v.conns.is_empty()
            && v.offline_since.is_none()
            && v.left_at.is_some_and(|left| left + grace <= now);
        if due {
            v.offline_since = Some(now);
            self.timers
                .insert((now + retention, Timer::Expire(visitor_id.to_string())));
            self.refresh_status(visitor_id, now);
        }
    }

    fn retention_expired(&mut self, visitor_id: &str, now: UnixMillis) {
        let retention = self.config.offline_retention_ms;
        let due = self
            .visitors
            .get(visitor_id)
            .and_then(|v| v.offline_since)
            .is_some_and(|since| since + retention <= now);
        if due {
            self.visitors.remove(visitor_id);
            self.mark_removed(visitor_id, now);
        }
    }

    /// Closes connections that went silent (a crashed browser never sends a close).
    fn sweep(&mut self, now: UnixMillis) {
        let timeout = self.config.heartbeat_timeout_ms;
        let dead: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.last_frame_at + timeout <= now)
            .map(|(id, _)| *id)
            .collect();
        for conn in dead {
            self.out.push(Output::Close {
                conn,
                code: close_code::TIMEOUT,
                reason: "no heartbeat".into(),
            });
            self.disconnected(conn, now);
        }
        if self.conns.is_empty() {
            self.sweep_scheduled = false;
        } else {
            self.timers
                .insert((now + self.config.sweep_interval_ms, Timer::Sweep));
        }
    }

    fn live_visitor(&self, id: &str, v: &Visitor) -> LiveVisitor {
        LiveVisitor {
            visitor_id: id.to_string(),
            status: v.status,
            visit_started_at: v.visit_started_at,
            page: v.page.clone(),
            location: v.location.clone(),
            returning: v.visit_count > 1,
            visit_count: v.visit_count,
            page_views_this_visit: v.page_seq,
            in_call: self.visitor_in_call(id),
            call_requested: self.visitor_requested_call(id),
            unread: self.chat.unread_of_visitor(id),
        }
    }
}

fn schedule_flush(
    timers: &mut BTreeSet<(UnixMillis, Timer)>,
    conn: ConnId,
    agent: &mut AgentConn,
    interval: u64,
    now: UnixMillis,
) {
    if agent.flush_scheduled {
        return;
    }
    agent.flush_scheduled = true;
    let at = agent
        .last_flush_at
        .map_or(now, |last| (last + interval).max(now));
    timers.insert((at, Timer::Flush(conn)));
}

fn current_page(page: &PageView, now: UnixMillis) -> CurrentPage {
    CurrentPage {
        url: page.url.clone(),
        title: page.title.clone(),
        opened_at: now.saturating_sub(page.opened_ms_ago),
    }
}
