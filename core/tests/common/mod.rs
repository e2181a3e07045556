//! The hub test harness: a [`Bench`] drives one hub with explicit times and answers its
//! store requests (all at once, or held for the test to answer); [`Visitor`] and
//! [`Agent`] build the people on the site; [`Out`] reads what a step produced. A test
//! states only what it tests.

#![allow(dead_code)]

use vitrine_core::access::visitor_credential;
use vitrine_core::codec::FrameError;
use vitrine_core::hub::storage::Answer;
use vitrine_core::hub::{
    AgentIdentity, CallConfig, Hub, HubConfig, Input, Output, SiteSettings, StoreOp, StoreReply,
    StoreRequest,
};
use vitrine_core::protocol::*;
use vitrine_core::store::agents::Role;
use vitrine_core::store::contacts::Identified;
use vitrine_core::store::conversations::Restored;
use vitrine_core::store::StoreError;

pub const T0: u64 = 1_700_000_000_000;
pub const SITE: &str = "demo-shop";
pub const CALL_KEY: &[u8] = b"hub-call-key";
pub const VISITOR_KEY: &[u8] = b"hub-visitor-key";

/// A page of the test shop.
pub fn page(seq: u32, path: &str, title: &str) -> PageView {
    PageView {
        seq,
        url: format!("https://shop.example{path}"),
        title: title.into(),
        referrer: None,
        opened_ms_ago: 0,
    }
}

/// One tab of a visitor, and what its `hello` says.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub conn: ConnId,
    pub id: String,
    pub visit: String,
    pub page: PageView,
    pub visit_age_ms: u64,
    pub after_seq: u64,
    pub activity: Activity,
}

impl Visitor {
    pub fn new(conn: ConnId, id: &str) -> Self {
        Self {
            conn,
            id: id.into(),
            visit: "0000visit-1".into(),
            page: page(1, "/", "Home"),
            visit_age_ms: 0,
            after_seq: 0,
            activity: Activity::Active,
        }
    }
    /// The same visitor in another tab (another connection).
    pub fn tab(&self, conn: ConnId) -> Self {
        Self {
            conn,
            ..self.clone()
        }
    }
    pub fn visit(mut self, visit: &str) -> Self {
        self.visit = visit.into();
        self
    }
    pub fn on(mut self, page: PageView) -> Self {
        self.page = page;
        self
    }
    pub fn after(mut self, seq: u64) -> Self {
        self.after_seq = seq;
        self
    }
    pub fn aged(mut self, visit_age_ms: u64) -> Self {
        self.visit_age_ms = visit_age_ms;
        self
    }
    /// A `hello` with the credential the hub gave this visitor (tests name visitors; the
    /// hub would have named a new one itself).
    pub fn hello(&self) -> VisitorFrame {
        VisitorFrame::Hello {
            v: PROTOCOL_VERSION,
            credential: Some(visitor_credential(VISITOR_KEY, SITE, &self.id)),
            visit_id: self.visit.clone(),
            visit_age_ms: self.visit_age_ms,
            page: self.page.clone(),
            activity: self.activity,
            chat_after_seq: self.after_seq,
        }
    }
}

/// One portal tab of an agent.
#[derive(Debug, Clone)]
pub struct Agent {
    pub conn: ConnId,
    pub identity: AgentIdentity,
    /// The session the agent's sockets were opened with.
    pub session: String,
    pub available: bool,
}

impl Agent {
    pub fn new(conn: ConnId, id: &str, name: &str) -> Self {
        Self {
            conn,
            identity: AgentIdentity {
                agent_id: id.into(),
                name: name.into(),
                role: Role::Admin,
            },
            session: format!("{id}-session"),
            available: true,
        }
    }
    pub fn unavailable(mut self) -> Self {
        self.available = false;
        self
    }
    /// Another tab of the same sign-in (same session).
    pub fn tab(&self, conn: ConnId) -> Self {
        Self {
            conn,
            ..self.clone()
        }
    }
    /// The same agent signed in elsewhere (another session).
    pub fn elsewhere(&self, conn: ConnId, session: &str) -> Self {
        Self {
            conn,
            session: session.into(),
            ..self.clone()
        }
    }
    pub fn id(&self) -> &str {
        &self.identity.agent_id
    }
}

/// A hub, its clock, and its store's answers.
pub struct Bench {
    pub hub: Hub,
    pub now: u64,
    /// Every store request the hub made, in order.
    pub requests: Vec<StoreOp>,
    /// Requests waiting for the test to answer them.
    pub held: Vec<StoreRequest>,
    /// Which requests are held instead of answered at once.
    hold: fn(&StoreOp) -> bool,
}

