//! The presence hub, driven with explicit times: no clock, no sleeps, no sockets.

use vitrine_core::codec::FrameError;
use vitrine_core::hub::{AgentIdentity, Hub, HubConfig, Input, Output};
use vitrine_core::protocol::*;
use vitrine_core::records::Record;

const T0: u64 = 1_700_000_000_000;
const AGENT: u64 = 1;

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

fn page(seq: u32, path: &str, title: &str) -> PageView {
    PageView {
        seq,
        url: format!("https://shop.example{path}"),
        title: title.into(),
        referrer: None,
        opened_ms_ago: 0,
    }
}

fn hello(visitor: &str, visit: &str, page: PageView) -> VisitorFrame {
    VisitorFrame::Hello {
        v: PROTOCOL_VERSION,
        visitor_id: visitor.into(),
        visit_id: visit.into(),
        visit_age_ms: 0,
        page,
        activity: Activity::Active,
        chat_after_seq: 0,
    }
}

/// A hub with one agent already connected (snapshot consumed).
fn hub_with_agent() -> Hub {
    let mut hub = Hub::new(config());
    let out = hub.handle(
        Input::AgentConnected {
            conn: AGENT,
            agent: AgentIdentity {
                agent_id: "a1".into(),
                name: "Ada".into(),
                expert: false,
            },
            available: true,
        },
        T0,
    );
    assert!(
        matches!(&out[0], Output::ToAgent { frame: AgentServerFrame::Snapshot { visitors, .. }, .. } if visitors.is_empty())
    );
    hub
}

fn connect_visitor(
    hub: &mut Hub,
    conn: u64,
    visitor: &str,
    visit: &str,
    p: PageView,
    now: u64,
) -> Vec<Output> {
    hub.handle(
        Input::VisitorConnected {
            conn,
            location: Location::default(),
        },
        now,
    );
    hub.handle(
        Input::FromVisitor {
            conn,
            frame: hello(visitor, visit, p),
        },
        now,
    )
}

/// All list updates the agent received in `out`.
fn updates(out: &[Output]) -> Vec<(Vec<LiveVisitor>, Vec<String>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::ToAgent {
                conn: AGENT,
                frame:
                    AgentServerFrame::VisitorsChanged {
                        upserts, removed, ..
                    },
            } => Some((upserts.clone(), removed.clone())),
            _ => None,
        })
        .collect()
}

fn records(out: &[Output]) -> Vec<&Record> {
    out.iter()
        .filter_map(|o| {
            if let Output::Record(r) = o {
                Some(r)
            } else {
                None
            }
        })
        .collect()
}

/// Runs ticks up to `until` (as the adapter does at each wakeup) and collects everything.
fn run_until(hub: &mut Hub, until: u64) -> Vec<Output> {
    let mut all = Vec::new();
    while let Some(at) = hub.next_wakeup() {
        if at > until {
            break;
        }
        all.extend(hub.handle(Input::Tick, at));
    }
    all
}

#[test]
fn a_visitor_appears_with_their_page_and_is_recorded() {
    let mut hub = hub_with_agent();
    // The agent flushed at connect; the first change waits for the flush interval.
    let out = connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0 + 500,
    );
    let ups = updates(&out);
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
    assert!(out.iter().any(|o| matches!(
        o,
        Output::ToVisitor {
            conn: 10,
            frame: VisitorServerFrame::Welcome {
                agents_available: true,
                ..
            }
        }
    )));
    let recs = records(&out);
    assert!(
        matches!(recs[0], Record::Visit(v) if v.visit_id == "visit-1" && v.landing_url == "https://shop.example/")
    );
    assert!(matches!(recs[1], Record::PageView(p) if p.seq == 1 && p.title == "Home"));
}

#[test]
fn times_are_derived_from_ages_not_client_clocks() {
    let mut hub = hub_with_agent();
    hub.handle(
        Input::VisitorConnected {
            conn: 10,
            location: Location::default(),
        },
        T0,
    );
    let mut p = page(3, "/cart", "Cart");
    p.opened_ms_ago = 4_000;
    let out = hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: VisitorFrame::Hello {
                v: 1,
                visitor_id: "visitor-1".into(),
                visit_id: "visit-1".into(),
                visit_age_ms: 60_000,
                page: p,
                activity: Activity::Active,
                chat_after_seq: 0,
            },
        },
        T0 + 1_000,
    );
    let all = [out, run_until(&mut hub, T0 + 2_000)].concat();
    let v = &updates(&all)[0].0[0];
    assert_eq!(v.visit_started_at, T0 + 1_000 - 60_000);
    assert_eq!(v.page.opened_at, T0 + 1_000 - 4_000);
    assert_eq!(v.page_views_this_visit, 3);
}

