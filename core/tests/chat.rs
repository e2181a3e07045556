//! Chat in the hub, driven with explicit times and explicit store answers: lifecycle,
//! ownership, transfer, blocking, and "nothing lost, nothing duplicated" (B2).

mod common;

use common::{to_agent, to_visitor};
use vitrine_core::conversations::Restored;
use vitrine_core::hub::{AgentIdentity, Hub, HubConfig, Input, Output};
use vitrine_core::protocol::*;
use vitrine_core::records::Record;

const T0: u64 = 1_700_000_000_000;
const ADA: u64 = 1; // agent connection
const BO: u64 = 2; // another agent
const V1: u64 = 10; // visitor-1's tab
const V1B: u64 = 11; // visitor-1's second tab

fn agent(id: &str, name: &str) -> AgentIdentity {
    AgentIdentity {
        agent_id: id.into(),
        name: name.into(),
        expert: false,
    }
}

fn hello(visitor: &str, after: u64) -> VisitorFrame {
    VisitorFrame::Hello {
        v: PROTOCOL_VERSION,
        visitor_id: visitor.into(),
        visit_id: "0000visit-1".into(),
        visit_age_ms: 0,
        page: PageView {
            seq: 1,
            url: "https://shop.example/lamp".into(),
            title: "Lamp".into(),
            referrer: None,
            opened_ms_ago: 0,
        },
        activity: Activity::Active,
        chat_after_seq: after,
    }
}

/// A test bench: the hub plus a fake-free "store" that the test answers explicitly.
struct Bench {
    hub: Hub,
    now: u64,
    /// Messages handed to the store and not yet answered.
    unstored: Vec<ChatMessage>,
    /// Everything the store has been asked to write.
    records: Vec<Record>,
}

impl Bench {
    fn new() -> Self {
        Self {
            hub: Hub::new(HubConfig::default()),
            now: T0,
            unstored: Vec::new(),
            records: Vec::new(),
        }
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        self.now += 10;
        let out = self.hub.handle(input, self.now);
        for o in &out {
            if let Output::Record(r) = o {
                self.records.push(r.clone());
                if let Record::Message(m) = r {
                    self.unstored.push(m.clone());
                }
            }
        }
        out
    }

    /// The store confirms every pending message write; returns what the hub then sent.
    fn store_all(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        for m in std::mem::take(&mut self.unstored) {
            out.extend(self.input(Input::MessageStored {
                conversation_id: m.conversation_id,
                seq: m.seq,
            }));
        }
        out
    }

    fn agent(&mut self, conn: u64, who: AgentIdentity) -> Vec<Output> {
        self.input(Input::AgentConnected {
            conn,
            agent: who,
            available: true,
        })
    }

    fn visitor(&mut self, conn: u64, visitor: &str, after: u64) -> Vec<Output> {
        self.input(Input::VisitorConnected {
            conn,
            location: Location::default(),
        });
        self.input(Input::FromVisitor {
            conn,
            frame: hello(visitor, after),
        })
    }

    fn visitor_says(&mut self, conn: u64, client_id: &str, text: &str) -> Vec<Output> {
        self.input(Input::FromVisitor {
            conn,
            frame: VisitorFrame::SendMessage {
                client_id: client_id.into(),
                text: text.into(),
                page_url: "https://shop.example/lamp".into(),
                contact: None,
            },
        })
    }

    fn agent_does(&mut self, conn: u64, frame: AgentFrame) -> Vec<Output> {
        self.input(Input::FromAgent { conn, frame })
    }

    fn agent_says(
        &mut self,
        conn: u64,
        conversation: &str,
        client_id: &str,
        text: &str,
    ) -> Vec<Output> {
        self.agent_does(
            conn,
            AgentFrame::SendMessage {
                conversation_id: conversation.into(),
                client_id: client_id.into(),
                body: MessageBody::Text { text: text.into() },
            },
        )
    }
}

