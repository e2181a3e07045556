//! Calls in the hub with explicit times: invitations and tokens, answers, busy agents,
//! gating, navigation limits, interaction re-sync and the chat trace of call events.

mod common;

use common::*;
use vitrine_core::hub::{Input, StoreOp};
use vitrine_core::media_key::verify_call_token;
use vitrine_core::protocol::media::{CallEvent, CallEventKind, CallRole};
use vitrine_core::protocol::*;

fn ada() -> Agent {
    Agent::new(1, "ada", "Agent ada")
}
fn bo() -> Agent {
    Agent::new(2, "bo", "Agent bo")
}
fn v1() -> Visitor {
    Visitor::new(10, "visitor-1")
}
fn v2() -> Visitor {
    Visitor::new(11, "visitor-2")
}

/// Ada starts a call with visitor-1.
fn ada_calls_visitor_1(b: &mut Bench) -> Out {
    b.agent_does(
        &ada(),
        AgentFrame::CallStart {
            visitor_ids: vec!["visitor-1".into()],
        },
    )
}

/// Ada calls visitor-1, who accepts; returns the call id.
fn call_accepted(b: &mut Bench) -> String {
    let out = ada_calls_visitor_1(b.at(T0 + 1));
    let (call_id, preview) = out.invite(10).expect("the visitor is invited");
    // The preview token lets the visitor see the agent before answering, nothing more.
    let claims = verify_call_token(CALL_KEY, &preview.token, &call_id, T0 + 2).unwrap();
    assert_eq!(claims.role, CallRole::Preview);
    assert_eq!(claims.site, SITE);
    assert!(out.to_agent(1).iter().any(
        |f| matches!(f, AgentServerFrame::CallJoin { join, .. } if join.role == CallRole::Host)
    ));
    let out = b.at(T0 + 3).visitor_does(
        &v1(),
        VisitorFrame::CallAnswer {
            call_id: call_id.clone(),
            accept: true,
        },
    );
    let join = out
        .to_visitor(10)
        .into_iter()
        .find_map(|f| match f {
            VisitorServerFrame::CallJoin { join, .. } => Some(join),
            _ => None,
        })
        .expect("the visitor joins");
    assert_eq!(
        verify_call_token(CALL_KEY, &join.token, &call_id, T0 + 4)
            .unwrap()
            .role,
        CallRole::Guest
    );
    call_id
}

/// What the media node reports about the call's room.
fn node_event(call_id: &str, at: u64, kind: CallEventKind) -> Input {
    Input::CallEvent(CallEvent {
        site: SITE.into(),
        room: call_id.to_string(),
        at,
        nonce: format!("{at}-{kind:?}"),
        kind,
    })
}

/// The node's event for a guest's seat (`guest-1` is the first visitor invited).
fn guest(seat: &str, joined: bool) -> CallEventKind {
    let participant = seat.to_string();
    let role = CallRole::Guest;
    if joined {
        CallEventKind::ParticipantJoined { participant, role }
    } else {
        CallEventKind::ParticipantLeft { participant, role }
    }
}

#[test]
fn a_proactive_call_invites_then_admits_the_visitor_who_accepts() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.visitor(&v1());
    let call_id = call_accepted(&mut b);
    assert!(b
        .hub
        .live_list()
        .iter()
        .any(|v| v.visitor_id == "visitor-1" && v.in_call));
    // A reload of the visitor's page (V8) rejoins with a fresh token.
    b.at(T0 + 5).disconnect(10);
    let out = b.visitor(&v1().tab(12));
    assert!(out
        .to_visitor(12)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::CallJoin { call_id: c, .. } if *c == call_id)));
}