/// By default every request succeeds at once, except reads the test must answer.
fn hold_loads(op: &StoreOp) -> bool {
    matches!(op, StoreOp::LoadConversation { .. })
}

/// Messages (and loads) wait for the test: it decides when the store confirms them.
pub fn hold_messages(op: &StoreOp) -> bool {
    !messages_of(op).is_empty() || matches!(op, StoreOp::LoadConversation { .. })
}

/// Everything waits for the test.
pub fn hold_all(_: &StoreOp) -> bool {
    true
}

impl Bench {
    /// A restored hub with the default configuration, at `T0`.
    pub fn new() -> Self {
        Self::with(HubConfig::default())
    }

    pub fn with(config: HubConfig) -> Self {
        Self::restored_from(config, Restored::default())
    }

    /// A hub whose store held `restored` when it started.
    pub fn restored_from(config: HubConfig, restored: Restored) -> Self {
        let mut bench = Self {
            hub: Hub::new(
                SITE,
                HubConfig {
                    visitor_key: VISITOR_KEY.to_vec(),
                    ..config
                },
            ),
            now: T0,
            requests: Vec::new(),
            held: Vec::new(),
            hold: hold_loads,
        };
        let out = bench.hub.handle(Input::Tick, T0);
        let restore = match &out[..] {
            [Output::Store(
                r @ StoreRequest {
                    op: StoreOp::Restore,
                    ..
                },
            )] => r.clone(),
            other => panic!("a new hub asks to restore first, got {other:?}"),
        };
        bench.reply(restore.id, Ok(Answer::Restored(restored)));
        assert!(bench.hub.is_restored());
        bench
    }

    /// A hub with calls through a media node, on the site's settings.
    pub fn with_calls(calls_enabled: bool) -> Self {
        Self::with_calls_through(calls_enabled, None)
    }

    /// As [`Bench::with_calls`], with a TURN relay for networks that drop UDP.
    pub fn with_calls_through(
        calls_enabled: bool,
        turn: Option<vitrine_core::turn::TurnConfig>,
    ) -> Self {
        let mut bench = Self::with(HubConfig {
            calls: Some(CallConfig {
                media_url: "ws://127.0.0.1:7070/ws/call".into(),
                key: CALL_KEY.to_vec(),
                turn,
            }),
            ..HubConfig::default()
        });
        bench.input(Input::SiteSettings(SiteSettings {
            allowed_origins: vec!["https://shop.example".into()],
            calls_in_plan: true,
            calls_enabled,
            ..SiteSettings::default()
        }));
        bench
    }

    pub fn holding(mut self, hold: fn(&StoreOp) -> bool) -> Self {
        self.hold = hold;
        self
    }

    /// Sets the clock (absolute) for the next steps.
    pub fn at(&mut self, now: u64) -> &mut Self {
        self.now = now;
        self
    }

    /// One input at the current time, with the store's immediate answers carried out.
    pub fn input(&mut self, input: Input) -> Out {
        let out = self.hub.handle(input, self.now);
        self.settle(out)
    }

    fn settle(&mut self, out: Vec<Output>) -> Out {
        let mut all = Vec::new();
        let mut queue = out;
        while !queue.is_empty() {
            let mut next = Vec::new();
            for output in queue {
                if let Output::Store(request) = &output {
                    self.requests.push(request.op.clone());
                    if (self.hold)(&request.op) {
                        self.held.push(request.clone());
                    } else {
                        let reply = StoreReply {
                            id: request.id,
                            result: Ok(success(&request.op)),
                        };
                        next.extend(self.hub.handle(Input::Stored(reply), self.now));
                    }
                }
                all.push(output);
            }
            queue = next;
        }
        Out(all)
    }

    /// Answers one request.
    pub fn reply(&mut self, id: u64, result: Result<Answer, StoreError>) -> Out {
        self.held.retain(|r| r.id != id);
        self.input(Input::Stored(StoreReply { id, result }))
    }

    /// The store confirms every held request (in the order they were made).
    pub fn store_all(&mut self) -> Out {
        let mut all = Vec::new();
        while !self.held.is_empty() {
            for request in std::mem::take(&mut self.held) {
                all.extend(self.reply(request.id, Ok(success(&request.op))).0);
            }
        }
        Out(all)
    }

    /// The held request `which` picks (the first that matches), removed from `held`.
    pub fn take_held(&mut self, which: impl Fn(&StoreOp) -> bool) -> StoreRequest {
        let at = self
            .held
            .iter()
            .position(|r| which(&r.op))
            .unwrap_or_else(|| panic!("no such held request in {:?}", self.held));
        self.held.remove(at)
    }

    /// Held messages, in the order they were written.
    pub fn held_messages(&self) -> Vec<ChatMessage> {
        self.held
            .iter()
            .flat_map(|r| messages_of(&r.op).to_vec())
            .collect()
    }