fn agent_messages(out: &[Output], conn: u64) -> Vec<ChatMessage> {
    to_agent(out, conn)
        .into_iter()
        .filter_map(|f| match f {
            AgentServerFrame::Message { message } => Some(message),
            _ => None,
        })
        .collect()
}

fn visitor_messages(out: &[Output], conn: u64) -> Vec<ChatMessage> {
    to_visitor(out, conn)
        .into_iter()
        .filter_map(|f| match f {
            VisitorServerFrame::Message { message } => Some(message),
            _ => None,
        })
        .collect()
}

fn agent_error(out: &[Output], conn: u64) -> Option<ErrorCode> {
    to_agent(out, conn).into_iter().find_map(|f| match f {
        AgentServerFrame::Error(e) => Some(e.code),
        _ => None,
    })
}

fn summary(out: &[Output], conn: u64) -> Option<(ConversationSummary, bool)> {
    to_agent(out, conn).into_iter().rev().find_map(|f| match f {
        AgentServerFrame::ConversationChanged {
            conversation,
            visible,
        } => Some((conversation, visible)),
        _ => None,
    })
}

fn text(m: &ChatMessage) -> String {
    match &m.body {
        MessageBody::Text { text } | MessageBody::Event { text } => text.clone(),
        other => format!("{other:?}"),
    }
}

/// Visitor writes first; Ada and Bo both see it pending; Ada takes it; Bo no longer sees it.
fn pending_then_taken(b: &mut Bench) -> String {
    b.agent(ADA, agent("ada", "Ada"));
    b.agent(BO, agent("bo", "Bo"));
    b.visitor(V1, "visitor-1", 0);
    let out = b.visitor_says(V1, "msg-00000001", "Hello, is the lamp in stock?");
    assert!(
        agent_messages(&out, ADA).is_empty(),
        "nothing is delivered before it is stored"
    );
    let out = b.store_all();
    let (pending, visible) = summary(&out, ADA).expect("agents learn about the new conversation");
    assert_eq!(pending.status, ConversationStatus::Pending);
    assert!(visible);
    assert_eq!(pending.unread, 1);
    assert_eq!(
        summary(&out, BO).unwrap().0.status,
        ConversationStatus::Pending
    );
    let m = &agent_messages(&out, BO)[0];
    assert_eq!(m.seq, 1);
    assert_eq!(
        m.page_url.as_deref(),
        Some("https://shop.example/lamp"),
        "C5"
    );
    let id = pending.conversation_id.clone();

    b.agent_does(
        ADA,
        AgentFrame::Take {
            conversation_id: id.clone(),
        },
    );
    let out = b.store_all();
    let (taken, visible_to_ada) = summary(&out, ADA).unwrap();
    assert_eq!(taken.status, ConversationStatus::Active);
    assert_eq!(taken.owner.as_ref().unwrap().agent_id, "ada");
    assert!(visible_to_ada);
    assert!(
        !summary(&out, BO).unwrap().1,
        "Bo no longer sees Ada's active conversation"
    );
    assert!(to_visitor(&out, V1).iter().any(|f| matches!(f, VisitorServerFrame::Message { message } if text(message) == "Ada joined the conversation")));
    id
}

#[test]
fn reactive_chat_is_pending_then_owned_by_the_agent_who_takes_it() {
    let mut b = Bench::new();
    let id = pending_then_taken(&mut b);
    // Bo can neither take nor answer it, and learns nothing about it.
    let out = b.agent_does(
        BO,
        AgentFrame::Take {
            conversation_id: id.clone(),
        },
    );
    assert_eq!(agent_error(&out, BO), Some(ErrorCode::NotFound));
    let out = b.agent_says(BO, &id, "msg-bo-0001", "Hi from Bo");
    assert_eq!(agent_error(&out, BO), Some(ErrorCode::NotFound));
    assert!(b.unstored.is_empty());
    // Ada answers; the visitor sees it with the next sequence number.
    b.agent_says(ADA, &id, "msg-ada-0001", "Yes, 3 left.");
    let out = b.store_all();
    let m = &visitor_messages(&out, V1)[0];
    assert_eq!((m.seq, text(m).as_str()), (3, "Yes, 3 left."));
    assert!(to_agent(&out, ADA).iter().any(|f| matches!(f, AgentServerFrame::MessageAck { seq: 3, client_id, .. } if client_id == "msg-ada-0001")));
    assert!(agent_messages(&out, BO).is_empty());
}

