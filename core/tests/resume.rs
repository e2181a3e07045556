//! A hub rebuilt from its connections' [`Resumable`]s (a Durable Object evicted while its
//! sockets hibernate), and sockets kept alive by a runtime that answers their pings.

mod common;

use std::collections::BTreeMap;

use common::*;
use vitrine_core::hub::{HubConfig, Input, Output, Resumable};
use vitrine_core::protocol::*;

fn remembering() -> HubConfig {
    HubConfig {
        remember: true,
        heartbeat_timeout_ms: 70_000,
        sweep_interval_ms: 10_000,
        ..HubConfig::default()
    }
}

/// The latest state the hub asked to keep for each connection, as an attachment would.
fn attachments(outs: &[&Out]) -> BTreeMap<ConnId, Resumable> {
    let mut kept = BTreeMap::new();
    for out in outs {
        for output in &out.0 {
            if let Output::Remember { conn, state } = output {
                kept.insert(*conn, state.clone());
            }
        }
    }
    kept
}

fn sorted(mut list: Vec<LiveVisitor>) -> Vec<LiveVisitor> {
    list.sort_by(|a, b| a.visitor_id.cmp(&b.visitor_id));
    list
}

#[test]
fn a_rebuilt_hub_shows_the_same_live_list_and_tells_no_one() {
    let mut b = Bench::with(remembering());
    let ada = Agent::new(1, "a1", "Ada");
    let (v1, v2) = (Visitor::new(10, "visitor-1"), Visitor::new(11, "visitor-2"));
    let o1 = b.agent(&ada);
    let o2 = b.at(T0 + 100).visitor(&v1);
    let o3 = b.at(T0 + 200).visitor(&v2);
    let o4 = b.visitor(&v2.tab(12));
    let o5 = b
        .at(T0 + 300)
        .visitor_does(&v2, VisitorFrame::PageView(page(2, "/shoes", "Shoes")));
    let o6 = b.visitor_does(
        &v1,
        VisitorFrame::Activity {
            state: Activity::Idle,
        },
    );
    let kept = attachments(&[&o1, &o2, &o3, &o4, &o5, &o6]);
    assert_eq!(
        kept.keys().copied().collect::<Vec<_>>(),
        vec![1, 10, 11, 12]
    );
    let before = sorted(b.hub.live_list());

    let mut rebuilt = Bench::with(remembering());
    rebuilt.at(T0 + 60_000);
    let mut said = Vec::new();
    for (conn, state) in kept {
        said.extend(rebuilt.input(Input::Resume { conn, state }).0);
    }
    assert_eq!(said, vec![], "no frame, no write: the browsers have it all");
    let after = sorted(rebuilt.hub.live_list());
    assert_eq!(after, before);
    assert_eq!(
        after[1].page.title, "Shoes",
        "both tabs carry the latest page"
    );
    assert_eq!(after[0].status, VisitorStatus::Idle);
    assert_eq!(rebuilt.hub.connection_count(), 4);
}

#[test]
fn after_a_rebuild_chat_and_the_list_go_on() {
    let mut b = Bench::with(remembering());
    let ada = Agent::new(1, "a1", "Ada");
    let v1 = Visitor::new(10, "visitor-1");
    let o1 = b.agent(&ada);
    let o2 = b.visitor(&v1);
    let kept = attachments(&[&o1, &o2]);

    let mut rebuilt = Bench::with(remembering());
    for (conn, state) in kept {
        rebuilt.input(Input::Resume { conn, state });
    }
    let out = rebuilt.at(T0 + 1_000).says(&v1, "c1", "still there?");
    assert!(
        out.to_agent(1)
            .iter()
            .any(|f| matches!(f, AgentServerFrame::ConversationChanged { .. })),
        "the resumed agent hears of the new conversation: {:?}",
        out.to_agent(1)
    );
    assert!(out
        .to_visitor(10)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::MessageAck { .. })));
    let out = rebuilt
        .at(T0 + 2_000)
        .visitor_does(&v1, VisitorFrame::PageView(page(2, "/cart", "Cart")));
    let ups = out.list_updates(1);
    assert_eq!(ups[0].0[0].page.title, "Cart");
}

#[test]
fn a_socket_the_runtime_hears_from_survives_the_sweep() {
    let mut b = Bench::with(remembering());
    let (v1, v2) = (Visitor::new(10, "visitor-1"), Visitor::new(11, "visitor-2"));
    b.visitor(&v1);
    b.visitor(&v2);
    // Both ping every 25 s; the runtime answers 10's, the hub never sees a frame. The
    // adapter says so before any input that finds a sweep due.
    let mut closes = Vec::new();
    let mut now = T0;
    while now < T0 + 100_000 {
        now += 25_000;
        b.at(now);
        if b.hub.sweep_due(now) {
            closes.extend(b.input(Input::Heard(vec![(10, now)])).closes());
        }
        closes.extend(b.input(Input::Tick).closes());
    }
    assert_eq!(closes, vec![(11, close_code::TIMEOUT)]);
    assert_eq!(b.hub.connections().collect::<Vec<_>>(), vec![10]);
}

#[test]
fn a_hub_that_need_not_remember_says_nothing_of_it() {
    let mut b = Bench::new();
    let out = b.visitor(&Visitor::new(10, "visitor-1"));
    assert!(!out.0.iter().any(|o| matches!(o, Output::Remember { .. })));
}
