//! E-mail in the hub (K3): what it queues for the mailer, for whom, and how often.

mod common;

use common::*;
use vitrine_core::hub::StoreOp;
use vitrine_core::protocol::*;
use vitrine_core::store::mail::{MailContent, OutgoingMail, MAX_ANSWERS, MAX_TRANSCRIPTS};

fn queued(out: &Out) -> Vec<OutgoingMail> {
    out.stores()
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::QueueMail(mail) => Some(mail.clone()),
            _ => None,
        })
        .collect()
}

/// A visitor leaves a message with their e-mail (nobody online); returns its conversation.
fn left_message(b: &mut Bench, v: &Visitor) -> String {
    b.visitor(v);
    let out = b.visitor_does(
        v,
        VisitorFrame::SendMessage {
            client_id: "m-00000001".into(),
            text: "Do you ship to Kraków?".into(),
            page_url: "https://shop.example/".into(),
            contact: Some(Contact {
                name: Some("Zofia".into()),
                email: Some("Zofia@Mail.Example".into()),
            }),
        },
    );
    out.visitor_messages(v.conn)[0].conversation_id.clone()
}

fn transcript(conversation_id: &str, email: &str) -> VisitorFrame {
    VisitorFrame::Transcript {
        conversation_id: conversation_id.into(),
        email: email.into(),
    }
}

#[test]
fn a_typed_address_gets_a_confirmation_first_and_is_on_no_card() {
    let mut b = Bench::new();
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let out = b.says(&v, "m-00000001", "Hello");
    let id = out.visitor_messages(10)[0].conversation_id.clone();

    // An address the visitor typed: nothing they wrote goes there before its owner asks
    // for it (was: any text, to any address, "from" the shop), and no card records it.
    let out = b.visitor_does(&v, transcript(&id, " ada@mail.example "));
    let mail = queued(&out);
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, "ada@mail.example");
    assert_eq!(
        mail[0].content,
        MailContent::ConfirmTranscript {
            conversation_id: id.clone()
        }
    );
    assert_eq!(
        mail[0].contact_id, None,
        "an unproven address is on no card"
    );
    assert!(out
        .to_visitor(10)
        .contains(&VisitorServerFrame::TranscriptQueued {
            email: "ada@mail.example".into(),
            confirm: true,
        }));

    // A few times, then no more: each one is an e-mail to someone.
    for _ in 1..MAX_TRANSCRIPTS {
        assert_eq!(
            queued(&b.visitor_does(&v, transcript(&id, "ada@mail.example"))).len(),
            1
        );
    }
    let out = b.visitor_does(&v, transcript(&id, "ada@mail.example"));
    assert!(queued(&out).is_empty());
    assert_eq!(out.visitor_error(10), Some(ErrorCode::RateLimited));
}

#[test]
fn the_address_the_shop_signed_gets_the_transcript_at_once_on_the_card() {
    use vitrine_core::hub::{Input, SiteSettings};
    use vitrine_core::store::accounts::SiteIdentity;
    let mut b = Bench::new();
    b.input(Input::SiteSettings(SiteSettings {
        identity: Some(SiteIdentity {
            secret: "secret".into(),
            required: true,
        }),
        ..SiteSettings::default()
    }));
    let v = Visitor::new(10, "visitor-1");
    b.visitor(&v);
    let zofia = Identity {
        id: "customer-42".into(),
        email: Some("Zofia@mail.example".into()),
        ..Identity::default()
    };
    let signature = vitrine_core::identity::sign("secret", &zofia);
    b.visitor_does(
        &v,
        VisitorFrame::Identify {
            identity: zofia,
            signature: Some(signature),
        },
    );
    let id = b.says(&v, "m-00000001", "Hello").visitor_messages(10)[0]
        .conversation_id
        .clone();
    let out = b.visitor_does(&v, transcript(&id, "zofia@mail.example"));
    let mail = queued(&out);
    assert_eq!(
        (mail[0].content.clone(), mail[0].contact_id.as_deref()),
        (
            MailContent::Transcript {
                conversation_id: id.clone()
            },
            Some("customer-42")
        )
    );
    // Another address, even from an identified customer: a confirmation first.
    let mail = queued(&b.visitor_does(&v, transcript(&id, "other@mail.example")));
    assert_eq!(mail[0].contact_id, None);
    assert!(matches!(
        mail[0].content,
        MailContent::ConfirmTranscript { .. }
    ));
}

#[test]
fn nobody_gets_the_transcript_of_a_conversation_that_is_not_theirs() {
    let mut b = Bench::new();
    let v = Visitor::new(10, "visitor-1");
    let w = Visitor::new(11, "visitor-2");
    b.visitor(&v);
    b.visitor(&w);
    let id = b.says(&v, "m-00000001", "Hello").visitor_messages(10)[0]
        .conversation_id
        .clone();
    let out = b.visitor_does(&w, transcript(&id, "eve@mail.example"));
    assert!(queued(&out).is_empty());
    assert_eq!(out.visitor_error(11), Some(ErrorCode::NotFound));
}

#[test]
fn an_answer_to_a_visitor_who_has_gone_is_e_mailed_to_the_address_they_left() {
    let mut b = Bench::new();
    let ada = Agent::new(1, "ada", "Ada");
    let v = Visitor::new(10, "visitor-1");
    let id = left_message(&mut b, &v);
    b.agent(&ada);

    // While the visitor's page is open, the answer reaches them in the widget only.
    let out = b.agent_says(&ada, &id, "c-00000001", "Yes, in 3 days.");
    assert!(queued(&out).is_empty());

    b.disconnect(10);
    let out = b.agent_says(&ada, &id, "c-00000002", "Tracking follows by e-mail.");
    let mail = queued(&out);
    assert_eq!(mail.len(), 1, "{:?}", out.stores());
    assert_eq!(mail[0].to, "Zofia@Mail.Example");
    assert_eq!(mail[0].contact_id.as_deref(), Some("zofia@mail.example"));
    assert_eq!(
        mail[0].content,
        MailContent::Answer {
            conversation_id: id.clone(),
            agent: "Ada".into(),
            text: "Tracking follows by e-mail.".into(),
        }
    );

    // Bounded per conversation, whatever an agent sends.
    let mut sent = 1;
    for n in 3..(MAX_ANSWERS as u32 + 10) {
        sent += queued(&b.agent_says(&ada, &id, &format!("c-{n:08}"), "more")).len();
    }
    assert_eq!(sent, MAX_ANSWERS as usize);
}

#[test]
fn an_answer_to_someone_who_left_no_address_is_not_e_mailed() {
    let mut b = Bench::new();
    let ada = Agent::new(1, "ada", "Ada");
    let v = Visitor::new(10, "visitor-1");
    b.agent(&ada);
    b.visitor(&v);
    let id = b.says(&v, "m-00000001", "Hello").visitor_messages(10)[0]
        .conversation_id
        .clone();
    b.disconnect(10);
    let out = b.agent_says(&ada, &id, "c-00000001", "Still there?");
    assert!(queued(&out).is_empty());
}
