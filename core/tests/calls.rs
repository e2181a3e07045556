//! Calls in the hub with explicit times: invitations and tokens, answers, busy agents,
//! gating, navigation limits, interaction re-sync and the chat trace of call events.

mod common;

use common::{to_agent, to_visitor};
use vitrine_core::call::*;
use vitrine_core::hub::{AgentIdentity, CallConfig, Hub, HubConfig, Input, Output, SiteSettings};
use vitrine_core::protocol::*;
use vitrine_core::records::Record;

const T0: u64 = 1_700_000_000_000;
const KEY: &[u8] = b"hub-call-key";
const ADA: u64 = 1;
const BO: u64 = 2;
const V1: u64 = 10;
const V2: u64 = 11;

fn hub(calls_enabled: bool) -> Hub {
    let mut hub = Hub::new(HubConfig {
        calls: Some(CallConfig {
            media_url: "ws://127.0.0.1:7070/ws/call".into(),
            key: KEY.to_vec(),
            site: "demo-shop".into(),
        }),
        ..HubConfig::default()
    });
    hub.handle(
        Input::SiteSettings(SiteSettings {
            allowed_origins: vec!["https://shop.example".into()],
            calls_in_plan: true,
            calls_enabled,
        }),
        T0,
    );
    hub
}

fn agent(hub: &mut Hub, conn: u64, id: &str) -> Vec<Output> {
    hub.handle(
        Input::AgentConnected {
            conn,
            agent: AgentIdentity {
                agent_id: id.into(),
                name: format!("Agent {id}"),
                expert: false,
            },
            available: true,
        },
        T0,
    )
}

fn visitor(hub: &mut Hub, conn: u64, id: &str) -> Vec<Output> {
    hub.handle(
        Input::VisitorConnected {
            conn,
            location: Location::default(),
        },
        T0,
    );
    hub.handle(
        Input::FromVisitor {
            conn,
            frame: VisitorFrame::Hello {
                v: PROTOCOL_VERSION,
                visitor_id: id.into(),
                visit_id: "0000visit-1".into(),
                visit_age_ms: 0,
                page: PageView {
                    seq: 1,
                    url: "https://shop.example/".into(),
                    title: "Shop".into(),
                    referrer: None,
                    opened_ms_ago: 0,
                },
                activity: Activity::Active,
                chat_after_seq: 0,
            },
        },
        T0,
    )
}

fn agent_does(hub: &mut Hub, conn: u64, frame: AgentFrame, now: u64) -> Vec<Output> {
    hub.handle(Input::FromAgent { conn, frame }, now)
}

fn visitor_does(hub: &mut Hub, conn: u64, frame: VisitorFrame, now: u64) -> Vec<Output> {
    hub.handle(Input::FromVisitor { conn, frame }, now)
}

fn error_of(out: &[Output], conn: u64) -> Option<ErrorCode> {
    to_agent(out, conn).into_iter().find_map(|f| match f {
        AgentServerFrame::Error(e) => Some(e.code),
        _ => None,
    })
}

/// Starts a 1:1 call from ADA to v-1 and has the visitor accept; returns the call id.
fn call_accepted(hub: &mut Hub) -> String {
    let out = agent_does(
        hub,
        ADA,
        AgentFrame::CallStart {
            visitor_ids: vec!["visitor-1".into()],
        },
        T0 + 1,
    );
    let invite = to_visitor(&out, V1)
        .into_iter()
        .find_map(|f| match f {
            VisitorServerFrame::CallInvite {
                call_id, preview, ..
            } => Some((call_id, preview)),
            _ => None,
        })
        .expect("the visitor is invited");
    let (call_id, preview) = invite;
    // The preview token lets the visitor see the agent before answering, nothing more.
    let claims = verify_call_token(KEY, &preview.token, &call_id, T0 + 2).unwrap();
    assert_eq!(claims.role, CallRole::Preview);
    assert!(to_agent(&out, ADA).iter().any(
        |f| matches!(f, AgentServerFrame::CallJoin { join, .. } if join.role == CallRole::Host)
    ));
    let out = visitor_does(
        hub,
        V1,
        VisitorFrame::CallAnswer {
            call_id: call_id.clone(),
            accept: true,
        },
        T0 + 3,
    );
    let join = to_visitor(&out, V1)
        .into_iter()
        .find_map(|f| match f {
            VisitorServerFrame::CallJoin { join, .. } => Some(join),
            _ => None,
        })
        .expect("the visitor joins");
    assert_eq!(
        verify_call_token(KEY, &join.token, &call_id, T0 + 4)
            .unwrap()
            .role,
        CallRole::Guest
    );
    call_id
}

