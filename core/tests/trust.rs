//! What the hub does so that no one can be someone else: visitors prove who they are,
//! visitor IDs stay inside the hub, agents keep only the access they still have, call
//! seats die with the call, and strangers cannot open conversations without bound.

mod common;

use common::*;
use vitrine_core::hub::{Input, Output, SiteSettings, StoreOp};
use vitrine_core::media_key::verify_call_token;
use vitrine_core::protocol::media::{CallEvent, CallEventKind, CallRole, MediaCommandKind};
use vitrine_core::protocol::*;
use vitrine_core::store::agents::Role;

fn welcome_credential(out: &Out, conn: ConnId) -> VisitorCredential {
    out.to_visitor(conn)
        .into_iter()
        .find_map(|f| match f {
            VisitorServerFrame::Welcome { credential, .. } => Some(credential),
            _ => None,
        })
        .expect("a welcome")
}

fn anonymous_hello(v: &Visitor, credential: Option<VisitorCredential>) -> VisitorFrame {
    match v.hello() {
        VisitorFrame::Hello {
            v,
            visit_id,
            visit_age_ms,
            page,
            activity,
            chat_after_seq,
            ..
        } => VisitorFrame::Hello {
            v,
            credential,
            visit_id,
            visit_age_ms,
            page,
            activity,
            chat_after_seq,
        },
        _ => unreachable!(),
    }
}

#[test]
fn a_visitor_id_alone_proves_nothing_the_credential_does() {
    let mut b = Bench::new();
    let ada = Agent::new(1, "ada", "Ada");
    b.agent(&ada);
    let owner = Visitor::new(10, "visitor-1");
    b.visitor(&owner);
    b.says(&owner, "msg-00000001", "my address is 1 Secret Lane");

    // Someone who learnt the ID says hello with it, without (or with a forged) credential.
    let thief = Visitor::new(20, "visitor-1");
    for credential in [
        None,
        Some(VisitorCredential {
            visitor_id: "visitor-1".into(),
            signature: "forged".into(),
        }),
    ] {
        b.connect_visitor(20);
        let out = b.visitor_does(&thief, anonymous_hello(&thief, credential));
        let issued = welcome_credential(&out, 20);
        assert_ne!(issued.visitor_id, "visitor-1", "a new visitor");
        assert!(
            !out.to_visitor(20)
                .iter()
                .any(|f| matches!(f, VisitorServerFrame::Conversation { .. })),
            "nothing of visitor-1's conversation"
        );
        b.disconnect(20);
    }
    // The owner's own tab, with the credential the hub gave it, is them.
    let out = b.visitor(&owner.tab(11));
    assert_eq!(welcome_credential(&out, 11).visitor_id, "visitor-1");
    let messages = out.to_visitor(11).into_iter().find_map(|f| match f {
        VisitorServerFrame::Conversation { messages, .. } => Some(messages),
        _ => None,
    });
    assert_eq!(messages.unwrap().len(), 1);
}

#[test]
fn a_new_visitor_gets_an_id_and_credential_that_bring_them_back() {
    let mut b = Bench::new();
    let v = Visitor::new(10, "ignored");
    b.connect_visitor(10);
    let out = b.visitor_does(&v, anonymous_hello(&v, None));
    let credential = welcome_credential(&out, 10);
    b.disconnect(10);
    let back = Visitor::new(11, &credential.visitor_id);
    b.connect_visitor(11);
    let out = b.visitor_does(&back, anonymous_hello(&back, Some(credential.clone())));
    assert_eq!(welcome_credential(&out, 11), credential, "the same visitor");
}

#[test]
fn one_socket_is_one_visitor_for_its_whole_life() {
    let mut b = Bench::new();
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    b.visitor_does(&v, VisitorFrame::Leave {});
    let other = Visitor::new(10, "visitor-2");
    let out = b.visitor_does(&other, other.hello());
    assert_eq!(out.visitor_error(10), Some(ErrorCode::HelloRequired));
    assert!(!b
        .hub
        .live_list()
        .iter()
        .any(|r| r.visitor_id == "visitor-2"));
}