    /// Ticks at every wake-up up to `until` (as an adapter's timer would).
    pub fn run_until(&mut self, until: u64) -> Out {
        let mut all = Vec::new();
        while let Some(at) = self.hub.next_wakeup() {
            if at > until {
                break;
            }
            self.now = at.max(self.now);
            all.extend(self.input(Input::Tick).0);
        }
        self.now = until;
        Out(all)
    }

    // -- people -----------------------------------------------------------------------------

    /// A visitor's tab opens and says hello.
    pub fn visitor(&mut self, v: &Visitor) -> Out {
        let mut out = self.connect_visitor(v.conn);
        out.0.extend(self.visitor_does(v, v.hello()).0);
        out
    }

    /// A widget's socket opens (no hello yet), from the test network address.
    pub fn connect_visitor(&mut self, conn: ConnId) -> Out {
        self.connect_visitor_from(conn, "192.0.2.1")
    }

    pub fn connect_visitor_from(&mut self, conn: ConnId, address: &str) -> Out {
        self.input(Input::VisitorConnected {
            conn,
            location: Location::default(),
            address: address.into(),
            nonce: nonce(conn),
        })
    }

    pub fn agent(&mut self, a: &Agent) -> Out {
        self.input(Input::AgentConnected {
            conn: a.conn,
            agent: a.identity.clone(),
            session: a.session.clone(),
            available: a.available,
        })
    }

    pub fn disconnect(&mut self, conn: ConnId) -> Out {
        self.input(Input::Disconnected { conn })
    }

    pub fn visitor_does(&mut self, v: &Visitor, frame: VisitorFrame) -> Out {
        self.input(Input::FromVisitor {
            conn: v.conn,
            frame,
        })
    }

    pub fn agent_does(&mut self, a: &Agent, frame: AgentFrame) -> Out {
        self.input(Input::FromAgent {
            conn: a.conn,
            frame,
        })
    }

    pub fn rejected(&mut self, conn: ConnId, error: FrameError) -> Out {
        self.input(Input::Rejected { conn, error })
    }

    pub fn says(&mut self, v: &Visitor, client_id: &str, text: &str) -> Out {
        self.visitor_does(
            v,
            VisitorFrame::SendMessage {
                client_id: client_id.into(),
                text: text.into(),
                page_url: v.page.url.clone(),
                contact: None,
            },
        )
    }

    pub fn agent_says(
        &mut self,
        a: &Agent,
        conversation: &str,
        client_id: &str,
        text: &str,
    ) -> Out {
        self.agent_does(
            a,
            AgentFrame::SendMessage {
                conversation_id: conversation.into(),
                client_id: client_id.into(),
                body: MessageBody::Text { text: text.into() },
            },
        )
    }

    /// The last conversation summary the hub asked the store to write.
    pub fn last_stored_summary(&self) -> Option<ConversationSummary> {
        self.requests.iter().rev().find_map(|op| match op {
            StoreOp::Conversation(s) | StoreOp::Open { summary: s, .. } => Some(s.clone()),
            _ => None,
        })
    }
}

/// The nonce a test socket brings: what a new visitor's ID is made from.
pub fn nonce(conn: ConnId) -> [u8; 16] {
    let mut nonce = [7u8; 16];
    nonce[..8].copy_from_slice(&conn.to_be_bytes());
    nonce
}

/// The chat messages a store request writes, if any (alone, together, or opening their
/// conversation).
pub fn messages_of(op: &StoreOp) -> &[ChatMessage] {
    match op {
        StoreOp::Messages(messages) => messages,
        StoreOp::Open { message, .. } => std::slice::from_ref(message),
        _ => &[],
    }
}

/// What the store says when a request succeeds.
pub fn success(op: &StoreOp) -> Answer {
    match op {
        StoreOp::Restore => Answer::Restored(Restored::default()),
        StoreOp::Visit { .. } => Answer::VisitCount(1),
        StoreOp::LoadConversation { .. } => Answer::Conversation(None),
        StoreOp::PageView { .. }
        | StoreOp::Open { .. }
        | StoreOp::Conversation(_)
        | StoreOp::Messages(_)
        | StoreOp::Blocked { .. }
        | StoreOp::CallsSetting { .. }
        | StoreOp::Track { .. }
        | StoreOp::QueueMail(_) => Answer::Done,
        StoreOp::Identify { .. } => Answer::Identified(Identified::Linked),
    }
}

/// What one or more steps produced.
#[derive(Debug, Default)]
pub struct Out(pub Vec<Output>);

impl Out {
    pub fn extend(&mut self, other: Out) {
        self.0.extend(other.0);
    }