#[test]
fn a_proactive_call_invites_then_admits_the_visitor_who_accepts() {
    let mut hub = hub(true);
    agent(&mut hub, ADA, "ada");
    visitor(&mut hub, V1, "visitor-1");
    let call_id = call_accepted(&mut hub);
    let list = hub.live_list();
    assert!(list
        .iter()
        .any(|v| v.visitor_id == "visitor-1" && v.in_call));
    // A reload of the visitor's page (V8) rejoins with a fresh token.
    hub.handle(Input::Disconnected { conn: V1 }, T0 + 5);
    let out = visitor(&mut hub, V2, "visitor-1");
    assert!(to_visitor(&out, V2)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::CallJoin { call_id: c, .. } if *c == call_id)));
}

#[test]
fn a_declining_visitor_does_not_join_and_the_agent_can_cancel() {
    let mut hub = hub(true);
    agent(&mut hub, ADA, "ada");
    visitor(&mut hub, V1, "visitor-1");
    let out = agent_does(
        &mut hub,
        ADA,
        AgentFrame::CallStart {
            visitor_ids: vec!["visitor-1".into()],
        },
        T0 + 1,
    );
    let call_id = match &to_agent(&out, ADA)[..] {
        [.., AgentServerFrame::CallJoin { call_id, .. }] => call_id.clone(),
        other => panic!("{other:?}"),
    };
    let out = visitor_does(
        &mut hub,
        V1,
        VisitorFrame::CallAnswer {
            call_id: call_id.clone(),
            accept: false,
        },
        T0 + 2,
    );
    assert!(to_agent(&out, ADA).iter().any(|f| matches!(f, AgentServerFrame::CallChanged { call }
        if call.participants == vec![CallParticipant { visitor_id: "visitor-1".into(), state: CallParticipantState::Declined }])));
    assert!(!hub.live_list()[0].in_call);
    let out = agent_does(&mut hub, ADA, AgentFrame::CallEnd { call_id }, T0 + 3);
    assert!(to_agent(&out, ADA)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::CallEnded { .. })));
}

#[test]
fn a_visitor_calling_a_busy_agent_is_not_added_and_the_agent_is_told() {
    let mut hub = hub(true);
    agent(&mut hub, ADA, "ada");
    visitor(&mut hub, V1, "visitor-1");
    visitor(&mut hub, V2, "visitor-2");
    let call_id = call_accepted(&mut hub);
    let out = visitor_does(
        &mut hub,
        V2,
        VisitorFrame::CallRequest { cancel: false },
        T0 + 10,
    );
    assert_eq!(to_visitor(&out, V2), vec![VisitorServerFrame::CallBusy {}]);
    assert!(to_agent(&out, ADA)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::MissedCall { visitor_id, .. } if visitor_id == "visitor-2")));
    assert!(!hub.live_list().iter().any(|v| v.call_requested));
    // Once free, a request is listed (P7) and answering it joins the visitor at once.
    agent_does(&mut hub, ADA, AgentFrame::CallEnd { call_id }, T0 + 11);
    visitor_does(
        &mut hub,
        V2,
        VisitorFrame::CallRequest { cancel: false },
        T0 + 12,
    );
    assert!(hub
        .live_list()
        .iter()
        .any(|v| v.visitor_id == "visitor-2" && v.call_requested));
    let out = agent_does(
        &mut hub,
        ADA,
        AgentFrame::CallAccept {
            visitor_id: "visitor-2".into(),
        },
        T0 + 13,
    );
    assert!(to_visitor(&out, V2)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::CallJoin { .. })));
}

#[test]
fn calls_switched_off_are_not_offered_and_cannot_start() {
    let mut hub = hub(false);
    agent(&mut hub, ADA, "ada");
    let out = visitor(&mut hub, V1, "visitor-1");
    assert!(to_visitor(&out, V1)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::Welcome { calls: false, .. })));
    let out = agent_does(
        &mut hub,
        ADA,
        AgentFrame::CallStart {
            visitor_ids: vec!["visitor-1".into()],
        },
        T0 + 1,
    );
    assert_eq!(error_of(&out, ADA), Some(ErrorCode::Forbidden));
    // The agent's switch turns them on for every open widget, and is stored.
    let out = agent_does(
        &mut hub,
        ADA,
        AgentFrame::SetCalls { enabled: true },
        T0 + 2,
    );
    assert!(to_visitor(&out, V1).contains(&VisitorServerFrame::Calls { enabled: true }));
    assert!(out.contains(&Output::Record(Record::CallsSetting { enabled: true })));
}