#[test]
fn changes_are_batched_per_agent() {
    let mut hub = hub_with_agent();
    let mut out = connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0 + 1_000,
    );
    assert_eq!(updates(&out).len(), 1);
    // Three navigations and a second visitor within 200 ms: one batched update, not four.
    out.clear();
    for (i, t) in [(2, 1_010), (3, 1_050), (4, 1_100)] {
        out.extend(hub.handle(
            Input::FromVisitor {
                conn: 10,
                frame: VisitorFrame::PageView(page(i, "/p", &format!("P{i}"))),
            },
            T0 + t,
        ));
    }
    out.extend(connect_visitor(
        &mut hub,
        11,
        "visitor-2",
        "visit-2",
        page(1, "/", "Home"),
        T0 + 1_150,
    ));
    assert!(
        updates(&out).is_empty(),
        "held until the interval has passed"
    );
    assert_eq!(hub.next_wakeup(), Some(T0 + 1_200));
    let flushed = run_until(&mut hub, T0 + 1_200);
    let ups = updates(&flushed);
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
    assert_eq!(
        records(&out)
            .iter()
            .filter(|r| matches!(r, Record::PageView(_)))
            .count(),
        4
    );
}

#[test]
fn resent_and_stale_page_views_are_not_recorded_twice() {
    let mut hub = hub_with_agent();
    connect_visitor(&mut hub, 10, "visitor-1", "visit-1", page(2, "/a", "A"), T0);
    let again = hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: VisitorFrame::PageView(page(2, "/a", "A")),
        },
        T0 + 10,
    );
    assert!(records(&again).is_empty());
    let stale = hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: VisitorFrame::PageView(page(1, "/old", "Old")),
        },
        T0 + 20,
    );
    assert!(records(&stale).is_empty());
    // A reconnect of the same page (hub still up) records nothing either.
    hub.handle(Input::Disconnected { conn: 10 }, T0 + 30);
    let re = connect_visitor(
        &mut hub,
        11,
        "visitor-1",
        "visit-1",
        page(2, "/a", "A"),
        T0 + 40,
    );
    assert!(records(&re).is_empty());
}

#[test]
fn navigation_within_the_grace_period_does_not_go_offline() {
    let mut hub = hub_with_agent();
    connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0,
    );
    run_until(&mut hub, T0 + 1_000);
    hub.handle(Input::Disconnected { conn: 10 }, T0 + 1_000);
    let out = connect_visitor(
        &mut hub,
        11,
        "visitor-1",
        "visit-1",
        page(2, "/cart", "Cart"),
        T0 + 1_300,
    );
    let all = [out, run_until(&mut hub, T0 + 20_000)].concat();
    for (ups, _) in updates(&all) {
        assert!(
            ups.iter().all(|v| v.status == VisitorStatus::Active),
            "never flickered offline"
        );
    }
}

#[test]
fn a_visitor_goes_offline_after_the_grace_period_and_is_removed_later() {
    let mut hub = hub_with_agent();
    connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0,
    );
    run_until(&mut hub, T0 + 1_000);
    hub.handle(Input::Disconnected { conn: 10 }, T0 + 1_000);
    assert!(updates(&run_until(&mut hub, T0 + 5_999)).is_empty());
    let offline = updates(&run_until(&mut hub, T0 + 6_000));
    assert_eq!(offline[0].0[0].status, VisitorStatus::Offline);
    assert!(updates(&run_until(&mut hub, T0 + 65_999)).is_empty());
    let removed = updates(&run_until(&mut hub, T0 + 66_200));
    assert_eq!(removed[0].1, vec!["visitor-1".to_string()]);
    assert_eq!(hub.visitor_count(), 0);
}

#[test]
fn leave_starts_the_grace_period_before_the_socket_closes() {
    let mut hub = hub_with_agent();
    connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0,
    );
    hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: VisitorFrame::Leave {},
        },
        T0 + 100,
    );
    let out = run_until(&mut hub, T0 + 5_100);
    assert!(updates(&out)
        .iter()
        .any(|(ups, _)| ups.iter().any(|v| v.status == VisitorStatus::Offline)));
}