#[test]
fn proactive_chat_reaches_the_visitor_as_an_active_conversation() {
    let mut b = Bench::new();
    b.agent(ADA, agent("ada", "Ada"));
    b.visitor(V1, "visitor-1", 0);
    let out = b.agent_does(
        ADA,
        AgentFrame::StartConversation {
            visitor_id: "visitor-1".into(),
            client_id: "msg-ada-0001".into(),
            body: MessageBody::Text {
                text: "Can I help you choose?".into(),
            },
        },
    );
    assert!(to_visitor(&out, V1).iter().any(|f| matches!(f, VisitorServerFrame::Conversation { conversation, .. } if conversation.status == ConversationStatus::Active && conversation.agent_name.as_deref() == Some("Ada"))));
    let out = b.store_all();
    assert_eq!(
        text(&visitor_messages(&out, V1)[0]),
        "Can I help you choose?"
    );
    let (s, _) = summary(&out, ADA).unwrap();
    assert!(s.proactive);
    // A second proactive start for the same visitor is refused: one open conversation each.
    let out = b.agent_does(
        ADA,
        AgentFrame::StartConversation {
            visitor_id: "visitor-1".into(),
            client_id: "msg-ada-0002".into(),
            body: MessageBody::Text {
                text: "Hello?".into(),
            },
        },
    );
    assert_eq!(agent_error(&out, ADA), Some(ErrorCode::Conflict));
    // Unknown visitors cannot be contacted.
    let out = b.agent_does(
        ADA,
        AgentFrame::StartConversation {
            visitor_id: "visitor-unknown".into(),
            client_id: "msg-ada-0003".into(),
            body: MessageBody::Text {
                text: "Hello?".into(),
            },
        },
    );
    assert_eq!(agent_error(&out, ADA), Some(ErrorCode::NotFound));
}

#[test]
fn typing_preview_goes_to_the_agent_and_only_typing_state_to_the_visitor() {
    let mut b = Bench::new();
    let id = pending_then_taken(&mut b);
    let out = b.input(Input::FromVisitor {
        conn: V1,
        frame: VisitorFrame::Typing {
            draft: "Does it come in bla".into(),
        },
    });
    assert!(to_agent(&out, ADA).iter().any(|f| matches!(f, AgentServerFrame::TypingPreview { draft, .. } if draft == "Does it come in bla")));
    assert!(
        to_agent(&out, BO).is_empty(),
        "only the owner sees an active conversation's draft"
    );
    let out = b.agent_does(
        ADA,
        AgentFrame::Typing {
            conversation_id: id,
            typing: true,
        },
    );
    assert_eq!(
        to_visitor(&out, V1),
        vec![VisitorServerFrame::AgentTyping { typing: true }]
    );
    // The agent's tab closes while typing: the visitor stops seeing "typing".
    let out = b.input(Input::Disconnected { conn: ADA });
    assert!(to_visitor(&out, V1).contains(&VisitorServerFrame::AgentTyping { typing: false }));
}