#[test]
fn every_seat_gets_the_relay_with_a_credential_of_its_own_that_expires() {
    let turn = vitrine_core::turn::TurnConfig {
        urls: vec!["turn:relay.example:3478?transport=tcp".into()],
        secret: b"relay-secret".to_vec(),
        ttl_ms: 3_600_000,
    };
    let mut b = Bench::with_calls_through(true, Some(turn.clone()));
    b.agent(&ada());
    b.visitor(&v1());
    let out = ada_calls_visitor_1(b.at(T0 + 1));
    let (call_id, preview) = out.invite(10).expect("the visitor is invited");
    let host = out
        .to_agent(1)
        .into_iter()
        .find_map(|f| match f {
            AgentServerFrame::CallJoin { join, .. } => Some(join),
            _ => None,
        })
        .unwrap();
    let expires = (T0 + 1 + 3_600_000) / 1000;
    for (join, seat) in [(&preview, "guest-1"), (&host, "host")] {
        assert_eq!(join.ice_servers.len(), 1);
        let server = &join.ice_servers[0];
        assert_eq!(server.urls, turn.urls);
        let name = format!("{call_id}.{seat}");
        assert_eq!(server.username, Some(format!("{expires}:{name}")));
        // What coturn recomputes from its own copy of the secret.
        assert_eq!(server, &turn.ice_server(&name, T0 + 1));
    }
    // No relay configured: none given, and nothing hard-coded in its place.
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.visitor(&v1());
    let out = ada_calls_visitor_1(b.at(T0 + 1));
    assert!(out.invite(10).unwrap().1.ice_servers.is_empty());
}

#[test]
fn a_declining_visitor_does_not_join_and_the_agent_can_cancel() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.visitor(&v1());
    let out = ada_calls_visitor_1(b.at(T0 + 1));
    let call_id = match &out.to_agent(1)[..] {
        [.., AgentServerFrame::CallJoin { call_id, .. }] => call_id.clone(),
        other => panic!("{other:?}"),
    };
    let out = b.at(T0 + 2).visitor_does(
        &v1(),
        VisitorFrame::CallAnswer {
            call_id: call_id.clone(),
            accept: false,
        },
    );
    assert!(out.to_agent(1).iter().any(|f| matches!(f, AgentServerFrame::CallChanged { call }
        if call.participants == vec![CallParticipant { visitor_id: "visitor-1".into(), participant: "guest-1".into(), state: CallParticipantState::Declined }])));
    assert!(!b.hub.live_list()[0].in_call);
    let out = b
        .at(T0 + 3)
        .agent_does(&ada(), AgentFrame::CallEnd { call_id });
    assert!(out
        .to_agent(1)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::CallEnded { .. })));
}

#[test]
fn a_visitor_calling_a_busy_agent_is_not_added_and_the_agent_is_told() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.visitor(&v1());
    b.visitor(&v2());
    let call_id = call_accepted(&mut b);
    let request = VisitorFrame::CallRequest { cancel: false };
    let out = b.at(T0 + 10).visitor_does(&v2(), request.clone());
    assert_eq!(out.to_visitor(11), vec![VisitorServerFrame::CallBusy {}]);
    assert!(out
        .to_agent(1)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::MissedCall { visitor_id, .. } if visitor_id == "visitor-2")));
    assert!(!b.hub.live_list().iter().any(|v| v.call_requested));
    // Once free, a request is listed (P7) and answering it joins the visitor at once.
    b.at(T0 + 11)
        .agent_does(&ada(), AgentFrame::CallEnd { call_id });
    b.at(T0 + 12).visitor_does(&v2(), request);
    assert!(b
        .hub
        .live_list()
        .iter()
        .any(|v| v.visitor_id == "visitor-2" && v.call_requested));
    let out = b.at(T0 + 13).agent_does(
        &ada(),
        AgentFrame::CallAccept {
            visitor_id: "visitor-2".into(),
        },
    );
    assert!(out
        .to_visitor(11)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::CallJoin { .. })));
}

#[test]
fn a_visitor_whose_agent_is_busy_is_offered_to_every_available_agent() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.agent(&bo());
    b.visitor(&v1());
    b.visitor(&v2());
    // Visitor 2 chats with Ada…
    let mut out = b.says(&v2(), "msg-00000001", "Can we talk?");
    out.extend(b.store_all());
    let id = out.summary(1).expect("a conversation").conversation_id;
    b.agent_does(
        &ada(),
        AgentFrame::Take {
            conversation_id: id,
        },
    );
    b.store_all();
    // …who is in a call with visitor 1 when visitor 2 asks for one: Bo is free (V7).
    call_accepted(&mut b);
    let out = b
        .at(T0 + 10)
        .visitor_does(&v2(), VisitorFrame::CallRequest { cancel: false });
    assert_eq!(
        out.to_visitor(11),
        vec![VisitorServerFrame::CallRequested { pending: true }]
    );
    let out = b.at(T0 + 11).agent_does(
        &bo(),
        AgentFrame::CallAccept {
            visitor_id: "visitor-2".into(),
        },
    );
    assert!(out
        .to_visitor(11)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::CallJoin { .. })));
}

