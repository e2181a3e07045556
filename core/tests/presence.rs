//! Presence in the hub (P1–P6), driven with explicit times: no clock, no sleeps, no sockets.

mod common;

use common::*;
use vitrine_core::codec::FrameError;
use vitrine_core::hub::{HubConfig, StoreOp};
use vitrine_core::protocol::*;

/// Short intervals, so tests read in round numbers.
fn config() -> HubConfig {
    HubConfig {
        offline_grace_ms: 5_000,
        offline_retention_ms: 60_000,
        heartbeat_timeout_ms: 70_000,
        agent_flush_interval_ms: 200,
        sweep_interval_ms: 10_000,
        frames_per_second: 10.0,
        frame_burst: 20.0,
        ..HubConfig::default()
    }
}

fn ada() -> Agent {
    Agent::new(1, "a1", "Ada")
}

/// A hub with Ada connected (her snapshot consumed).
fn bench_with_ada() -> Bench {
    let mut b = Bench::with(config());
    let out = b.agent(&ada());
    assert!(matches!(
        &out.to_agent(1)[0],
        AgentServerFrame::Snapshot { visitors, .. } if visitors.is_empty()
    ));
    b
}

#[test]
fn a_visitor_appears_with_their_page_and_is_recorded() {
    let mut b = bench_with_ada();
    let out = b.at(T0 + 500).visitor(&Visitor::new(10, "visitor-1"));
    let ups = out.list_updates(1);
    assert_eq!(
        ups.len(),
        1,
        "sent at once: the interval since the last flush has passed"
    );
    let v = &ups[0].0[0];
    assert_eq!(v.visitor_id, "visitor-1");
    assert_eq!(v.page.title, "Home");
    assert_eq!(v.status, VisitorStatus::Active);
    assert_eq!(v.visit_started_at, T0 + 500);
    assert!(out.to_visitor(10).iter().any(|f| matches!(
        f,
        VisitorServerFrame::Welcome {
            agents_available: true,
            ..
        }
    )));
    let stores = out.stores();
    assert!(
        matches!(stores[0], StoreOp::Visit { visitor_id, visit } if visitor_id == "visitor-1" && visit.visit_id == "0000visit-1" && visit.landing_url == "https://shop.example/")
    );
    assert!(
        matches!(stores[1], StoreOp::PageView { page, .. } if page.seq == 1 && page.title == "Home")
    );
}

#[test]
fn times_are_derived_from_ages_not_client_clocks() {
    let mut b = bench_with_ada();
    let mut cart = page(3, "/cart", "Cart");
    cart.opened_ms_ago = 4_000;
    let mut out = b
        .at(T0 + 1_000)
        .visitor(&Visitor::new(10, "visitor-1").on(cart).aged(60_000));
    out.extend(b.run_until(T0 + 2_000));
    let v = &out.list_updates(1)[0].0[0];
    assert_eq!(v.visit_started_at, T0 + 1_000 - 60_000);
    assert_eq!(v.page.opened_at, T0 + 1_000 - 4_000);
    assert_eq!(v.page_views_this_visit, 3);
}

#[test]
fn changes_are_batched_per_agent() {
    let mut b = bench_with_ada();
    let v1 = Visitor::new(10, "visitor-1");
    assert_eq!(b.at(T0 + 1_000).visitor(&v1).list_updates(1).len(), 1);
    // Three navigations and a second visitor within 200 ms: one batched update, not four.
    let mut out = Out::default();
    for (i, t) in [(2, 1_010), (3, 1_050), (4, 1_100)] {
        out.extend(
            b.at(T0 + t)
                .visitor_does(&v1, VisitorFrame::PageView(page(i, "/p", &format!("P{i}")))),
        );
    }
    out.extend(b.at(T0 + 1_150).visitor(&Visitor::new(11, "visitor-2")));
    assert!(
        out.list_updates(1).is_empty(),
        "held until the interval has passed"
    );
    assert_eq!(b.hub.next_wakeup(), Some(T0 + 1_200));
    let flushed = b.run_until(T0 + 1_200);
    let ups = flushed.list_updates(1);
    assert_eq!(ups.len(), 1);
    let mut titles: Vec<_> = ups[0]
        .0
        .iter()
        .map(|v| (v.visitor_id.clone(), v.page.title.clone()))
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            ("visitor-1".into(), "P4".into()),
            ("visitor-2".into(), "Home".into())
        ]
    );
    // Each navigation was still recorded.
    let page_views = out
        .stores()
        .iter()
        .filter(|op| matches!(op, StoreOp::PageView { .. }))
        .count();
    assert_eq!(page_views, 4);
}

