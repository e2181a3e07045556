//! Co-browsing in the hub (P8): consent, relaying to every viewer, late viewers, the
//! byte budget, navigation to the next page, pointing — and nothing stored.

mod common;

use common::*;
use vitrine_core::hub::cobrowse::{BURST_BYTES, BYTES_PER_SECOND};
use vitrine_core::hub::{Input, SiteSettings};
use vitrine_core::protocol::*;

fn ada() -> Agent {
    Agent::new(1, "ada", "Ada")
}
fn bo() -> Agent {
    Agent::new(2, "bo", "Bo")
}
fn v1() -> Visitor {
    Visitor::new(10, "visitor-1")
}

fn bench(consent: bool) -> Bench {
    let mut b = Bench::new();
    b.input(Input::SiteSettings(SiteSettings {
        cobrowse_consent: consent,
        ..SiteSettings::default()
    }));
    b.agent(&ada());
    b.agent(&bo());
    b.visitor(&v1());
    b
}

fn start(visitor: &str) -> AgentFrame {
    AgentFrame::CobrowseStart {
        visitor_id: visitor.into(),
    }
}

fn events(seq: u64, chunk: &str) -> VisitorFrame {
    VisitorFrame::CobrowseEvents {
        seq,
        chunk: chunk.into(),
        last: true,
    }
}

fn states(out: &Out, conn: ConnId) -> Vec<CobrowseState> {
    out.to_agent(conn)
        .into_iter()
        .filter_map(|f| match f {
            AgentServerFrame::Cobrowse { state, .. } => Some(state),
            _ => None,
        })
        .collect()
}

fn relayed(out: &Out, conn: ConnId) -> Vec<String> {
    out.to_agent(conn)
        .into_iter()
        .filter_map(|f| match f {
            AgentServerFrame::CobrowseEvents { chunk, .. } => Some(chunk),
            _ => None,
        })
        .collect()
}

#[test]
fn nothing_of_the_page_moves_before_the_visitor_accepts() {
    let mut b = bench(true);
    let out = b.agent_does(&ada(), start("visitor-1"));
    assert_eq!(states(&out, 1), vec![CobrowseState::Waiting]);
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseRequest {
            agent_name: "Ada".into()
        }));
    // A widget that records anyway is told to stop; nothing reaches the agent.
    let out = b.visitor_does(&v1(), events(1, "[{\"type\":2}]"));
    assert!(relayed(&out, 1).is_empty());
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseEnd {}));

    let out = b.visitor_does(&v1(), VisitorFrame::CobrowseConsent { accept: false });
    assert_eq!(states(&out, 1), vec![CobrowseState::Refused]);
    let out = b.visitor_does(&v1(), events(2, "[{\"type\":2}]"));
    assert!(relayed(&out, 1).is_empty());
}

#[test]
fn an_accepted_page_streams_to_every_viewer_and_a_late_one_gets_a_snapshot() {
    let mut b = bench(true);
    b.agent_does(&ada(), start("visitor-1"));
    let out = b.visitor_does(&v1(), VisitorFrame::CobrowseConsent { accept: true });
    assert_eq!(states(&out, 1), vec![CobrowseState::Viewing]);
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseStart {
            agent_name: "Ada".into()
        }));
    // Page events have their own budget: a burst of frames is no flood.
    for seq in 1..=100 {
        let out = b.visitor_does(&v1(), events(seq, "[{\"type\":3}]"));
        assert_eq!(relayed(&out, 1).len(), 1, "frame {seq}");
        assert!(out.stores().is_empty(), "nothing of the page is stored");
    }
    let out = b.agent_does(&bo(), start("visitor-1"));
    assert_eq!(
        states(&out, 2),
        vec![CobrowseState::Viewing],
        "accepted already"
    );
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseSnapshot {}));
    let out = b.visitor_does(&v1(), events(101, "[{\"type\":2}]"));
    assert_eq!((relayed(&out, 1).len(), relayed(&out, 2).len()), (1, 1));

    // Ada stops; Bo still views. Bo's socket closes: the recording ends.
    b.agent_does(
        &ada(),
        AgentFrame::CobrowseStop {
            visitor_id: "visitor-1".into(),
        },
    );
    let out = b.visitor_does(&v1(), events(102, "[]"));
    assert_eq!((relayed(&out, 1).len(), relayed(&out, 2).len()), (0, 1));
    let out = b.disconnect(2);
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseEnd {}));
}

#[test]
fn a_viewers_refresh_costs_nothing_and_a_hub_that_lost_its_sessions_gets_them_back() {
    let mut b = bench(false);
    b.agent_does(&ada(), start("visitor-1"));
    // The portal repeats its start every COBROWSE_REFRESH_MS: only the state comes back.
    let out = b
        .at(b.now + COBROWSE_REFRESH_MS)
        .agent_does(&ada(), start("visitor-1"));
    assert_eq!(states(&out, 1), vec![CobrowseState::Viewing]);
    assert!(out.to_visitor(10).is_empty(), "no snapshot, no new start");

    // A hub rebuilt without its sessions (a Durable Object's memory gone, the sockets
    // kept): the recorder's next events find none and it is told to stop…
    let mut rebuilt = bench(false);
    let out = rebuilt.visitor_does(&v1(), events(7, "[{\"type\":3}]"));
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseEnd {}));
    // …and the viewer's refresh starts it again, from a fresh recording.
    let out = rebuilt.agent_does(&ada(), start("visitor-1"));
    assert_eq!(states(&out, 1), vec![CobrowseState::Viewing]);
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseStart {
            agent_name: "Ada".into()
        }));
}