#[test]
fn navigation_is_limited_to_the_sites_origins_and_taking_control_back_resyncs() {
    let mut hub = hub(true);
    agent(&mut hub, ADA, "ada");
    agent(&mut hub, BO, "bo");
    visitor(&mut hub, V1, "visitor-1");
    let call_id = call_accepted(&mut hub);
    for bad in [
        "https://evil.example/",
        "https://shop.example.evil.com/x",
        "javascript:alert(1)",
    ] {
        let out = agent_does(
            &mut hub,
            ADA,
            AgentFrame::Navigate {
                visitor_id: "visitor-1".into(),
                url: bad.into(),
            },
            T0 + 5,
        );
        assert!(error_of(&out, ADA).is_some(), "{bad}");
        assert!(to_visitor(&out, V1).is_empty(), "{bad}");
    }
    let url = "https://shop.example/lamp";
    let out = agent_does(
        &mut hub,
        ADA,
        AgentFrame::Navigate {
            visitor_id: "visitor-1".into(),
            url: url.into(),
        },
        T0 + 6,
    );
    assert!(to_visitor(&out, V1).contains(&VisitorServerFrame::Navigate { url: url.into() }));
    // Another agent cannot steer this call.
    let out = agent_does(
        &mut hub,
        BO,
        AgentFrame::SetInteraction {
            call_id: call_id.clone(),
            allowed: true,
        },
        T0 + 7,
    );
    assert_eq!(error_of(&out, BO), Some(ErrorCode::NotFound));
    let out = agent_does(
        &mut hub,
        ADA,
        AgentFrame::SetInteraction {
            call_id: call_id.clone(),
            allowed: true,
        },
        T0 + 8,
    );
    assert!(to_visitor(&out, V1).contains(&VisitorServerFrame::Interaction { allowed: true }));
    let out = agent_does(
        &mut hub,
        ADA,
        AgentFrame::SetInteraction {
            call_id,
            allowed: false,
        },
        T0 + 9,
    );
    assert_eq!(
        to_visitor(&out, V1),
        vec![
            VisitorServerFrame::Interaction { allowed: false },
            VisitorServerFrame::Navigate { url: url.into() }
        ]
    );
}

#[test]
fn call_events_leave_start_end_and_duration_in_the_visitors_chat() {
    let mut hub = hub(true);
    agent(&mut hub, ADA, "ada");
    visitor(&mut hub, V1, "visitor-1");
    let call_id = call_accepted(&mut hub);
    let event = |at: u64, kind: CallEventKind| node_event(&call_id, at, kind);
    let joined = hub.handle(
        event(
            T0 + 1_000,
            CallEventKind::ParticipantJoined {
                participant: "visitor-1".into(),
                role: CallRole::Guest,
            },
        ),
        T0 + 1_000,
    );
    let left = hub.handle(
        event(
            T0 + 43_000,
            CallEventKind::ParticipantLeft {
                participant: "visitor-1".into(),
                role: CallRole::Guest,
            },
        ),
        T0 + 43_000,
    );
    let notes: Vec<String> = joined.iter().chain(left.iter()).filter_map(note).collect();
    assert_eq!(
        notes,
        vec![
            "Call started with Agent ada".to_string(),
            "Call ended · 0:42".to_string()
        ]
    );
    let out = hub.handle(
        event(
            T0 + 44_000,
            CallEventKind::RoomEnded {
                duration_ms: 43_000,
            },
        ),
        T0 + 44_000,
    );
    assert!(to_agent(&out, ADA)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::CallEnded { .. })));
}

fn note(o: &Output) -> Option<String> {
    match o {
        Output::Record(Record::Message(m)) => match &m.body {
            MessageBody::Event { text } => Some(text.clone()),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn an_agent_ending_the_call_writes_the_duration_before_the_nodes_events_arrive() {
    let mut hub = hub(true);
    agent(&mut hub, ADA, "ada");
    visitor(&mut hub, V1, "visitor-1");
    let call_id = call_accepted(&mut hub);
    let event = |at: u64, kind: CallEventKind| node_event(&call_id, at, kind);
    hub.handle(
        event(
            T0 + 1_000,
            CallEventKind::ParticipantJoined {
                participant: "visitor-1".into(),
                role: CallRole::Guest,
            },
        ),
        T0 + 1_000,
    );
    // The portal's "Leave call" reaches the hub first…
    let ended = agent_does(
        &mut hub,
        ADA,
        AgentFrame::CallEnd {
            call_id: call_id.clone(),
        },
        T0 + 66_000,
    );
    assert_eq!(
        ended.iter().filter_map(note).collect::<Vec<_>>(),
        vec!["Call ended · 1:05".to_string()]
    );
    // …and the node's account of the same ending adds nothing.
    let late = hub.handle(
        event(
            T0 + 66_100,
            CallEventKind::ParticipantLeft {
                participant: "visitor-1".into(),
                role: CallRole::Guest,
            },
        ),
        T0 + 66_100,
    );
    let late_end = hub.handle(
        event(
            T0 + 66_200,
            CallEventKind::RoomEnded {
                duration_ms: 65_200,
            },
        ),
        T0 + 66_200,
    );
    assert_eq!(
        late.iter().chain(late_end.iter()).filter_map(note).count(),
        0
    );
}

/// What the media node reports about the call's room.
fn node_event(call_id: &str, at: u64, kind: CallEventKind) -> Input {
    Input::CallEvent(CallEvent {
        site: "demo-shop".into(),
        room: call_id.to_string(),
        at,
        kind,
    })
}