#[test]
fn resent_and_stale_page_views_are_not_recorded_twice() {
    let mut b = bench_with_ada();
    let v = Visitor::new(10, "visitor-1").on(page(2, "/a", "A"));
    b.visitor(&v);
    let again = b
        .at(T0 + 10)
        .visitor_does(&v, VisitorFrame::PageView(page(2, "/a", "A")));
    assert!(again.stores().is_empty());
    let stale = b
        .at(T0 + 20)
        .visitor_does(&v, VisitorFrame::PageView(page(1, "/old", "Old")));
    assert!(stale.stores().is_empty());
    // A reconnect of the same page (hub still up) records nothing either.
    b.at(T0 + 30).disconnect(10);
    assert!(b.at(T0 + 40).visitor(&v.tab(11)).stores().is_empty());
}

#[test]
fn navigation_within_the_grace_period_does_not_go_offline() {
    let mut b = bench_with_ada();
    b.visitor(&Visitor::new(10, "visitor-1"));
    b.run_until(T0 + 1_000);
    b.disconnect(10);
    let mut out = b
        .at(T0 + 1_300)
        .visitor(&Visitor::new(11, "visitor-1").on(page(2, "/cart", "Cart")));
    out.extend(b.run_until(T0 + 20_000));
    for (ups, _) in out.list_updates(1) {
        assert!(
            ups.iter().all(|v| v.status == VisitorStatus::Active),
            "never flickered offline"
        );
    }
}

#[test]
fn a_visitor_goes_offline_after_the_grace_period_and_is_removed_later() {
    let mut b = bench_with_ada();
    b.visitor(&Visitor::new(10, "visitor-1"));
    b.run_until(T0 + 1_000);
    b.disconnect(10);
    assert!(b.run_until(T0 + 5_999).list_updates(1).is_empty());
    let offline = b.run_until(T0 + 6_000).list_updates(1);
    assert_eq!(offline[0].0[0].status, VisitorStatus::Offline);
    assert!(b.run_until(T0 + 65_999).list_updates(1).is_empty());
    let removed = b.run_until(T0 + 66_200).list_updates(1);
    assert_eq!(removed[0].1, vec!["visitor-1".to_string()]);
    assert_eq!(b.hub.visitor_count(), 0);
}

#[test]
fn an_offline_row_says_when_the_visitor_left_so_their_clocks_stop_there() {
    let mut b = bench_with_ada();
    b.visitor(&Visitor::new(10, "visitor-1"));
    let online = b.run_until(T0 + 1_000).list_updates(1);
    assert!(online
        .iter()
        .all(|(rows, _)| rows.iter().all(|r| r.left_at.is_none())));
    b.disconnect(10);
    let offline = b.run_until(T0 + 6_000).list_updates(1);
    assert_eq!(offline[0].0[0].status, VisitorStatus::Offline);
    assert_eq!(offline[0].0[0].left_at, Some(T0 + 1_000));
}

#[test]
fn leave_starts_the_grace_period_before_the_socket_closes() {
    let mut b = bench_with_ada();
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    b.at(T0 + 100).visitor_does(&v, VisitorFrame::Leave {});
    let out = b.run_until(T0 + 5_100);
    assert!(out
        .list_updates(1)
        .iter()
        .any(|(ups, _)| ups.iter().any(|v| v.status == VisitorStatus::Offline)));
}