#[test]
fn transfer_hands_over_ownership_only_to_an_agent_online() {
    let mut b = Bench::new();
    let id = pending_then_taken(&mut b);
    let out = b.agent_does(
        ADA,
        AgentFrame::Transfer {
            conversation_id: id.clone(),
            to_agent_id: "nobody-online".into(),
        },
    );
    assert_eq!(agent_error(&out, ADA), Some(ErrorCode::NotFound));
    let out = b.agent_does(
        BO,
        AgentFrame::Transfer {
            conversation_id: id.clone(),
            to_agent_id: "bo".into(),
        },
    );
    assert_eq!(
        agent_error(&out, BO),
        Some(ErrorCode::NotFound),
        "only the owner transfers"
    );
    let out = b.agent_does(
        ADA,
        AgentFrame::Transfer {
            conversation_id: id.clone(),
            to_agent_id: "bo".into(),
        },
    );
    assert!(to_visitor(&out, V1).iter().any(|f| matches!(f, VisitorServerFrame::Conversation { conversation, .. } if conversation.agent_name.as_deref() == Some("Bo"))));
    let out = b.store_all();
    assert!(summary(&out, BO).unwrap().1);
    assert!(!summary(&out, ADA).unwrap().1);
    assert_eq!(
        text(&agent_messages(&out, BO)[0]),
        "Ada transferred the conversation to Bo"
    );
    let out = b.agent_says(ADA, &id, "msg-ada-0009", "still here?");
    assert_eq!(agent_error(&out, ADA), Some(ErrorCode::NotFound));
    let last_summary = b.records.iter().rev().find_map(|r| match r {
        Record::Conversation(s) => Some(s.clone()),
        _ => None,
    });
    assert_eq!(
        last_summary.unwrap().owner.unwrap().agent_id,
        "bo",
        "the new owner is stored"
    );
}

#[test]
fn end_closes_and_reopen_brings_the_conversation_back_from_the_store() {
    let mut b = Bench::new();
    let id = pending_then_taken(&mut b);
    b.agent_does(
        ADA,
        AgentFrame::End {
            conversation_id: id.clone(),
        },
    );
    let out = b.store_all();
    assert_eq!(
        summary(&out, ADA).unwrap().0.status,
        ConversationStatus::Closed
    );
    assert!(
        matches!(b.records.iter().rev().find(|r| matches!(r, Record::Conversation(_))), Some(Record::Conversation(s)) if s.status == ConversationStatus::Closed)
    );
    // Closed: answering is refused until reopened.
    let out = b.agent_says(ADA, &id, "msg-ada-0002", "one more thing");
    assert_eq!(agent_error(&out, ADA), Some(ErrorCode::NotFound));
    // Reopen: the hub asks the store, then makes it Active and Ada's again.
    let out = b.agent_does(
        ADA,
        AgentFrame::Reopen {
            conversation_id: id.clone(),
        },
    );
    assert!(out.iter().any(
        |o| matches!(o, Output::LoadConversation { conversation_id } if *conversation_id == id)
    ));
    let stored = (
        ConversationSummary {
            status: ConversationStatus::Closed,
            ..summary(&b.store_all(), ADA)
                .map(|s| s.0)
                .unwrap_or_else(|| closed_summary(&id))
        },
        Vec::new(),
    );
    b.input(Input::ConversationLoaded {
        conversation_id: id.clone(),
        loaded: Some(stored),
    });
    let out = b.store_all();
    let (s, visible) = summary(&out, ADA).unwrap();
    assert_eq!((s.status, visible), (ConversationStatus::Active, true));
    assert!(agent_messages(&out, ADA)
        .iter()
        .any(|m| text(m) == "Ada reopened the conversation"));
    // An unknown ID is "not found".
    b.agent_does(
        ADA,
        AgentFrame::Reopen {
            conversation_id: "unknown-conv".into(),
        },
    );
    let out = b.input(Input::ConversationLoaded {
        conversation_id: "unknown-conv".into(),
        loaded: None,
    });
    assert_eq!(agent_error(&out, ADA), Some(ErrorCode::NotFound));
}

