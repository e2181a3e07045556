//! Conversations in the hub, driven with explicit store answers: lifecycle, ownership,
//! transfer, blocking, and "nothing lost, nothing duplicated" (B2).

mod common;

use common::*;
use vitrine_core::hub::storage::Answer;
use vitrine_core::hub::{HubConfig, Input, SiteSettings, StoreOp};
use vitrine_core::protocol::*;
use vitrine_core::store::conversations::Restored;

fn ada() -> Agent {
    Agent::new(1, "ada", "Ada")
}
fn bo() -> Agent {
    Agent::new(2, "bo", "Bo")
}
fn v1() -> Visitor {
    Visitor::new(10, "visitor-1").on(page(1, "/lamp", "Lamp"))
}

/// A hub whose store confirms messages when the test says so.
fn bench() -> Bench {
    Bench::new().holding(hold_messages)
}

/// Visitor writes first; Ada and Bo both see it pending; Ada takes it; Bo no longer sees it.
fn pending_then_taken(b: &mut Bench) -> String {
    b.agent(&ada());
    b.agent(&bo());
    b.visitor(&v1());
    let out = b.says(&v1(), "msg-00000001", "Hello, is the lamp in stock?");
    assert!(
        out.agent_messages(1).is_empty(),
        "nothing is delivered before it is stored"
    );
    let out = b.store_all();
    let pending = out
        .summary(1)
        .expect("agents learn about the new conversation");
    assert_eq!(pending.status, ConversationStatus::Pending);
    assert_eq!(pending.unread, 1);
    assert_eq!(out.summary(2).unwrap().status, ConversationStatus::Pending);
    let m = &out.agent_messages(2)[0];
    assert_eq!(m.seq, 1);
    assert_eq!(
        m.page_url.as_deref(),
        Some("https://shop.example/lamp"),
        "C5"
    );
    let id = pending.conversation_id.clone();

    let mut out = b.agent_does(
        &ada(),
        AgentFrame::Take {
            conversation_id: id.clone(),
        },
    );
    out.extend(b.store_all());
    let taken = out.summary(1).unwrap();
    assert_eq!(taken.status, ConversationStatus::Active);
    assert_eq!(taken.owner.as_ref().unwrap().agent_id, "ada");
    assert_eq!(
        out.hidden(2),
        vec![id.clone()],
        "Bo no longer sees Ada's active conversation: he gets its ID alone"
    );
    assert!(out.summary(2).is_none(), "and nothing of what it says");
    // What happened, for each UI to say in its language, and the same in English.
    assert!(out.visitor_messages(10).iter().any(|m| m.body
        == MessageBody::Event {
            text: "Ada joined the conversation".into(),
            event: Some(ChatEvent::Joined { name: "Ada".into() }),
        }));
    id
}

#[test]
fn reactive_chat_is_pending_then_owned_by_the_agent_who_takes_it() {
    let mut b = bench();
    let id = pending_then_taken(&mut b);
    // Bo can neither take nor answer it, and learns nothing about it.
    let out = b.agent_does(
        &bo(),
        AgentFrame::Take {
            conversation_id: id.clone(),
        },
    );
    assert_eq!(out.agent_error(2), Some(ErrorCode::NotFound));
    let out = b.agent_says(&bo(), &id, "msg-bo-0001", "Hi from Bo");
    assert_eq!(out.agent_error(2), Some(ErrorCode::NotFound));
    assert!(b.held_messages().is_empty());
    // Ada answers; the visitor sees it with the next sequence number.
    b.agent_says(&ada(), &id, "msg-ada-0001", "Yes, 3 left.");
    let out = b.store_all();
    let m = &out.visitor_messages(10)[0];
    assert_eq!((m.seq, text(m).as_str()), (3, "Yes, 3 left."));
    assert!(out.to_agent(1).iter().any(|f| matches!(f, AgentServerFrame::MessageAck { seq: 3, client_id, .. } if client_id == "msg-ada-0001")));
    assert!(out.agent_messages(2).is_empty());
}

