//! The hub's store requests: restoring before anything else, retries with backoff, one
//! write at a time per conversation (newest wins), and what is never retried.

mod common;

use common::*;
use vitrine_core::hub::storage::Answer;
use vitrine_core::hub::{Hub, HubConfig, Input, Output, StoreOp, StoreReply, StoreRequest};
use vitrine_core::protocol::*;
use vitrine_core::store::conversations::Restored;
use vitrine_core::store::StoreError;

fn down() -> StoreError {
    StoreError::Backend("store unavailable".into())
}

fn requests(out: &[Output]) -> Vec<StoreRequest> {
    out.iter()
        .filter_map(|o| match o {
            Output::Store(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_hub_restores_first_and_handles_what_waited_in_order_once_restored() {
    let mut hub = Hub::new(
        SITE,
        HubConfig {
            visitor_key: VISITOR_KEY.to_vec(),
            ..HubConfig::default()
        },
    );
    assert_eq!(hub.next_wakeup(), Some(0), "due at once: it must restore");
    let v = Visitor::new(10, "visitor-1");
    // A widget connects and says hello before the store has answered.
    let out = hub.handle(
        Input::VisitorConnected {
            conn: 10,
            location: Location::default(),
            address: "192.0.2.1".into(),
            nonce: nonce(10),
        },
        T0,
    );
    let restore = match &requests(&out)[..] {
        [r] if r.op == StoreOp::Restore => r.clone(),
        other => panic!("expected one restore request, got {other:?}"),
    };
    let out = hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: v.hello(),
        },
        T0 + 1,
    );
    assert!(
        out.is_empty(),
        "nothing happens before the restore: {out:?}"
    );
    // The store fails once: the hub tries again after a backoff.
    let out = hub.handle(
        Input::Stored(StoreReply {
            id: restore.id,
            result: Err(down()),
        }),
        T0 + 2,
    );
    assert!(out.is_empty());
    let retry_at = hub.next_wakeup().expect("a retry is scheduled");
    assert!(retry_at > T0 + 2);
    assert!(requests(&hub.handle(Input::Tick, retry_at - 1)).is_empty());
    let retried = requests(&hub.handle(Input::Tick, retry_at));
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].op, StoreOp::Restore);
    // Now it answers, with an open conversation of this visitor: the waiting hello is
    // handled after it, so the widget gets its conversation back.
    let summary = ConversationSummary {
        conversation_id: "0000conv-1".into(),
        visitor_id: "visitor-1".into(),
        status: ConversationStatus::Pending,
        owner: None,
        contact: Contact::default(),
        created_at: T0,
        updated_at: T0,
        preview: String::new(),
        last_seq: 0,
        unread: 0,
        proactive: false,
    };
    let out = hub.handle(
        Input::Stored(StoreReply {
            id: retried[0].id,
            result: Ok(Answer::Restored(Restored {
                conversations: vec![(summary, vec![])],
                blocked: vec![],
            })),
        }),
        retry_at + 5,
    );
    assert!(hub.is_restored());
    let to_v: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::ToVisitor { conn: 10, frame } => Some(frame),
            _ => None,
        })
        .collect();
    assert!(matches!(
        to_v[0],
        VisitorServerFrame::Welcome {
            has_conversation: true,
            ..
        }
    ));
    assert!(matches!(to_v[1], VisitorServerFrame::Conversation { .. }));
}

#[test]
fn a_restoring_hub_turns_new_sockets_away_once_too_many_inputs_wait() {
    let mut hub = Hub::new(SITE, HubConfig::default());
    hub.handle(Input::Tick, T0);
    let mut closed = Vec::new();
    for conn in 0..10_005u64 {
        for o in hub.handle(
            Input::VisitorConnected {
                conn,
                location: Location::default(),
                address: "192.0.2.1".into(),
                nonce: nonce(conn),
            },
            T0,
        ) {
            if let Output::Close { conn, code, .. } = o {
                closed.push((conn, code));
            }
        }
    }
    assert_eq!(
        closed,
        (10_000..10_005)
            .map(|c| (c, close_code::TRY_AGAIN_LATER))
            .collect::<Vec<_>>()
    );
}