fn closed_summary(id: &str) -> ConversationSummary {
    ConversationSummary {
        conversation_id: id.into(),
        visitor_id: "visitor-1".into(),
        status: ConversationStatus::Closed,
        owner: None,
        contact: Contact::default(),
        created_at: T0,
        updated_at: T0,
        preview: String::new(),
        last_seq: 5,
        unread: 0,
        proactive: false,
    }
}

#[test]
fn a_blocked_visitor_cannot_start_conversations_until_unblocked() {
    let mut b = Bench::new();
    let _id = pending_then_taken(&mut b);
    let out = b.agent_does(
        ADA,
        AgentFrame::Block {
            visitor_id: "visitor-1".into(),
            blocked: true,
        },
    );
    assert!(to_visitor(&out, V1)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::Error(e) if e.code == ErrorCode::Blocked)));
    assert!(to_agent(&out, BO).contains(&AgentServerFrame::Blocked {
        visitors: vec!["visitor-1".into()]
    }));
    assert!(b
        .records
        .iter()
        .any(|r| matches!(r, Record::Blocked { blocked: true, .. })));
    b.store_all();
    let out = b.visitor_says(V1, "msg-00000009", "let me in");
    assert!(to_visitor(&out, V1)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::Error(e) if e.code == ErrorCode::Blocked)));
    assert!(b.unstored.is_empty());
    b.agent_does(
        ADA,
        AgentFrame::Block {
            visitor_id: "visitor-1".into(),
            blocked: false,
        },
    );
    b.visitor_says(V1, "msg-00000010", "thanks");
    assert_eq!(b.unstored.len(), 1, "a new conversation starts");
}

#[test]
fn resends_are_acknowledged_not_duplicated_and_order_is_kept() {
    let mut b = Bench::new();
    b.agent(ADA, agent("ada", "Ada"));
    b.visitor(V1, "visitor-1", 0);
    b.visitor_says(V1, "msg-00000001", "one");
    b.visitor_says(V1, "msg-00000002", "two");
    // The store confirms #2 before #1: nothing may overtake.
    let second = b.unstored.pop().unwrap();
    let out = b.input(Input::MessageStored {
        conversation_id: second.conversation_id.clone(),
        seq: second.seq,
    });
    assert!(agent_messages(&out, ADA).is_empty());
    let out = b.store_all();
    let seqs: Vec<u64> = agent_messages(&out, ADA).iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2]);
    // The widget lost its connection before the acks arrived, reconnects, resends both.
    b.input(Input::Disconnected { conn: V1 });
    let out = b.visitor(V1B, "visitor-1", 0);
    let resumed = to_visitor(&out, V1B).into_iter().find_map(|f| match f {
        VisitorServerFrame::Conversation { messages, .. } => Some(messages),
        _ => None,
    });
    assert_eq!(
        resumed.unwrap().len(),
        2,
        "resume sends what the widget has not seen"
    );
    let out = b.visitor_says(V1B, "msg-00000001", "one");
    assert!(to_visitor(&out, V1B)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::MessageAck { seq: 1, .. })));
    b.visitor_says(V1B, "msg-00000002", "two");
    assert!(b.unstored.is_empty(), "resends write nothing");
    // Resume after seq 1 sends only seq 2.
    let out = b.visitor(V1, "visitor-1", 1);
    let messages = to_visitor(&out, V1).into_iter().find_map(|f| match f {
        VisitorServerFrame::Conversation { messages, .. } => Some(messages),
        _ => None,
    });
    assert_eq!(
        messages.unwrap().iter().map(|m| m.seq).collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn a_failed_write_is_reported_and_later_messages_still_flow() {
    let mut b = Bench::new();
    b.agent(ADA, agent("ada", "Ada"));
    b.visitor(V1, "visitor-1", 0);
    b.visitor_says(V1, "msg-00000001", "one");
    b.visitor_says(V1, "msg-00000002", "two");
    let first = b.unstored.remove(0);
    let out = b.input(Input::MessageFailed {
        conversation_id: first.conversation_id.clone(),
        seq: first.seq,
    });
    assert!(to_visitor(&out, V1)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::Error(e) if e.code == ErrorCode::NotSaved)));
    let out = b.store_all();
    assert_eq!(
        agent_messages(&out, ADA)
            .iter()
            .map(|m| text(m))
            .collect::<Vec<_>>(),
        ["two"]
    );
    // The widget resends "one": it is stored under a new number, after "two".
    b.visitor_says(V1, "msg-00000001", "one");
    let out = b.store_all();
    assert_eq!(agent_messages(&out, ADA)[0].seq, 3);
}