#[test]
fn status_follows_the_most_active_tab() {
    let mut b = bench_with_ada();
    let tab1 = Visitor::new(10, "visitor-1");
    let tab2 = tab1.tab(11).on(page(2, "/b", "B"));
    b.visitor(&tab1);
    b.at(T0 + 10).visitor(&tab2);
    b.run_until(T0 + 1_000);
    let mut step = |tab: &Visitor, state, t| {
        let mut out = b.at(t).visitor_does(tab, VisitorFrame::Activity { state });
        out.extend(b.run_until(t + 1_000));
        out.list_updates(1).last().map(|(ups, _)| ups[0].status)
    };
    assert_eq!(
        step(&tab1, Activity::Idle, T0 + 1_000),
        None,
        "the other tab is still active"
    );
    assert_eq!(
        step(&tab2, Activity::Idle, T0 + 2_000),
        Some(VisitorStatus::Idle)
    );
    assert_eq!(
        step(&tab2, Activity::Active, T0 + 3_000),
        Some(VisitorStatus::Active)
    );
}

#[test]
fn a_new_visit_replaces_the_old_one_and_returning_comes_from_the_store() {
    let mut b = bench_with_ada().holding(|op| matches!(op, StoreOp::Visit { .. }));
    b.visitor(&Visitor::new(10, "visitor-1"));
    let first_visit = b.take_held(|_| true);
    b.at(T0 + 10).disconnect(10);
    // The widget started a new visit (it decides: 30 minutes without activity).
    let out = b
        .at(T0 + 30_000)
        .visitor(&Visitor::new(11, "visitor-1").visit("0000visit-2"));
    assert!(out
        .stores()
        .iter()
        .any(|op| matches!(op, StoreOp::Visit { visit, .. } if visit.visit_id == "0000visit-2")));
    b.run_until(T0 + 31_000);
    // The store answers: this is the second visit.
    let second_visit = b.take_held(|_| true);
    let mut out = b.reply(
        second_visit.id,
        Ok(vitrine_core::hub::storage::Answer::VisitCount(2)),
    );
    out.extend(b.run_until(T0 + 32_000));
    let ups = out.list_updates(1);
    assert!(ups[0].0[0].returning);
    assert_eq!(ups[0].0[0].visit_count, 2);
    // An answer for a visit that is no longer current is ignored.
    let mut stale = b.reply(
        first_visit.id,
        Ok(vitrine_core::hub::storage::Answer::VisitCount(9)),
    );
    stale.extend(b.run_until(T0 + 34_000));
    assert!(stale.list_updates(1).is_empty());
}

#[test]
fn availability_is_broadcast_to_widgets_only_when_it_changes() {
    let mut b = Bench::with(config());
    let out = b.visitor(&Visitor::new(10, "visitor-1"));
    assert!(out.to_visitor(10).iter().any(|f| matches!(
        f,
        VisitorServerFrame::Welcome {
            agents_available: false,
            ..
        }
    )));
    let a = Agent::new(1, "a", "A");
    let out = b.at(T0 + 1).agent(&a);
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::Availability {
            agents_available: true
        }));
    let out = b.at(T0 + 2).agent(&Agent::new(2, "b", "B"));
    assert!(
        out.to_visitor(10).is_empty(),
        "still available: widgets not bothered"
    );
    b.at(T0 + 3)
        .agent_does(&a, AgentFrame::SetAvailability { available: false });
    let out = b.at(T0 + 4).disconnect(2);
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::Availability {
            agents_available: false
        }));
    assert!(out
        .to_agent(1)
        .contains(&AgentServerFrame::Availability(AgentAvailability {
            me: false,
            site: false,
            agents_online: 1
        })));
}

#[test]
fn frames_before_hello_and_second_hellos_are_refused() {
    let mut b = Bench::with(config());
    let v = Visitor::new(10, "visitor-1");
    b.connect_visitor(10);
    let out = b.visitor_does(&v, VisitorFrame::PageView(page(1, "/", "x")));
    assert_eq!(out.visitor_error(10), Some(ErrorCode::HelloRequired));
    b.visitor_does(&v, v.hello());
    let other = Visitor::new(10, "visitor-2");
    let out = b.visitor_does(&other, other.hello());
    assert_eq!(out.visitor_error(10), Some(ErrorCode::HelloRequired));
    assert_eq!(
        b.hub.visitor_count(),
        1,
        "the second hello did not create a visitor"
    );
}