#[test]
fn failed_state_writes_are_retried_in_order_and_a_newer_one_replaces_a_waiting_one() {
    let mut b = Bench::new().holding(hold_all);
    let (ada, bo) = (Agent::new(1, "ada", "Ada"), Agent::new(2, "bo", "Bo"));
    b.agent(&ada);
    b.agent(&bo);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    b.held.clear();
    b.says(&v, "msg-00000001", "hello");
    let open = b.take_held(|op| matches!(op, StoreOp::Open { .. }));
    let id = match &open.op {
        StoreOp::Open { summary, .. } => summary.conversation_id.clone(),
        _ => unreachable!(),
    };
    b.reply(open.id, Ok(Answer::Done));
    // Taken, transferred, ended: three versions of the summary. One is written at a time;
    // of those waiting only the newest is kept.
    let frame = |f: fn(String) -> AgentFrame| f(id.clone());
    b.agent_does(
        &ada,
        frame(|id| AgentFrame::Take {
            conversation_id: id,
        }),
    );
    b.agent_does(
        &ada,
        frame(|id| AgentFrame::Transfer {
            conversation_id: id,
            to_agent_id: "bo".into(),
        }),
    );
    b.agent_does(
        &bo,
        frame(|id| AgentFrame::End {
            conversation_id: id,
        }),
    );
    let summaries = |b: &Bench| {
        b.held
            .iter()
            .filter(|r| matches!(r.op, StoreOp::Conversation(_)))
            .count()
    };
    assert_eq!(
        summaries(&b),
        1,
        "one summary write at a time per conversation"
    );
    let taken = b.take_held(|op| matches!(op, StoreOp::Conversation(_)));
    assert!(
        matches!(&taken.op, StoreOp::Conversation(s) if s.status == ConversationStatus::Active)
    );
    // It fails: retried after a backoff, before anything newer.
    b.reply(taken.id, Err(down()));
    b.run_until(T0 + 200);
    assert_eq!(summaries(&b), 0, "backing off");
    b.run_until(T0 + 250);
    let again = b.take_held(|op| matches!(op, StoreOp::Conversation(_)));
    assert_eq!(again.op, taken.op, "the same write, again");
    b.reply(again.id, Ok(Answer::Done));
    // Then only the newest summary (closed) is written: "transferred" was superseded.
    let next = b.take_held(|op| matches!(op, StoreOp::Conversation(_)));
    assert!(matches!(&next.op, StoreOp::Conversation(s) if s.status == ConversationStatus::Closed));
    b.reply(next.id, Ok(Answer::Done));
    assert_eq!(summaries(&b), 0);
}

#[test]
fn a_failed_message_is_not_retried_by_the_hub_its_sender_resends_it() {
    let mut b = Bench::new().holding(hold_messages);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    b.says(&v, "msg-00000001", "hello");
    let message = b.take_held(|op| !messages_of(op).is_empty());
    let out = b.reply(message.id, Err(down()));
    assert_eq!(out.visitor_error(10), Some(ErrorCode::NotSaved));
    let out = b.run_until(T0 + 120_000);
    assert!(
        !out.stores()
            .iter()
            .any(|op| matches!(op, StoreOp::Messages(_))),
        "no retry of its own"
    );
}

/// Six visitors in conversations already stored, and an agent reading them all.
fn six_conversations() -> (Bench, Vec<Visitor>, Agent) {
    let mut b = Bench::with(HubConfig {
        address_conversation_burst: 10.0,
        ..HubConfig::default()
    })
    .holding(hold_messages);
    let agent = Agent::new(1, "agent-1", "Ada");
    b.agent(&agent);
    let visitors: Vec<Visitor> = (0..6)
        .map(|i| Visitor::new(10 + i, &format!("visitor-{i}")))
        .collect();
    for v in &visitors {
        b.visitor(v);
        b.says(v, "msg-00000001", "hello");
    }
    b.store_all();
    (b, visitors, agent)
}

#[test]
fn messages_beyond_the_writes_in_flight_wait_and_go_together_delivered_only_once_stored() {
    let (mut b, visitors, agent) = six_conversations();
    for v in &visitors {
        b.says(v, "msg-00000002", "anyone there?");
    }
    let held: Vec<usize> = b.held.iter().map(|r| messages_of(&r.op).len()).collect();
    assert_eq!(
        held,
        [1, 1, 1, 1],
        "four writes in flight, one message each"
    );
    let first = b.held[0].id;
    let out = b.reply(first, Ok(Answer::Done));
    assert_eq!(
        out.agent_messages(agent.conn).len(),
        1,
        "the stored one only"
    );
    let together: Vec<Vec<String>> = out
        .stores()
        .iter()
        .map(|op| {
            messages_of(op)
                .iter()
                .map(|m| m.conversation_id.clone())
                .collect()
        })
        .collect();
    assert_eq!(together.len(), 1, "the two waiting go in one write");
    assert_eq!(together[0].len(), 2);
    let batch = b.take_held(|op| messages_of(op).len() == 2);
    let out = b.reply(batch.id, Ok(Answer::Done));
    let delivered: Vec<String> = out
        .agent_messages(agent.conn)
        .iter()
        .map(|m| m.conversation_id.clone())
        .collect();
    assert_eq!(
        delivered, together[0],
        "both delivered once their write succeeded"
    );
}

#[test]
fn a_failed_write_of_messages_together_tells_each_sender() {
    let (mut b, visitors, agent) = six_conversations();
    for v in &visitors {
        b.says(v, "msg-00000002", "anyone there?");
    }
    let first = b.held[0].id;
    b.reply(first, Ok(Answer::Done));
    let batch = b.take_held(|op| messages_of(op).len() == 2);
    let out = b.reply(batch.id, Err(down()));
    assert!(out.agent_messages(agent.conn).is_empty());
    for v in &visitors[4..] {
        assert_eq!(out.visitor_error(v.conn), Some(ErrorCode::NotSaved));
    }
}