#[test]
fn nobody_available_means_busy_at_once_not_a_request_nobody_sees() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada().unavailable());
    b.visitor(&v1());
    let out = b
        .at(T0 + 1)
        .visitor_does(&v1(), VisitorFrame::CallRequest { cancel: false });
    assert_eq!(out.to_visitor(10), vec![VisitorServerFrame::CallBusy {}]);
    assert!(!b.hub.live_list()[0].call_requested);
}

#[test]
fn a_blocked_visitor_cannot_ask_for_a_call_and_their_request_is_withdrawn() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.visitor(&v1());
    let request = VisitorFrame::CallRequest { cancel: false };
    b.at(T0 + 1).visitor_does(&v1(), request.clone());
    assert!(b.hub.live_list()[0].call_requested);
    let out = b.at(T0 + 2).agent_does(
        &ada(),
        AgentFrame::Block {
            visitor_id: "visitor-1".into(),
            blocked: true,
        },
    );
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::CallRequested { pending: false }));
    assert!(!b.hub.live_list()[0].call_requested);
    let out = b.at(T0 + 3).visitor_does(&v1(), request);
    assert_eq!(out.visitor_error(10), Some(ErrorCode::Blocked));
    assert!(!b.hub.live_list()[0].call_requested);
}

#[test]
fn calls_switched_off_are_not_offered_and_cannot_start() {
    let mut b = Bench::with_calls(false);
    b.agent(&ada());
    let out = b.visitor(&v1());
    assert!(out
        .to_visitor(10)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::Welcome { calls: false, .. })));
    let out = ada_calls_visitor_1(b.at(T0 + 1));
    assert_eq!(out.agent_error(1), Some(ErrorCode::Forbidden));
    // The agent's switch turns them on for every open widget, and is stored.
    let out = b
        .at(T0 + 2)
        .agent_does(&ada(), AgentFrame::SetCalls { enabled: true });
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::Calls { enabled: true }));
    assert!(out
        .stores()
        .contains(&&StoreOp::CallsSetting { enabled: true }));
}

#[test]
fn a_failed_start_leaves_no_call_behind() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.visitor(&v1());
    let out = b.agent_does(
        &ada(),
        AgentFrame::CallStart {
            visitor_ids: vec!["visitor-gone".into()],
        },
    );
    assert_eq!(out.agent_error(1), Some(ErrorCode::NotFound));
    // Ada is not "already in a call": the next start works.
    call_accepted(&mut b);
}

#[test]
fn navigation_is_limited_to_the_sites_origins_and_taking_control_back_resyncs() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.agent(&bo());
    b.visitor(&v1());
    let call_id = call_accepted(&mut b);
    let navigate = |url: &str| AgentFrame::Navigate {
        visitor_id: "visitor-1".into(),
        url: url.into(),
    };
    for bad in [
        "https://evil.example/",
        "https://shop.example.evil.com/x",
        "javascript:alert(1)",
    ] {
        let out = b.at(T0 + 5).agent_does(&ada(), navigate(bad));
        assert!(out.agent_error(1).is_some(), "{bad}");
        assert!(out.to_visitor(10).is_empty(), "{bad}");
    }
    let url = "https://shop.example/lamp";
    let out = b.at(T0 + 6).agent_does(&ada(), navigate(url));
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::Navigate { url: url.into() }));
    let interaction = |allowed| AgentFrame::SetInteraction {
        call_id: call_id.clone(),
        allowed,
    };
    // Another agent cannot steer this call.
    let out = b.at(T0 + 7).agent_does(&bo(), interaction(true));
    assert_eq!(out.agent_error(2), Some(ErrorCode::NotFound));
    let out = b.at(T0 + 8).agent_does(&ada(), interaction(true));
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::Interaction { allowed: true }));
    let out = b.at(T0 + 9).agent_does(&ada(), interaction(false));
    assert_eq!(
        out.to_visitor(10),
        vec![
            VisitorServerFrame::Interaction { allowed: false },
            VisitorServerFrame::Navigate { url: url.into() }
        ]
    );
}