    pub fn to_agent(&self, conn: ConnId) -> Vec<AgentServerFrame> {
        self.0
            .iter()
            .filter_map(|o| match o {
                Output::ToAgent { conn: c, frame } if *c == conn => Some(frame.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn to_visitor(&self, conn: ConnId) -> Vec<VisitorServerFrame> {
        self.0
            .iter()
            .filter_map(|o| match o {
                Output::ToVisitor { conn: c, frame } if *c == conn => Some(frame.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn agent_error(&self, conn: ConnId) -> Option<ErrorCode> {
        self.to_agent(conn).into_iter().find_map(|f| match f {
            AgentServerFrame::Error(e) => Some(e.code),
            _ => None,
        })
    }

    /// The first error to `conn` (visitor or agent) and the message it is about.
    pub fn error_about(&self, conn: ConnId) -> Option<(ErrorCode, Option<String>)> {
        let to_visitor = self.to_visitor(conn).into_iter().filter_map(|f| match f {
            VisitorServerFrame::Error(e) => Some(e),
            _ => None,
        });
        let to_agent = self.to_agent(conn).into_iter().filter_map(|f| match f {
            AgentServerFrame::Error(e) => Some(e),
            _ => None,
        });
        to_visitor
            .chain(to_agent)
            .next()
            .map(|e| (e.code, e.client_id))
    }

    pub fn visitor_error(&self, conn: ConnId) -> Option<ErrorCode> {
        self.to_visitor(conn).into_iter().find_map(|f| match f {
            VisitorServerFrame::Error(e) => Some(e.code),
            _ => None,
        })
    }

    pub fn stores(&self) -> Vec<&StoreOp> {
        self.0
            .iter()
            .filter_map(|o| match o {
                Output::Store(r) => Some(&r.op),
                _ => None,
            })
            .collect()
    }

    pub fn closes(&self) -> Vec<(ConnId, u16)> {
        self.0
            .iter()
            .filter_map(|o| match o {
                Output::Close { conn, code, .. } => Some((*conn, *code)),
                _ => None,
            })
            .collect()
    }

    /// The live list updates an agent connection received: (upserts, removed).
    pub fn list_updates(&self, conn: ConnId) -> Vec<(Vec<LiveVisitor>, Vec<String>)> {
        self.to_agent(conn)
            .into_iter()
            .filter_map(|f| match f {
                AgentServerFrame::VisitorsChanged {
                    upserts, removed, ..
                } => Some((upserts, removed)),
                _ => None,
            })
            .collect()
    }

    pub fn agent_messages(&self, conn: ConnId) -> Vec<ChatMessage> {
        self.to_agent(conn)
            .into_iter()
            .filter_map(|f| match f {
                AgentServerFrame::Message { message } => Some(message),
                _ => None,
            })
            .collect()
    }

    pub fn visitor_messages(&self, conn: ConnId) -> Vec<ChatMessage> {
        self.to_visitor(conn)
            .into_iter()
            .filter_map(|f| match f {
                VisitorServerFrame::Message { message } => Some(message),
                _ => None,
            })
            .collect()
    }

    /// The last conversation an agent connection was shown.
    pub fn summary(&self, conn: ConnId) -> Option<ConversationSummary> {
        self.to_agent(conn).into_iter().rev().find_map(|f| match f {
            AgentServerFrame::ConversationChanged { conversation } => Some(conversation),
            _ => None,
        })
    }

    /// The conversations an agent connection was told it can no longer see.
    /// The call invitation a visitor's connection got: the call and its preview join.
    pub fn invite(&self, conn: ConnId) -> Option<(String, CallJoinInfo)> {
        self.to_visitor(conn).into_iter().find_map(|f| match f {
            VisitorServerFrame::CallInvite {
                call_id, preview, ..
            } => Some((call_id, preview)),
            _ => None,
        })
    }

    pub fn hidden(&self, conn: ConnId) -> Vec<String> {
        self.to_agent(conn)
            .into_iter()
            .filter_map(|f| match f {
                AgentServerFrame::ConversationHidden {
                    conversation_id, ..
                } => Some(conversation_id),
                _ => None,
            })
            .collect()
    }

    /// Texts of the hub's own notes written to the store (lifecycle and call notes).
    pub fn notes(&self) -> Vec<String> {
        self.stores()
            .into_iter()
            .flat_map(|op| messages_of(op).to_vec())
            .filter_map(|m| match &m.body {
                MessageBody::Event { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

/// A message's text (or a short description of other bodies).
pub fn text(m: &ChatMessage) -> String {
    match &m.body {
        MessageBody::Text { text } | MessageBody::Event { text, .. } => text.clone(),
        other => format!("{other:?}"),
    }
}