#[test]
fn a_flood_is_rate_limited_and_recovers() {
    let mut b = Bench::with(config());
    let v = Visitor::new(10, "visitor-1");
    b.connect_visitor(10);
    let mut out = Out::default();
    for _ in 0..50 {
        out.extend(b.visitor_does(&v, VisitorFrame::Ping {}));
    }
    let frames = out.to_visitor(10);
    let pongs = frames
        .iter()
        .filter(|f| **f == VisitorServerFrame::Pong)
        .count();
    let limited = frames
        .iter()
        .filter(|f| matches!(f, VisitorServerFrame::Error(e) if e.code == ErrorCode::RateLimited))
        .count();
    assert_eq!(pongs, 20, "the burst");
    assert_eq!(limited, 1, "told once, not once per dropped frame");
    let out = b.at(T0 + 1_000).visitor_does(&v, VisitorFrame::Ping {});
    assert_eq!(
        out.to_visitor(10),
        vec![VisitorServerFrame::Pong],
        "tokens refill with time"
    );
    let rejected = b.rejected(10, FrameError::new(ErrorCode::BadFrame, "x"));
    assert_eq!(rejected.visitor_error(10), Some(ErrorCode::BadFrame));
}

#[test]
fn an_oversize_frame_is_answered_then_the_socket_closed_whatever_the_rate() {
    let mut b = bench_with_ada();
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let out = b.rejected(10, FrameError::new(ErrorCode::Oversize, "too big"));
    assert_eq!(out.visitor_error(10), Some(ErrorCode::Oversize));
    assert_eq!(out.closes(), vec![(10, close_code::MESSAGE_TOO_BIG)]);
    // The error comes before the close, and the connection is gone from the hub.
    let error_at = out
        .0
        .iter()
        .position(|o| matches!(o, vitrine_core::hub::Output::ToVisitor { .. }));
    let close_at = out
        .0
        .iter()
        .position(|o| matches!(o, vitrine_core::hub::Output::Close { .. }));
    assert!(error_at < close_at);
    assert_eq!(b.hub.connection_count(), 1, "only Ada is left");
    assert!(b.visitor_does(&v, VisitorFrame::Ping {}).0.is_empty());
}

#[test]
fn silent_connections_are_closed_by_the_sweep() {
    let mut b = bench_with_ada();
    b.visitor(&Visitor::new(10, "visitor-1"));
    let v2 = Visitor::new(11, "visitor-2");
    b.visitor(&v2);
    // visitor-2 and the agent keep pinging; visitor-1 goes silent.
    let mut t = T0;
    let mut out = Out::default();
    while t < T0 + 90_000 {
        t += 20_000;
        out.extend(b.run_until(t));
        out.extend(b.visitor_does(&v2, VisitorFrame::Ping {}));
        out.extend(b.agent_does(&ada(), AgentFrame::Ping {}));
    }
    assert_eq!(out.closes(), vec![(10, close_code::TIMEOUT)]);
    out.extend(b.run_until(t + 10_000));
    assert!(out.list_updates(1).iter().any(|(ups, _)| ups
        .iter()
        .any(|v| v.visitor_id == "visitor-1" && v.status == VisitorStatus::Offline)));
}

#[test]
fn a_late_agent_gets_the_whole_list_in_its_snapshot() {
    let mut b = Bench::with(config());
    b.visitor(&Visitor::new(10, "visitor-1"));
    b.visitor(&Visitor::new(11, "visitor-2").on(page(1, "/b", "B")));
    let out = b.at(T0 + 5).agent(&ada().unavailable());
    let AgentServerFrame::Snapshot {
        visitors,
        availability,
        server_now,
        ..
    } = &out.to_agent(1)[0]
    else {
        panic!("expected a snapshot first, got {out:?}");
    };
    assert_eq!(visitors.len(), 2);
    assert_eq!(*server_now, T0 + 5);
    assert!(!availability.me && !availability.site);
}
