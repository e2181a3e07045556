//! Contacts in the hub (K1, K4, K5): who the shop says a visitor is, checked against the
//! site's identity secret, shown in the live list and written once per change.

mod common;

use common::*;
use vitrine_core::hub::{Input, SiteSettings, StoreOp};
use vitrine_core::identity;
use vitrine_core::protocol::*;
use vitrine_core::store::accounts::SiteIdentity;

const SECRET: &str = "shop-identity-secret";

fn bench(required: bool) -> Bench {
    let mut b = Bench::new();
    b.input(Input::SiteSettings(SiteSettings {
        identity: Some(SiteIdentity {
            secret: SECRET.into(),
            required,
        }),
        ..SiteSettings::default()
    }));
    b.agent(&Agent::new(1, "a1", "Ada"));
    b
}

fn customer(id: &str) -> Identity {
    Identity {
        id: id.into(),
        name: Some("Zofia Nowak".into()),
        email: Some("zofia@mail.example".into()),
        ..Identity::default()
    }
}

fn identify(identity: Identity, signature: Option<String>) -> VisitorFrame {
    VisitorFrame::Identify {
        identity,
        signature,
    }
}

fn signed(id: &str) -> VisitorFrame {
    identify(customer(id), Some(identity::sign(SECRET, &customer(id))))
}

fn identifications(out: &Out) -> Vec<(String, String, bool)> {
    out.stores()
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Identify {
                visitor_id,
                identity,
                verified,
                ..
            } => Some((visitor_id.clone(), identity.id.clone(), *verified)),
            _ => None,
        })
        .collect()
}

fn listed_contact(b: &mut Bench, out: Out) -> Option<ContactRef> {
    let mut out = out;
    out.extend(b.run_until(b.now + 1_000));
    out.list_updates(1)
        .into_iter()
        .flat_map(|(rows, _)| rows)
        .last()
        .and_then(|row| row.contact)
}

#[test]
fn a_signed_identity_names_the_visitor_in_the_list_and_is_stored_once() {
    let mut b = bench(true);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let out = b.visitor_does(&v, signed("customer-42"));
    assert_eq!(
        identifications(&out),
        vec![("visitor-1".into(), "customer-42".into(), true)]
    );
    let contact = listed_contact(&mut b, out).expect("the row names the contact");
    assert_eq!(contact.contact_id, "customer-42");
    assert_eq!(contact.name.as_deref(), Some("Zofia Nowak"));

    // The shop identifies on every page: the same identity again writes nothing.
    let again = b.visitor_does(&v, signed("customer-42"));
    assert!(identifications(&again).is_empty());
    assert_eq!(again.visitor_error(10), None);
}

#[test]
fn the_row_names_the_contact_only_once_the_store_holds_its_card() {
    let mut b = bench(true).holding(|op| matches!(op, StoreOp::Identify { .. }));
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let out = b.visitor_does(&v, signed("customer-42"));
    assert_eq!(
        listed_contact(&mut b, out),
        None,
        "an agent opening the card now would find none"
    );
    let stored = b.store_all();
    let contact = listed_contact(&mut b, stored).expect("named once stored");
    assert_eq!(contact.contact_id, "customer-42");
}

#[test]
fn a_forged_or_missing_signature_is_refused_and_changes_nothing() {
    let mut b = bench(true);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    for frame in [
        identify(
            customer("customer-42"),
            Some(identity::sign("guess", &customer("customer-42"))),
        ),
        identify(
            customer("customer-42"),
            Some(identity::sign(SECRET, &customer("customer-43"))),
        ),
        identify(customer("customer-42"), None),
    ] {
        let out = b.visitor_does(&v, frame);
        assert_eq!(out.visitor_error(10), Some(ErrorCode::Forbidden));
        assert!(identifications(&out).is_empty());
        assert_eq!(listed_contact(&mut b, out), None, "K5: still anonymous");
    }
}

#[test]
fn a_site_without_an_identity_secret_refuses_every_identity() {
    let mut b = Bench::new();
    b.agent(&Agent::new(1, "a1", "Ada"));
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let out = b.visitor_does(&v, signed("customer-42"));
    assert_eq!(out.visitor_error(10), Some(ErrorCode::Forbidden));
    assert!(identifications(&out).is_empty());
}

#[test]
fn a_site_that_does_not_require_signatures_takes_unsigned_identities_as_unverified() {
    let mut b = bench(false);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let out = b.visitor_does(&v, identify(customer("customer-42"), None));
    assert_eq!(out.visitor_error(10), None);
    assert_eq!(
        identifications(&out),
        vec![("visitor-1".into(), "customer-42".into(), false)]
    );
    // A signature, when there is one, must still be right.
    let forged = b.visitor_does(&v, identify(customer("customer-7"), Some("00".repeat(32))));
    assert!(identifications(&forged)
        .iter()
        .all(|(_, _, verified)| !verified));
}

#[test]
fn an_identified_visitors_conversation_carries_their_name_and_email() {
    let mut b = bench(true);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    b.visitor_does(&v, signed("customer-42"));
    b.says(&v, "m-00000001", "Is the lamp in stock?");
    let summary = b.last_stored_summary().expect("a conversation was stored");
    assert_eq!(summary.contact.name.as_deref(), Some("Zofia Nowak"));
    assert_eq!(summary.contact.email.as_deref(), Some("zofia@mail.example"));
}