#[test]
fn proactive_chat_reaches_the_visitor_as_an_active_conversation() {
    let mut b = bench();
    b.agent(&ada());
    b.visitor(&v1());
    let start = |client_id: &str, visitor_id: &str| AgentFrame::StartConversation {
        visitor_id: visitor_id.into(),
        client_id: client_id.into(),
        body: MessageBody::Text {
            text: "Can I help you choose?".into(),
        },
    };
    let out = b.agent_does(&ada(), start("msg-ada-0001", "visitor-1"));
    assert!(out.to_visitor(10).iter().any(|f| matches!(f, VisitorServerFrame::Conversation { conversation, .. } if conversation.status == ConversationStatus::Active && conversation.agent_name.as_deref() == Some("Ada"))));
    let out = b.store_all();
    assert_eq!(text(&out.visitor_messages(10)[0]), "Can I help you choose?");
    assert!(out.summary(1).unwrap().proactive);
    // A second proactive start for the same visitor is refused: one open conversation each.
    let out = b.agent_does(&ada(), start("msg-ada-0002", "visitor-1"));
    assert_eq!(out.agent_error(1), Some(ErrorCode::Conflict));
    // Unknown visitors cannot be contacted.
    let out = b.agent_does(&ada(), start("msg-ada-0003", "visitor-unknown"));
    assert_eq!(out.agent_error(1), Some(ErrorCode::NotFound));
}

#[test]
fn typing_preview_goes_to_the_agent_and_only_typing_state_to_the_visitor() {
    let mut b = bench();
    let id = pending_then_taken(&mut b);
    let out = b.visitor_does(
        &v1(),
        VisitorFrame::Typing {
            draft: "Does it come in bla".into(),
        },
    );
    assert!(out.to_agent(1).iter().any(|f| matches!(f, AgentServerFrame::TypingPreview { draft, .. } if draft == "Does it come in bla")));
    assert!(
        out.to_agent(2).is_empty(),
        "only the owner sees an active conversation's draft"
    );
    let out = b.agent_does(
        &ada(),
        AgentFrame::Typing {
            conversation_id: id,
            typing: true,
        },
    );
    assert_eq!(
        out.to_visitor(10),
        vec![VisitorServerFrame::AgentTyping { typing: true }]
    );
    // The agent's tab closes while typing: the visitor stops seeing "typing".
    let out = b.disconnect(1);
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::AgentTyping { typing: false }));
}

#[test]
fn a_site_without_typing_preview_keeps_drafts_from_agents_and_tells_widgets_its_language() {
    let mut b = bench();
    b.input(Input::SiteSettings(SiteSettings {
        language: Some(Language::Fr),
        typing_preview: false,
        ..SiteSettings::default()
    }));
    let out = b.visitor(&Visitor::new(11, "visitor-2"));
    assert!(out.to_visitor(11).iter().any(|f| matches!(
        f,
        VisitorServerFrame::Welcome {
            language: Some(Language::Fr),
            typing_preview: false,
            ..
        }
    )));
    pending_then_taken(&mut b);
    // Even a widget that sends drafts anyway gets none of them through.
    let out = b.visitor_does(
        &v1(),
        VisitorFrame::Typing {
            draft: "my card number is".into(),
        },
    );
    assert!(
        !format!("{:?}", out.0).contains("card number"),
        "a site without typing preview lets no draft out: {:?}",
        out.0
    );
}

#[test]
fn transfer_hands_over_ownership_only_to_an_agent_online() {
    let mut b = bench();
    let id = pending_then_taken(&mut b);
    let transfer = |to: &str| AgentFrame::Transfer {
        conversation_id: id.clone(),
        to_agent_id: to.into(),
    };
    let out = b.agent_does(&ada(), transfer("nobody-online"));
    assert_eq!(out.agent_error(1), Some(ErrorCode::NotFound));
    let out = b.agent_does(&bo(), transfer("bo"));
    assert_eq!(
        out.agent_error(2),
        Some(ErrorCode::NotFound),
        "only the owner transfers"
    );
    let mut out = b.agent_does(&ada(), transfer("bo"));
    assert!(out.to_visitor(10).iter().any(|f| matches!(f, VisitorServerFrame::Conversation { conversation, .. } if conversation.agent_name.as_deref() == Some("Bo"))));
    out.extend(b.store_all());
    assert!(out.summary(2).is_some());
    assert_eq!(out.hidden(1), vec![id.clone()]);
    assert!(out.summary(1).is_none());
    assert_eq!(
        text(&out.agent_messages(2)[0]),
        "Ada transferred the conversation to Bo"
    );
    assert!(
        out.to_agent(2)
            .contains(&AgentServerFrame::TransferredToYou {
                conversation_id: id.clone(),
                from: AgentRef {
                    agent_id: "ada".into(),
                    name: "Ada".into()
                },
            }),
        "Bo is told who handed it over"
    );
    assert!(
        out.to_agent(1).iter().any(|f| matches!(f,
            AgentServerFrame::ConversationHidden { conversation_id, owner: Some(owner) }
                if *conversation_id == id && owner.name == "Bo")),
        "Ada's view says who has it now"
    );
    // Ada's late message is refused in that conversation, about that message.
    let out = b.agent_says(&ada(), &id, "msg-ada-0009", "still here?");
    let refused = out.to_agent(1).into_iter().find_map(|f| match f {
        AgentServerFrame::Error(e) => Some(e),
        _ => None,
    });
    let refused = refused.expect("an error");
    assert_eq!(refused.code, ErrorCode::NotFound);
    assert_eq!(refused.client_id.as_deref(), Some("msg-ada-0009"));
    assert_eq!(refused.conversation_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        b.last_stored_summary().unwrap().owner.unwrap().agent_id,
        "bo",
        "the new owner is stored"
    );
}