#[test]
fn status_follows_the_most_active_tab() {
    let mut hub = hub_with_agent();
    connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0,
    );
    connect_visitor(
        &mut hub,
        11,
        "visitor-1",
        "visit-1",
        page(2, "/b", "B"),
        T0 + 10,
    );
    run_until(&mut hub, T0 + 1_000);
    let status = |out: &[Output]| updates(out).last().map(|(ups, _)| ups[0].status);
    let mut step = |conn, state, t| {
        let out = hub.handle(
            Input::FromVisitor {
                conn,
                frame: VisitorFrame::Activity { state },
            },
            t,
        );
        [out, run_until(&mut hub, t + 1_000)].concat()
    };
    assert_eq!(
        status(&step(10, Activity::Idle, T0 + 1_000)),
        None,
        "the other tab is still active"
    );
    assert_eq!(
        status(&step(11, Activity::Idle, T0 + 2_000)),
        Some(VisitorStatus::Idle)
    );
    assert_eq!(
        status(&step(11, Activity::Active, T0 + 3_000)),
        Some(VisitorStatus::Active)
    );
}

#[test]
fn a_new_visit_replaces_the_old_one_and_returning_comes_from_the_store() {
    let mut hub = hub_with_agent();
    connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0,
    );
    hub.handle(Input::Disconnected { conn: 10 }, T0 + 10);
    // The widget started a new visit (it decides: 30 minutes without activity).
    let out = connect_visitor(
        &mut hub,
        11,
        "visitor-1",
        "visit-2",
        page(1, "/", "Home"),
        T0 + 30_000,
    );
    assert!(records(&out)
        .iter()
        .any(|r| matches!(r, Record::Visit(v) if v.visit_id == "visit-2")));
    run_until(&mut hub, T0 + 30_000 + 1_000);
    // The store answers: this is the second visit.
    let answered = hub.handle(
        Input::VisitRecorded {
            visitor_id: "visitor-1".into(),
            visit_id: "visit-2".into(),
            visit_count: 2,
        },
        T0 + 30_000 + 1_000,
    );
    let ups = updates(&[answered, run_until(&mut hub, T0 + 30_000 + 2_000)].concat());
    assert!(ups[0].0[0].returning);
    assert_eq!(ups[0].0[0].visit_count, 2);
    // An answer for a visit that is no longer current is ignored.
    let stale = hub.handle(
        Input::VisitRecorded {
            visitor_id: "visitor-1".into(),
            visit_id: "visit-1".into(),
            visit_count: 9,
        },
        T0 + 30_000 + 3_000,
    );
    assert!(updates(&[stale, run_until(&mut hub, T0 + 30_000 + 4_000)].concat()).is_empty());
}

#[test]
fn availability_is_broadcast_to_widgets_only_when_it_changes() {
    let mut hub = Hub::new(config());
    let out = connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0,
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::ToVisitor {
            frame: VisitorServerFrame::Welcome {
                agents_available: false,
                ..
            },
            ..
        }
    )));
    let out = hub.handle(
        Input::AgentConnected {
            conn: AGENT,
            agent: AgentIdentity {
                agent_id: "a".into(),
                name: "A".into(),
                expert: false,
            },
            available: true,
        },
        T0 + 1,
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::ToVisitor {
            conn: 10,
            frame: VisitorServerFrame::Availability {
                agents_available: true
            }
        }
    )));
    let out = hub.handle(
        Input::AgentConnected {
            conn: 2,
            agent: AgentIdentity {
                agent_id: "b".into(),
                name: "B".into(),
                expert: false,
            },
            available: true,
        },
        T0 + 2,
    );
    assert!(
        !out.iter().any(|o| matches!(o, Output::ToVisitor { .. })),
        "still available: widgets not bothered"
    );
    hub.handle(
        Input::FromAgent {
            conn: AGENT,
            frame: AgentFrame::SetAvailability { available: false },
        },
        T0 + 3,
    );
    let out = hub.handle(Input::Disconnected { conn: 2 }, T0 + 4);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::ToVisitor {
            conn: 10,
            frame: VisitorServerFrame::Availability {
                agents_available: false
            }
        }
    )));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::ToAgent {
            conn: AGENT,
            frame: AgentServerFrame::Availability(AgentAvailability {
                me: false,
                site: false,
                agents_online: 1
            })
        }
    )));
}

#[test]
fn frames_before_hello_and_second_hellos_are_refused() {
    let mut hub = Hub::new(config());
    hub.handle(
        Input::VisitorConnected {
            conn: 10,
            location: Location::default(),
        },
        T0,
    );
    let out = hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: VisitorFrame::PageView(page(1, "/", "x")),
        },
        T0,
    );
    assert!(
        matches!(&out[0], Output::ToVisitor { frame: VisitorServerFrame::Error(e), .. } if e.code == ErrorCode::HelloRequired)
    );
    hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: hello("visitor-1", "visit-1", page(1, "/", "x")),
        },
        T0,
    );
    let out = hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: hello("visitor-2", "visit-1", page(1, "/", "x")),
        },
        T0,
    );
    assert!(
        matches!(&out[0], Output::ToVisitor { frame: VisitorServerFrame::Error(e), .. } if e.code == ErrorCode::HelloRequired)
    );
    assert_eq!(
        hub.visitor_count(),
        1,
        "the second hello did not create a visitor"
    );
}