#[test]
fn shop_events_are_stored_with_the_visit_they_happened_in() {
    let mut b = bench(true);
    let v = Visitor::new(10, "visitor-1").visit("0000visit-7");
    b.visitor(&v);
    let event = ShopEvent {
        event_id: "0000event-1".into(),
        kind: ShopEventKind::Cart,
        value: 129.0,
        currency: Some("EUR".into()),
        items: vec!["https://shop.example/lamp".into()],
    };
    let out = b.visitor_does(
        &v,
        VisitorFrame::Track {
            event: event.clone(),
        },
    );
    let stored: Vec<_> = out
        .stores()
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Track { visitor_id, event } => Some((visitor_id.clone(), event.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, "visitor-1");
    assert_eq!(stored[0].1.event, event);
    assert_eq!(stored[0].1.visit_id, "0000visit-7");
    assert_eq!(stored[0].1.at, b.now);
}

#[test]
fn identify_and_track_before_hello_are_refused() {
    let mut b = bench(true);
    b.connect_visitor(10);
    let out = b.input(Input::FromVisitor {
        conn: 10,
        frame: signed("customer-42"),
    });
    assert_eq!(out.visitor_error(10), Some(ErrorCode::HelloRequired));
    assert!(identifications(&out).is_empty());
}

#[test]
fn the_leave_a_message_form_makes_an_unverified_contact_of_its_email() {
    let mut b = bench(true);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let out = b.visitor_does(
        &v,
        VisitorFrame::SendMessage {
            client_id: "m-00000001".into(),
            text: "Call me back please".into(),
            page_url: "https://shop.example/".into(),
            contact: Some(Contact {
                name: Some("Ada".into()),
                email: Some(" Ada@Mail.Example ".into()),
            }),
        },
    );
    assert_eq!(
        identifications(&out),
        vec![("visitor-1".into(), "ada@mail.example".into(), false)],
        "unverified: it never changes a contact the shop vouched for"
    );
    let contact = listed_contact(&mut b, out).expect("the row names them");
    assert_eq!(contact.name.as_deref(), Some("Ada"));

    // A visitor the shop identified keeps that identity whatever the form says.
    let w = Visitor::new(11, "visitor-2");
    b.visitor(&w);
    b.visitor_does(&w, signed("customer-42"));
    let out = b.visitor_does(
        &w,
        VisitorFrame::SendMessage {
            client_id: "m-00000002".into(),
            text: "Hello".into(),
            page_url: "https://shop.example/".into(),
            contact: Some(Contact {
                name: None,
                email: Some("someone@else.example".into()),
            }),
        },
    );
    assert!(identifications(&out).is_empty());
}

#[test]
fn a_conversation_started_before_signing_in_takes_the_customers_name_at_identification() {
    let mut b = bench(true);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    b.says(&v, "m-00000001", "Hello?");
    assert_eq!(b.last_stored_summary().unwrap().contact, Contact::default());
    let out = b.visitor_does(&v, signed("customer-42"));
    let summary = b.last_stored_summary().unwrap();
    assert_eq!(summary.contact.name.as_deref(), Some("Zofia Nowak"));
    assert!(
        out.to_agent(1).iter().any(|f| matches!(
            f,
            AgentServerFrame::ConversationChanged { conversation }
                if conversation.contact.email.as_deref() == Some("zofia@mail.example")
        )),
        "the agents' folders name them at once"
    );
}

#[test]
fn a_visitor_who_keeps_changing_identity_is_stopped_before_the_store_fills() {
    let mut b = bench(true);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let mut written = 0;
    for i in 0..20 {
        let out = b.visitor_does(&v, signed(&format!("customer-{i}")));
        written += identifications(&out).len();
        if i >= 5 {
            assert_eq!(
                out.visitor_error(10),
                Some(ErrorCode::RateLimited),
                "change {i}"
            );
        }
    }
    assert_eq!(
        written, 5,
        "five identities a visitor may take; the rest write nothing"
    );
}

/// A customer's valid signature re-sent with another customer's name and e-mail proves
/// none of them (was: the card became "verified" with them); the older signature of the
/// ID alone proves the ID and nothing else.
#[test]
fn only_what_the_shop_signed_reaches_the_card() {
    let mut b = bench(true);
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let theirs = Identity {
        name: Some("Someone Else".into()),
        email: Some("someone@else.example".into()),
        ..customer("customer-42")
    };
    let out = b.visitor_does(
        &v,
        identify(
            theirs.clone(),
            Some(identity::sign(SECRET, &customer("customer-42"))),
        ),
    );
    assert_eq!(out.visitor_error(10), Some(ErrorCode::Forbidden));
    assert!(identifications(&out).is_empty());
    // The ID alone signed: the card is the ID's, none of the unsigned fields are written.
    let out = b.visitor_does(
        &v,
        identify(theirs, Some(identity::sign_id(SECRET, "customer-42"))),
    );
    let written: Vec<Identity> = out
        .stores()
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Identify {
                identity,
                verified: true,
                ..
            } => Some(identity.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        written,
        vec![Identity {
            id: "customer-42".into(),
            ..Identity::default()
        }]
    );
}