#[test]
fn end_closes_and_any_agent_of_the_site_may_reopen_it_from_the_store() {
    let mut b = bench();
    let id = pending_then_taken(&mut b);
    b.agent_does(
        &ada(),
        AgentFrame::End {
            conversation_id: id.clone(),
        },
    );
    let out = b.store_all();
    let closed = out.summary(1).unwrap();
    assert_eq!(closed.status, ConversationStatus::Closed);
    assert!(
        out.summary(2).is_some(),
        "closed history is every agent's (access::may_read_conversation)"
    );
    assert_eq!(
        b.last_stored_summary().unwrap().status,
        ConversationStatus::Closed
    );
    // Closed: answering is refused until reopened.
    let out = b.agent_says(&ada(), &id, "msg-ada-0002", "one more thing");
    assert_eq!(out.agent_error(1), Some(ErrorCode::NotFound));
    // Bo reopens it: the hub asks the store, then makes it Active and Bo's.
    let out = b.agent_does(
        &bo(),
        AgentFrame::Reopen {
            conversation_id: id.clone(),
        },
    );
    assert!(out.stores().iter().any(
        |op| matches!(op, StoreOp::LoadConversation { conversation_id } if *conversation_id == id)
    ));
    let load = b.take_held(|op| matches!(op, StoreOp::LoadConversation { .. }));
    let mut out = b.reply(
        load.id,
        Ok(Answer::Conversation(Some((closed, Vec::new())))),
    );
    out.extend(b.store_all());
    let s = out.summary(2).unwrap();
    assert_eq!(s.status, ConversationStatus::Active);
    assert_eq!(s.owner.unwrap().agent_id, "bo");
    assert_eq!(
        out.hidden(1),
        vec![id.clone()],
        "now Bo's: Ada only learns that"
    );
    assert!(out
        .agent_messages(2)
        .iter()
        .any(|m| text(m) == "Bo reopened the conversation"));
    // An unknown ID is "not found"; a store that fails says so.
    for (id, answer, code) in [
        (
            "unknown-conv",
            Ok(Answer::Conversation(None)),
            ErrorCode::NotFound,
        ),
        (
            "other-conv",
            Err(vitrine_core::store::StoreError::Backend("down".into())),
            ErrorCode::NotSaved,
        ),
    ] {
        b.agent_does(
            &ada(),
            AgentFrame::Reopen {
                conversation_id: id.into(),
            },
        );
        let load = b.take_held(|op| matches!(op, StoreOp::LoadConversation { .. }));
        assert_eq!(b.reply(load.id, answer).agent_error(1), Some(code));
    }
}

#[test]
fn a_blocked_visitor_cannot_start_conversations_until_unblocked() {
    let mut b = bench();
    pending_then_taken(&mut b);
    let block = |blocked| AgentFrame::Block {
        visitor_id: "visitor-1".into(),
        blocked,
    };
    let out = b.agent_does(&ada(), block(true));
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::Blocked { blocked: true }));
    // The visitor reads that the chat ended, never that they were blocked.
    let mut out = out;
    out.extend(b.store_all());
    let visitor_read: Vec<String> = out
        .to_visitor(10)
        .iter()
        .filter_map(|f| match f {
            VisitorServerFrame::Message { message } => Some(text(message)),
            _ => None,
        })
        .collect();
    assert!(
        visitor_read
            .iter()
            .any(|t| t == "Ada ended the conversation"),
        "{visitor_read:?}"
    );
    assert!(!visitor_read.iter().any(|t| t.contains("block")));
    assert!(out.to_agent(2).contains(&AgentServerFrame::Blocked {
        visitors: vec!["visitor-1".into()]
    }));
    assert!(out
        .stores()
        .iter()
        .any(|op| matches!(op, StoreOp::Blocked { blocked: true, .. })));
    b.store_all();
    let out = b.says(&v1(), "msg-00000009", "let me in");
    assert_eq!(
        out.error_about(10),
        Some((ErrorCode::Blocked, Some("msg-00000009".into()))),
        "the widget stops resending it"
    );
    assert!(b.held_messages().is_empty());
    // A reload (a new tab) is told at once, before it writes anything.
    let out = b.visitor(&v1().tab(12));
    assert!(out
        .to_visitor(12)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::Welcome { blocked: true, .. })));
    let out = b.agent_does(&ada(), block(false));
    assert!(out
        .to_visitor(12)
        .contains(&VisitorServerFrame::Blocked { blocked: false }));
    b.says(&v1(), "msg-00000010", "thanks");
    assert_eq!(b.held_messages().len(), 1, "a new conversation starts");
}