#[test]
fn a_restarted_hub_resumes_numbering_from_the_store() {
    let mut b = Bench::new();
    b.visitor(V1, "visitor-1", 0);
    b.visitor_says(V1, "msg-00000001", "one");
    b.store_all();
    let conversation = match b
        .records
        .iter()
        .find(|r| matches!(r, Record::Conversation(_)))
    {
        Some(Record::Conversation(s)) => s.clone(),
        _ => panic!("conversation record"),
    };
    let stored: Vec<ChatMessage> = b
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    // A new hub, restored from what the store holds.
    let mut fresh = Bench::new();
    fresh.hub.restore(Restored {
        conversations: vec![(
            ConversationSummary {
                last_seq: 1,
                preview: "one".into(),
                unread: 1,
                ..conversation
            },
            stored,
        )],
        blocked: vec![],
    });
    let out = fresh.agent(ADA, agent("ada", "Ada"));
    assert!(
        matches!(&to_agent(&out, ADA)[0], AgentServerFrame::Snapshot { conversations, .. } if conversations.len() == 1)
    );
    fresh.visitor(V1, "visitor-1", 1);
    // The widget resends "one" (it never saw the ack): recognised after the restart.
    fresh.visitor_says(V1, "msg-00000001", "one");
    assert!(fresh.unstored.is_empty());
    fresh.visitor_says(V1, "msg-00000002", "two");
    assert_eq!(fresh.unstored[0].seq, 2);
}

#[test]
fn visitor_floods_are_refused_with_a_clear_error() {
    let mut b = Bench::new();
    b.visitor(V1, "visitor-1", 0);
    let mut limited = false;
    for i in 0..20 {
        let out = b.visitor_says(V1, &format!("msg-flood-{i:04}"), "spam");
        limited |= to_visitor(&out, V1)
            .iter()
            .any(|f| matches!(f, VisitorServerFrame::Error(e) if e.code == ErrorCode::RateLimited));
    }
    assert!(limited);
    assert!(
        b.unstored.len() <= 9,
        "at most the burst is accepted, got {}",
        b.unstored.len()
    );
}

#[test]
fn unread_marks_reach_the_live_list_and_clear_when_read() {
    let mut b = Bench::new();
    b.agent(ADA, agent("ada", "Ada"));
    b.visitor(V1, "visitor-1", 0);
    b.visitor_says(V1, "msg-00000001", "hello");
    b.store_all();
    assert_eq!(b.hub.live_list()[0].unread, 1);
    let id = b.hub.chat_summary_of("visitor-1").unwrap().conversation_id;
    b.agent_does(
        ADA,
        AgentFrame::MarkRead {
            conversation_id: id,
            seq: 1,
        },
    );
    assert_eq!(b.hub.live_list()[0].unread, 0);
}

#[test]
fn the_visitor_can_end_the_conversation() {
    let mut b = Bench::new();
    let _ = pending_then_taken(&mut b);
    let out = b.input(Input::FromVisitor {
        conn: V1,
        frame: VisitorFrame::EndConversation {},
    });
    assert!(to_visitor(&out, V1).iter().any(|f| matches!(f, VisitorServerFrame::Conversation { conversation, .. } if conversation.status == ConversationStatus::Closed)));
    assert!(b.hub.chat_summary_of("visitor-1").is_none());
}