#[test]
fn the_visitor_stops_it_at_any_time() {
    let mut b = bench(false);
    let out = b.agent_does(&ada(), start("visitor-1"));
    assert_eq!(
        states(&out, 1),
        vec![CobrowseState::Viewing],
        "no consent asked"
    );
    let out = b.visitor_does(&v1(), VisitorFrame::CobrowseStop {});
    assert_eq!(states(&out, 1), vec![CobrowseState::Stopped]);
    assert!(relayed(&b.visitor_does(&v1(), events(1, "[]")), 1).is_empty());
}

#[test]
fn a_page_past_its_byte_budget_degrades_then_goes_live_again_from_a_snapshot() {
    let mut b = bench(false);
    b.agent_does(&ada(), start("visitor-1"));
    b.agent_does(&bo(), start("visitor-1"));
    let chunk = "x".repeat(MAX_COBROWSE_CHUNK);
    let fits = (BURST_BYTES / MAX_COBROWSE_CHUNK as f64) as u64;
    let mut sent = 0;
    let mut degraded = false;
    for seq in 0..fits + 50 {
        let out = b.visitor_does(&v1(), events(seq, &chunk));
        sent += relayed(&out, 1).len();
        degraded |= states(&out, 1) == vec![CobrowseState::Degraded];
    }
    assert!(degraded, "the agent is told");
    assert!(sent as u64 <= fits + 1, "{sent} chunks of {fits} that fit");
    // The page goes quiet: no chunk comes, yet once the budget has refilled (a whole
    // burst: a large page's snapshot fits) the hub's timer tells every viewer the view is
    // live again and asks for a snapshot.
    let (degraded_at, refill_ms) = (b.now, (BURST_BYTES / BYTES_PER_SECOND * 1000.0) as u64);
    let out = (0..100)
        .find_map(|_| {
            let wake = b.hub.next_wakeup().expect("a wakeup while degraded");
            assert!(wake <= degraded_at + refill_ms + 1, "live again by {wake}");
            let out = b.at(wake).input(Input::Tick);
            (!states(&out, 1).is_empty()).then_some(out)
        })
        .expect("live again after a few wakeups");
    assert_eq!(states(&out, 1), vec![CobrowseState::Viewing]);
    assert_eq!(states(&out, 2), vec![CobrowseState::Viewing]);
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseSnapshot {}));
    let out = b.visitor_does(&v1(), events(10_000, "[{\"type\":2}]"));
    assert_eq!(relayed(&out, 1).len(), 1);
    assert_eq!(relayed(&out, 2).len(), 1);
}

#[test]
fn the_next_page_records_on_and_the_agent_points_at_it() {
    let mut b = bench(false);
    b.agent_does(&ada(), start("visitor-1"));
    // The visitor navigates: a new tab of the same visitor says hello.
    let next = v1().tab(11);
    let out = b.visitor(&next);
    assert!(out
        .to_visitor(11)
        .contains(&VisitorServerFrame::CobrowseStart {
            agent_name: "Ada".into()
        }));
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CobrowseEnd {}));
    let out = b.visitor_does(&v1(), events(1, "[]"));
    assert!(relayed(&out, 1).is_empty(), "the old page records no more");
    let out = b.visitor_does(&next, events(2, "[{\"type\":2}]"));
    assert_eq!(relayed(&out, 1).len(), 1);

    let point = |x| AgentFrame::CobrowsePoint {
        visitor_id: "visitor-1".into(),
        x,
        y: 0.5,
    };
    let out = b.agent_does(&ada(), point(0.25));
    assert!(out
        .to_visitor(11)
        .contains(&VisitorServerFrame::CobrowsePoint {
            x: 0.25,
            y: 0.5,
            agent_name: "Ada".into()
        }));
    let out = b.agent_does(&bo(), point(0.25));
    assert_eq!(
        out.agent_error(2),
        Some(ErrorCode::NotFound),
        "Bo is not viewing"
    );
}

/// Page events from a socket that records nothing count against its frame rate like any
/// frame (was: 600 of them got 600 answers where pings got 39).
#[test]
fn page_events_nobody_asked_for_are_rate_limited_like_any_frame() {
    let mut b = bench(false);
    let mut ends = 0;
    let mut limited = 0;
    for seq in 0..200 {
        let out = b.visitor_does(&v1(), events(seq, "[{\"type\":3}]"));
        ends += out
            .to_visitor(10)
            .iter()
            .filter(|f| matches!(f, VisitorServerFrame::CobrowseEnd {}))
            .count();
        limited += out
            .to_visitor(10)
            .iter()
            .filter(
                |f| matches!(f, VisitorServerFrame::Error(e) if e.code == ErrorCode::RateLimited),
            )
            .count();
    }
    // The burst (40 frames) is answered, the rest dropped (one rate-limit notice).
    assert!(ends <= 40, "{ends} answers");
    assert!(limited >= 1);
    // A tab that records has its byte budget instead: 200 small chunks all reach the viewer.
    let mut b = bench(false);
    b.agent_does(&ada(), start("visitor-1"));
    let mut seen = 0;
    for seq in 0..200 {
        seen += relayed(&b.visitor_does(&v1(), events(seq, "[{\"type\":3}]")), 1).len();
    }
    assert_eq!(seen, 200);
}