#[test]
fn resends_are_acknowledged_not_duplicated_and_order_is_kept() {
    let mut b = bench();
    b.agent(&ada());
    b.visitor(&v1());
    b.says(&v1(), "msg-00000001", "one");
    // While the conversation is not stored, its messages go one at a time, each with it.
    b.says(&v1(), "msg-00000002", "two");
    assert_eq!(b.held.len(), 1, "the second waits for the first");
    let first = b.take_held(|op| matches!(op, StoreOp::Open { .. }));
    b.reply(first.id, Ok(Answer::Done));
    let second = b.take_held(|op| messages_of(op).iter().any(|m| m.seq == 2));
    assert!(
        matches!(second.op, StoreOp::Open { .. }),
        "sent with the summary too"
    );
    b.says(&v1(), "msg-00000003", "three");
    // Once stored, messages go on their own, concurrently. The store confirms #3 before
    // #2: nothing may overtake.
    let third = b.take_held(|op| messages_of(op).iter().any(|m| m.seq == 3));
    assert!(matches!(third.op, StoreOp::Messages(_)));
    let out = b.reply(third.id, Ok(Answer::Done));
    assert!(out.agent_messages(1).is_empty());
    let out = b.reply(second.id, Ok(Answer::Done));
    let seqs: Vec<u64> = out.agent_messages(1).iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [2, 3]);
    // The widget lost its connection before the acks arrived, reconnects, resends both.
    b.disconnect(10);
    let tab = v1().tab(11);
    let out = b.visitor(&tab);
    let resumed = out.to_visitor(11).into_iter().find_map(|f| match f {
        VisitorServerFrame::Conversation { messages, .. } => Some(messages),
        _ => None,
    });
    assert_eq!(
        resumed.unwrap().len(),
        3,
        "resume sends what the widget has not seen"
    );
    let out = b.says(&tab, "msg-00000001", "one");
    assert!(out
        .to_visitor(11)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::MessageAck { seq: 1, .. })));
    b.says(&tab, "msg-00000002", "two");
    assert!(b.held_messages().is_empty(), "resends write nothing");
    // Resume after seq 2 sends only seq 3.
    let out = b.visitor(&v1().after(2));
    let messages = out.to_visitor(10).into_iter().find_map(|f| match f {
        VisitorServerFrame::Conversation { messages, .. } => Some(messages),
        _ => None,
    });
    assert_eq!(
        messages.unwrap().iter().map(|m| m.seq).collect::<Vec<_>>(),
        [3]
    );
}

#[test]
fn a_failed_write_is_reported_and_later_messages_still_flow() {
    let mut b = bench();
    b.agent(&ada());
    b.visitor(&v1());
    b.says(&v1(), "msg-00000001", "one");
    b.says(&v1(), "msg-00000002", "two");
    let first = b.take_held(|op| messages_of(op).iter().any(|m| m.seq == 1));
    let out = b.reply(
        first.id,
        Err(vitrine_core::store::StoreError::Backend("down".into())),
    );
    assert_eq!(
        out.error_about(10),
        Some((ErrorCode::NotSaved, Some("msg-00000001".into())))
    );
    let out = b.store_all();
    let texts: Vec<String> = out.agent_messages(1).iter().map(text).collect();
    assert_eq!(texts, ["two"]);
    // The widget resends "one": it is stored under a new number, after "two".
    b.says(&v1(), "msg-00000001", "one");
    let out = b.store_all();
    assert_eq!(out.agent_messages(1)[0].seq, 3);
}