#[test]
fn new_conversations_from_one_address_are_bounded() {
    let mut b = Bench::new();
    let mut refused = 0;
    for i in 0..12u64 {
        let v = Visitor::new(100 + i, &format!("visitor-{i:03}"));
        b.connect_visitor_from(v.conn, "198.51.100.7");
        b.visitor_does(&v, v.hello());
        let out = b.says(&v, &format!("msg-{i:08}"), "hello");
        if out.visitor_error(v.conn) == Some(ErrorCode::RateLimited) {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 7,
        "five at once from one address, then one a minute"
    );
    // Another address is not held back by this one.
    let other = Visitor::new(200, "visitor-elsewhere");
    b.connect_visitor_from(200, "203.0.113.9");
    b.visitor_does(&other, other.hello());
    assert_eq!(
        b.says(&other, "msg-elsewhere", "hi").visitor_error(200),
        None
    );
    // A minute later the address may open one more.
    b.at(T0 + 60_000);
    let late = Visitor::new(300, "visitor-late");
    b.connect_visitor_from(300, "198.51.100.7");
    b.visitor_does(&late, late.hello());
    assert_eq!(b.says(&late, "msg-late", "hi").visitor_error(300), None);
}

#[test]
fn a_first_message_and_its_conversation_are_one_write_and_nothing_is_acked_before() {
    let mut b = Bench::new().holding(hold_all);
    let ada = Agent::new(1, "ada", "Ada");
    b.agent(&ada);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    b.held.clear();
    let out = b.says(&v, "msg-00000001", "hello");
    let writes = out.stores();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(matches!(writes[0], StoreOp::Open { summary, message }
        if summary.status == ConversationStatus::Pending && message.client_id == "msg-00000001"));
    assert!(out
        .to_visitor(10)
        .iter()
        .all(|f| !matches!(f, VisitorServerFrame::MessageAck { .. })));
    assert!(
        out.summary(1).is_none(),
        "agents hear of it once it is stored"
    );
    let out = b.store_all();
    assert!(out
        .to_visitor(10)
        .iter()
        .any(|f| matches!(f, VisitorServerFrame::MessageAck { seq: 1, .. })));
    assert!(out.summary(1).is_some());
}

#[test]
fn a_removed_agent_loses_their_sockets_at_once_and_a_demoted_one_when_unassigned() {
    let mut b = Bench::new();
    let ada = Agent::new(1, "ada", "Ada");
    let bo = Agent::new(2, "bo", "Bo");
    let bo_tab = bo.tab(3);
    b.agent(&ada);
    b.agent(&bo);
    b.agent(&bo_tab);
    // Bo is removed from the account: both his tabs close (4401) and stop receiving.
    let out = b.input(Input::AgentChanged {
        agent_id: "bo".into(),
        agent: None,
    });
    assert_eq!(
        out.closes(),
        vec![(2, close_code::UNAUTHORIZED), (3, close_code::UNAUTHORIZED)]
    );
    let out = b.visitor(&Visitor::new(10, "visitor-1"));
    assert!(out.to_agent(2).is_empty() && out.to_agent(3).is_empty());
    // Ada, an admin, becomes an agent of a site she is not assigned to: closed (4403).
    let mut demoted = ada.identity.clone();
    demoted.role = Role::Agent;
    let out = b.input(Input::AgentChanged {
        agent_id: "ada".into(),
        agent: Some(demoted),
    });
    assert_eq!(out.closes(), vec![(1, close_code::FORBIDDEN)]);
    assert_eq!(b.hub.connection_count(), 1, "only the visitor is left");
}

#[test]
fn a_session_that_ends_closes_its_sockets_and_only_its_own() {
    let mut b = Bench::new();
    let ada = Agent::new(1, "ada", "Ada");
    let ada_tab = ada.tab(2);
    let ada_phone = ada.elsewhere(3, "ada-phone-session");
    let bo = Agent::new(4, "bo", "Bo");
    for a in [&ada, &ada_tab, &ada_phone, &bo] {
        b.agent(a);
    }
    // Ada signs out on her laptop: both laptop tabs close (4401); her phone and Bo stay.
    let out = b.input(Input::SessionEnded {
        agent_id: "ada".into(),
        session: ada.session.clone(),
    });
    assert_eq!(
        out.closes(),
        vec![(1, close_code::UNAUTHORIZED), (2, close_code::UNAUTHORIZED)]
    );
    // A session ID names the session of one agent only: Bo's ID with Ada's name is nothing.
    let out = b.input(Input::SessionEnded {
        agent_id: "ada".into(),
        session: bo.session.clone(),
    });
    assert!(out.closes().is_empty());
    let mut out = b.visitor(&Visitor::new(10, "visitor-1"));
    let until = b.now + 1_000;
    out.extend(b.run_until(until));
    assert!(out.list_updates(1).is_empty() && out.list_updates(2).is_empty());
    assert!(!out.list_updates(3).is_empty() && !out.list_updates(4).is_empty());
}

#[test]
fn agents_taken_off_a_site_are_disconnected_and_assigned_ones_stay() {
    let mut b = Bench::new();
    let mut kim = Agent::new(1, "kim", "Kim");
    kim.identity.role = Role::Agent;
    let mut lee = Agent::new(2, "lee", "Lee");
    lee.identity.role = Role::Expert;
    let admin = Agent::new(3, "ada", "Ada");
    let settings = |consultants: &[&str]| {
        Input::SiteSettings(SiteSettings {
            consultants: consultants.iter().map(|c| c.to_string()).collect(),
            ..SiteSettings::default()
        })
    };
    b.input(settings(&["kim", "lee"]));
    for a in [&kim, &lee, &admin] {
        b.agent(a);
    }
    let out = b.input(settings(&["lee"]));
    assert_eq!(out.closes(), vec![(1, close_code::FORBIDDEN)]);
    assert_eq!(b.hub.connection_count(), 2);
}

/// Ada calls `visitors`; returns the call ID and each visitor's invitation token claims.
fn call(b: &mut Bench, visitors: &[Visitor]) -> (String, Vec<(String, String)>) {
    let ada = Agent::new(1, "ada", "Ada");
    let out = b.agent_does(
        &ada,
        AgentFrame::CallStart {
            visitor_ids: visitors.iter().map(|v| v.id.clone()).collect(),
        },
    );
    let mut call_id = String::new();
    let mut seats = Vec::new();
    for v in visitors {
        let (id, preview) = out.invite(v.conn).expect("invited");
        let claims = verify_call_token(CALL_KEY, &preview.token, &id, b.now).unwrap();
        seats.push((claims.participant, claims.name));
        call_id = id;
    }
    (call_id, seats)
}

fn media_commands(out: &Out) -> Vec<MediaCommandKind> {
    out.0
        .iter()
        .filter_map(|o| match o {
            Output::Media(c) => Some(c.kind.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn in_a_call_visitors_are_opaque_seats_and_a_seat_dies_with_its_place() {
    let mut b = Bench::with_calls(true);
    let ada = Agent::new(1, "ada", "Ada");
    b.agent(&ada);
    let (v1, v2) = (Visitor::new(10, "visitor-1"), Visitor::new(11, "visitor-2"));
    b.visitor(&v1);
    b.visitor(&v2);
    let (call_id, seats) = call(&mut b, &[v1.clone(), v2.clone()]);
    // The node and the other guests know them as seats, never as visitor IDs.
    assert_eq!(
        seats,
        [
            ("guest-1".to_string(), "Guest 1".to_string()),
            ("guest-2".to_string(), "Guest 2".to_string())
        ]
    );
    // Declining revokes the seat on the node (the preview connection leaves).
    let out = b.visitor_does(
        &v2,
        VisitorFrame::CallAnswer {
            call_id: call_id.clone(),
            accept: false,
        },
    );
    assert_eq!(
        media_commands(&out),
        [MediaCommandKind::Revoke {
            participant: "guest-2".into()
        }]
    );
    // Invited again: a new seat (the old one stays dead on the node).
    let out = b.agent_does(
        &ada,
        AgentFrame::CallAdd {
            call_id: call_id.clone(),
            visitor_ids: vec!["visitor-2".into()],
        },
    );
    let token = out.invite(11).unwrap().1.token;
    assert_eq!(
        verify_call_token(CALL_KEY, &token, &call_id, b.now)
            .unwrap()
            .participant,
        "guest-3"
    );
    // Removing a participant revokes their seat; ending the call ends the room.
    b.visitor_does(
        &v1,
        VisitorFrame::CallAnswer {
            call_id: call_id.clone(),
            accept: true,
        },
    );
    let out = b.agent_does(
        &ada,
        AgentFrame::CallRemove {
            call_id: call_id.clone(),
            visitor_id: "visitor-1".into(),
        },
    );
    assert_eq!(
        media_commands(&out),
        [MediaCommandKind::Revoke {
            participant: "guest-1".into()
        }]
    );
    let out = b.agent_does(&ada, AgentFrame::CallEnd { call_id });
    assert_eq!(media_commands(&out), [MediaCommandKind::End]);
}

#[test]
fn replayed_and_stale_call_events_change_nothing() {
    let mut b = Bench::with_calls(true);
    b.agent(&Agent::new(1, "ada", "Ada"));
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let (call_id, _) = call(&mut b, std::slice::from_ref(&v));
    b.visitor_does(
        &v,
        VisitorFrame::CallAnswer {
            call_id: call_id.clone(),
            accept: true,
        },
    );
    let event = |at: u64, nonce: &str, kind| {
        Input::CallEvent(CallEvent {
            site: SITE.into(),
            room: call_id.clone(),
            at,
            nonce: nonce.into(),
            kind,
        })
    };
    let joined = CallEventKind::ParticipantJoined {
        participant: "guest-1".into(),
        role: CallRole::Guest,
    };
    assert_eq!(b.input(event(T0, "n-1", joined.clone())).notes().len(), 1);
    // The same event again, and an old one with a fresh nonce: nothing.
    let left = CallEventKind::ParticipantLeft {
        participant: "guest-1".into(),
        role: CallRole::Guest,
    };
    assert!(b.input(event(T0, "n-1", left.clone())).notes().is_empty());
    assert!(b
        .input(event(T0 - 10 * 60_000, "n-2", left.clone()))
        .notes()
        .is_empty());
    assert_eq!(b.input(event(T0 + 1, "n-3", left)).notes().len(), 1);
    // A room ended by a replayed event stays open.
    let ended = CallEventKind::RoomEnded { duration_ms: 1 };
    b.input(event(T0 + 2, "n-4", ended.clone()));
    assert!(!b
        .input(event(T0 + 3, "n-4", ended))
        .to_agent(1)
        .iter()
        .any(|f| matches!(f, AgentServerFrame::CallEnded { .. })));
}

#[test]
fn without_allowed_origins_an_agent_may_only_navigate_within_the_visitors_own_origin() {
    let mut b = Bench::with_calls(true);
    b.input(Input::SiteSettings(SiteSettings {
        calls_in_plan: true,
        calls_enabled: true,
        ..SiteSettings::default()
    }));
    let ada = Agent::new(1, "ada", "Ada");
    b.agent(&ada);
    b.visitor(&Visitor::new(10, "visitor-1").on(page(1, "/lamp", "Lamp")));
    let navigate = |url: &str| AgentFrame::Navigate {
        visitor_id: "visitor-1".into(),
        url: url.into(),
    };
    let out = b.agent_does(&ada, navigate("https://phishing.example/login"));
    assert_eq!(out.agent_error(1), Some(ErrorCode::Forbidden));
    assert!(out.to_visitor(10).is_empty());
    let out = b.agent_does(&ada, navigate("https://shop.example/checkout"));
    assert!(out.to_visitor(10).contains(&VisitorServerFrame::Navigate {
        url: "https://shop.example/checkout".into()
    }));
}