#[test]
fn call_events_leave_start_end_and_duration_in_the_visitors_chat() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.visitor(&v1());
    let call_id = call_accepted(&mut b);
    let joined = b
        .at(T0 + 1_000)
        .input(node_event(&call_id, T0 + 1_000, guest("guest-1", true)));
    let left = b
        .at(T0 + 43_000)
        .input(node_event(&call_id, T0 + 43_000, guest("guest-1", false)));
    assert_eq!(
        [joined.notes(), left.notes()].concat(),
        vec![
            "Call started with Agent ada".to_string(),
            "Call ended · 0:42".to_string()
        ]
    );
    let out = b.at(T0 + 44_000).input(node_event(
        &call_id,
        T0 + 44_000,
        CallEventKind::RoomEnded {
            duration_ms: 43_000,
        },
    ));
    assert!(out
        .to_agent(1)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::CallEnded { .. })));
}

#[test]
fn an_agent_ending_the_call_writes_the_duration_before_the_nodes_events_arrive() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.visitor(&v1());
    let call_id = call_accepted(&mut b);
    b.at(T0 + 1_000)
        .input(node_event(&call_id, T0 + 1_000, guest("guest-1", true)));
    // The portal's "Leave call" reaches the hub first…
    let ended = b.at(T0 + 66_000).agent_does(
        &ada(),
        AgentFrame::CallEnd {
            call_id: call_id.clone(),
        },
    );
    assert_eq!(ended.notes(), vec!["Call ended · 1:05".to_string()]);
    // …and the node's account of the same ending adds nothing.
    let late = b
        .at(T0 + 66_100)
        .input(node_event(&call_id, T0 + 66_100, guest("guest-1", false)));
    let late_end = b.at(T0 + 66_200).input(node_event(
        &call_id,
        T0 + 66_200,
        CallEventKind::RoomEnded {
            duration_ms: 65_200,
        },
    ));
    assert!(late.notes().is_empty() && late_end.notes().is_empty());
}

#[test]
fn stream_keys_are_the_agents_own_scoped_to_their_call_and_an_hour() {
    let mut b = Bench::with_calls(true);
    b.agent(&ada());
    b.agent(&bo());
    b.visitor(&v1());
    let call_id = call_accepted(&mut b);
    let out = b.at(T0 + 10).agent_does(
        &ada(),
        AgentFrame::CallStreamKeys {
            call_id: call_id.clone(),
        },
    );
    let (publish, watch) = out
        .to_agent(1)
        .into_iter()
        .find_map(|f| match f {
            AgentServerFrame::CallStreamKeys { publish, watch, .. } => Some((publish, watch)),
            _ => None,
        })
        .expect("ada gets her call's keys");
    assert!(
        publish.url.ends_with(&format!("/whip/{call_id}")),
        "{}",
        publish.url
    );
    assert!(publish.url.starts_with("http"), "{}", publish.url);
    assert!(
        watch.url.ends_with(&format!("/whep/{call_id}")),
        "{}",
        watch.url
    );
    assert_eq!(publish.expires_at, T0 + 10 + 3_600_000);
    // The encoder is a guest seat of this room; the audience are viewers, nothing more.
    let encoder = verify_call_token(CALL_KEY, &publish.token, &call_id, T0 + 11).unwrap();
    assert_eq!(
        (encoder.role, encoder.participant.as_str()),
        (CallRole::Guest, "encoder")
    );
    let audience = verify_call_token(CALL_KEY, &watch.token, &call_id, T0 + 11).unwrap();
    assert_eq!(audience.role, CallRole::Viewer);
    assert_eq!(audience.site, SITE);
    assert!(verify_call_token(CALL_KEY, &watch.token, "another-room", T0 + 11).is_err());
    assert!(verify_call_token(CALL_KEY, &watch.token, &call_id, T0 + 10 + 3_600_001).is_err());
    // Another agent gets nothing for Ada's call.
    let out = b.at(T0 + 12).agent_does(
        &bo(),
        AgentFrame::CallStreamKeys {
            call_id: call_id.clone(),
        },
    );
    assert!(!out
        .to_agent(2)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::CallStreamKeys { .. })));
    assert!(out
        .to_agent(2)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::Error { .. })));
}