#[test]
fn a_flood_is_rate_limited_and_recovers() {
    let mut hub = Hub::new(config());
    hub.handle(
        Input::VisitorConnected {
            conn: 10,
            location: Location::default(),
        },
        T0,
    );
    let mut pongs = 0;
    let mut limited = 0;
    for _ in 0..50 {
        for o in hub.handle(
            Input::FromVisitor {
                conn: 10,
                frame: VisitorFrame::Ping {},
            },
            T0,
        ) {
            match o {
                Output::ToVisitor {
                    frame: VisitorServerFrame::Pong,
                    ..
                } => pongs += 1,
                Output::ToVisitor {
                    frame: VisitorServerFrame::Error(e),
                    ..
                } if e.code == ErrorCode::RateLimited => limited += 1,
                _ => {}
            }
        }
    }
    assert_eq!(pongs, 20, "the burst");
    assert_eq!(limited, 1, "told once, not once per dropped frame");
    let out = hub.handle(
        Input::FromVisitor {
            conn: 10,
            frame: VisitorFrame::Ping {},
        },
        T0 + 1_000,
    );
    assert!(
        matches!(
            &out[0],
            Output::ToVisitor {
                frame: VisitorServerFrame::Pong,
                ..
            }
        ),
        "tokens refill with time"
    );
    let rejected = hub.handle(
        Input::Rejected {
            conn: 10,
            error: FrameError::new(ErrorCode::BadFrame, "x"),
        },
        T0 + 1_000,
    );
    assert!(
        matches!(&rejected[0], Output::ToVisitor { frame: VisitorServerFrame::Error(e), .. } if e.code == ErrorCode::BadFrame)
    );
}

#[test]
fn silent_connections_are_closed_by_the_sweep() {
    let mut hub = hub_with_agent();
    connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0,
    );
    connect_visitor(
        &mut hub,
        11,
        "visitor-2",
        "visit-2",
        page(1, "/", "Home"),
        T0,
    );
    // visitor-2 and the agent keep pinging; visitor-1 goes silent.
    let mut t = T0;
    let mut out = Vec::new();
    while t < T0 + 90_000 {
        t += 20_000;
        out.extend(run_until(&mut hub, t));
        out.extend(hub.handle(
            Input::FromVisitor {
                conn: 11,
                frame: VisitorFrame::Ping {},
            },
            t,
        ));
        out.extend(hub.handle(
            Input::FromAgent {
                conn: AGENT,
                frame: AgentFrame::Ping {},
            },
            t,
        ));
    }
    let closed: Vec<u64> = out
        .iter()
        .filter_map(|o| {
            if let Output::Close { conn, code, .. } = o {
                assert_eq!(*code, close_code::TIMEOUT);
                Some(*conn)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(closed, vec![10]);
    out.extend(run_until(&mut hub, t + 10_000));
    assert!(updates(&out).iter().any(|(ups, _)| ups
        .iter()
        .any(|v| v.visitor_id == "visitor-1" && v.status == VisitorStatus::Offline)));
}

#[test]
fn a_late_agent_gets_the_whole_list_in_its_snapshot() {
    let mut hub = Hub::new(config());
    connect_visitor(
        &mut hub,
        10,
        "visitor-1",
        "visit-1",
        page(1, "/", "Home"),
        T0,
    );
    connect_visitor(&mut hub, 11, "visitor-2", "visit-2", page(1, "/b", "B"), T0);
    let out = hub.handle(
        Input::AgentConnected {
            conn: AGENT,
            agent: AgentIdentity {
                agent_id: "a".into(),
                name: "A".into(),
                expert: false,
            },
            available: false,
        },
        T0 + 5,
    );
    let Output::ToAgent {
        frame:
            AgentServerFrame::Snapshot {
                visitors,
                availability,
                server_now,
                ..
            },
        ..
    } = &out[0]
    else {
        panic!("expected a snapshot first, got {out:?}");
    };
    assert_eq!(visitors.len(), 2);
    assert_eq!(*server_now, T0 + 5);
    assert!(!availability.me && !availability.site);
}