#[test]
fn a_restarted_hub_resumes_numbering_from_the_store() {
    let mut b = bench();
    b.visitor(&v1());
    b.says(&v1(), "msg-00000001", "one");
    b.store_all();
    let conversation = b.last_stored_summary().expect("conversation written");
    let stored: Vec<ChatMessage> = b
        .requests
        .iter()
        .flat_map(|op| messages_of(op).to_vec())
        .collect();
    // A new hub, restored from what the store holds.
    let restored = Restored {
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
    };
    let mut fresh = Bench::restored_from(HubConfig::default(), restored).holding(hold_messages);
    let out = fresh.agent(&ada());
    assert!(
        matches!(&out.to_agent(1)[0], AgentServerFrame::Snapshot { conversations, .. } if conversations.len() == 1)
    );
    fresh.visitor(&v1().after(1));
    // The widget resends "one" (it never saw the ack): recognised after the restart.
    fresh.says(&v1(), "msg-00000001", "one");
    assert!(fresh.held_messages().is_empty());
    fresh.says(&v1(), "msg-00000002", "two");
    assert_eq!(fresh.held_messages()[0].seq, 2);
}

#[test]
fn visitor_floods_are_refused_with_a_clear_error() {
    let mut b = bench();
    b.visitor(&v1());
    let mut limited = false;
    for i in 0..20 {
        let out = b.says(&v1(), &format!("msg-flood-{i:04}"), "spam");
        limited |= out.visitor_error(10) == Some(ErrorCode::RateLimited);
    }
    assert!(limited);
    let accepted = b.held_messages().len();
    assert!(
        accepted <= 9,
        "at most the burst is accepted, got {accepted}"
    );
}

#[test]
fn unread_marks_reach_the_live_list_and_clear_when_read() {
    let mut b = bench();
    b.agent(&ada());
    b.visitor(&v1());
    b.says(&v1(), "msg-00000001", "hello");
    let out = b.store_all();
    assert_eq!(b.hub.live_list()[0].unread, 1);
    let id = out.summary(1).unwrap().conversation_id;
    b.agent_does(
        &ada(),
        AgentFrame::MarkRead {
            conversation_id: id,
            seq: 1,
        },
    );
    assert_eq!(b.hub.live_list()[0].unread, 0);
}

#[test]
fn the_visitor_can_end_the_conversation() {
    let mut b = bench();
    pending_then_taken(&mut b);
    let out = b.visitor_does(&v1(), VisitorFrame::EndConversation {});
    assert!(out.to_visitor(10).iter().any(|f| matches!(f, VisitorServerFrame::Conversation { conversation, .. } if conversation.status == ConversationStatus::Closed)));
    let out = b.visitor_does(&v1(), VisitorFrame::EndConversation {});
    assert_eq!(
        out.visitor_error(10),
        Some(ErrorCode::NotFound),
        "nothing open any more"
    );
}

#[test]
fn an_agent_message_refused_names_it_so_the_portal_stops_resending_it() {
    let mut b = bench();
    let id = pending_then_taken(&mut b);
    let send = |conversation_id: &str, client_id: &str| AgentFrame::SendMessage {
        conversation_id: conversation_id.into(),
        client_id: client_id.into(),
        body: MessageBody::Text {
            text: "hello?".into(),
        },
    };
    let out = b.agent_does(&ada(), send("no-such-conversation", "agent-msg-1"));
    assert_eq!(
        out.error_about(1),
        Some((ErrorCode::NotFound, Some("agent-msg-1".into())))
    );
    b.agent_does(
        &ada(),
        AgentFrame::End {
            conversation_id: id.clone(),
        },
    );
    b.store_all();
    // Ended: no longer open in the hub (reopening it is another action).
    let out = b.agent_does(&ada(), send(&id, "agent-msg-2"));
    assert_eq!(
        out.error_about(1),
        Some((ErrorCode::NotFound, Some("agent-msg-2".into())))
    );
}

#[test]
fn two_visitors_writing_first_at_the_same_millisecond_with_the_same_client_id_get_two_conversations(
) {
    let mut b = Bench::new();
    b.agent(&ada());
    let v2 = Visitor::new(20, "visitor-2");
    b.visitor(&v1());
    b.visitor(&v2);
    // A client picks its own message IDs: another widget may pick the same.
    b.says(&v1(), "msg-00000001", "mine");
    let out = b.says(&v2, "msg-00000001", "mine too");
    assert_eq!(out.visitor_error(20), None);
    let visitor_two = out.agent_messages(1);
    let visitor_one = b
        .says(&v1(), "msg-00000002", "still mine")
        .agent_messages(1);
    assert_ne!(
        visitor_one[0].conversation_id, visitor_two[0].conversation_id,
        "each visitor's own conversation"
    );
    assert_eq!(visitor_two[0].seq, 1);
    assert_eq!(visitor_one[0].seq, 2);
}
