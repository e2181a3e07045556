//! E-mail over a real SMTP server (aiosmtpd), K3: the admin sets the account's server and
//! tests it; invitations never go through it (the platform's mailer sends them); a
//! visitor's transcript and an answer to a visitor who had gone arrive, and each is on the
//! contact's card with its status. Bad settings get clear errors.

mod common;

use anyhow::Result;
use common::Smtp;
use serde_json::{json, Value};
use vitrine_tests::{agent_message, anonymous_hello, post_json, Api, Client, DEMO_SITE};

const ADMIN: (&str, &str) = ("admin@demo.shop", "vitrine-demo");

fn is_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |f| f["type"] == t
}

/// The card's e-mails once the mailer has written `status` on all of them (10 s at most).
async fn card_emails(admin: &Api, contact: &str, status: &str) -> Result<Vec<Value>> {
    let path = format!("/api/sites/{DEMO_SITE}/contacts/{contact}");
    let mut emails = Vec::new();
    for _ in 0..100 {
        let (code, card) = admin.call("GET", &path, None).await?;
        assert_eq!(code, 200, "{card}");
        emails = card["emails"].as_array().cloned().unwrap_or_default();
        if !emails.is_empty() && emails.iter().all(|e| e["status"] == status) {
            return Ok(emails);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("the card's e-mails never all said {status}: {emails:?}")
}

#[tokio::test]
async fn smtp_settings_invitations_transcripts_and_answers_go_out_and_are_recorded() -> Result<()> {
    let smtp = Smtp::start().await?;
    let (_server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;

    // Bad settings are refused, each with what is wrong.
    let mut bad = smtp.settings();
    bad["from"] = json!("not an address");
    let (status, body) = admin.call("PUT", "/api/admin/mail", Some(bad)).await?;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("from"));
    let mut bad = smtp.settings();
    bad["host"] = json!("smtp example.com");
    assert_eq!(
        admin.call("PUT", "/api/admin/mail", Some(bad)).await?.0,
        400
    );

    let mut settings = smtp.settings();
    settings["username"] = json!("shop");
    settings["password"] = json!("smtp-secret");
    let (status, view) = admin.call("PUT", "/api/admin/mail", Some(settings)).await?;
    assert_eq!(status, 200, "{view}");
    let (_, view) = admin.call("GET", "/api/admin/mail", None).await?;
    assert_eq!(view["has_password"], true);
    assert!(view.get("password").is_none(), "never read back: {view}");
    // aiosmtpd offers no AUTH on plain text: log in without credentials from here on.
    admin
        .call("PUT", "/api/admin/mail", Some(smtp.settings()))
        .await?;

    // A test e-mail.
    let (status, _) = admin
        .call(
            "POST",
            "/api/admin/mail/test",
            Some(json!({"to": "owner@demo.shop"})),
        )
        .await?;
    assert_eq!(status, 204);
    smtp.wait_for(&["To: owner@demo.shop", "Vitrine: test e-mail"])
        .await?;

    // An invitation never goes through the account's own server (its admins could read
    // it): on a server without platform e-mail, its link is shown to the admin instead.
    let (status, invited) = admin
        .call(
            "POST",
            "/api/admin/agents",
            Some(json!({"email": "nadia@demo.shop", "name": "Nadia", "role": "agent"})),
        )
        .await?;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["emailed"], false);
    assert!(invited["link_path"]
        .as_str()
        .unwrap()
        .starts_with("/portal/#invite="));

    // A visitor asks for their conversation by e-mail.
    let mut v = Client::visitor(&base, DEMO_SITE).await?;
    v.send(&anonymous_hello("0000visit-m1")).await?;
    v.wait_for("welcome", is_type("welcome")).await?;
    v.send(&json!({"type": "send_message", "client_id": "m-00000001", "text": "Is the Oslo chair in stock?",
        "page_url": "https://shop.example/", "contact": {"name": "Zofia", "email": "zofia@mail.example"}}))
        .await?;
    let ack = v.wait_for("message_ack", is_type("message_ack")).await?;
    let conversation = ack["conversation_id"].as_str().unwrap().to_string();
    v.send(
        &json!({"type": "transcript", "conversation_id": &conversation, "email": "not-an-address"}),
    )
    .await?;
    let refused = v.wait_for("error", is_type("error")).await?;
    assert_eq!(refused["code"], "invalid_field", "{refused}");
    v.send(&json!({"type": "transcript", "conversation_id": &conversation, "email": "zofia@mail.example"}))
        .await?;
    let queued = v
        .wait_for("transcript_queued", is_type("transcript_queued"))
        .await?;
    assert_eq!(
        queued["confirm"], true,
        "a typed address confirms first: {queued}"
    );
    // The address's owner is asked first, in fixed words: nothing the visitor wrote.
    let ask = smtp
        .wait_for(&["To: zofia@mail.example", "#transcript="])
        .await?;
    assert!(!ask.contains("Oslo chair"), "{ask}");
    let token = vitrine_tests::link_token(&ask, "transcript").unwrap();
    let (_, view) = post_json(&base, "/api/transcript", json!({"token": token})).await?;
    assert_eq!(
        (view["site_name"].as_str(), view["email"].as_str()),
        (Some("Demo shop"), Some("zofia@mail.example"))
    );
    let confirm = json!({"token": token});
    let (status, _) = post_json(&base, "/api/transcript/confirm", confirm.clone()).await?;
    assert_eq!(status, 202);
    let (status, _) = post_json(&base, "/api/transcript/confirm", confirm).await?;
    assert_eq!(status, 404, "a link works once");
    smtp.wait_for(&[
        "To: zofia@mail.example",
        "Subject: Your conversation with Demo shop",
        "Is the Oslo chair in stock?",
    ])
    .await?;

    // She closes the page; the agent's answer follows her by e-mail.
    v.close().await?;
    let cookie = admin.cookie.clone();
    let mut agent = Client::agent(&base, DEMO_SITE, &cookie).await?;
    agent.wait_for("snapshot", is_type("snapshot")).await?;
    agent
        .send(&agent_message(
            &conversation,
            "a-00000001",
            "Yes, 3 in oak.",
        ))
        .await?;
    agent
        .wait_for("message_ack", is_type("message_ack"))
        .await?;
    smtp.wait_for(&["To: zofia@mail.example", "answered you", "Yes, 3 in oak."])
        .await?;
    // Only the answer is on her card: a typed address's transcript is on none.
    let emails = card_emails(&admin, "zofia@mail.example", "sent").await?;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0]["subject"]
        .as_str()
        .unwrap()
        .contains("answered you"));
    Ok(())
}

#[tokio::test]
async fn a_server_that_refuses_fails_the_test_e_mail_and_leaves_the_e_mail_queued_with_why(
) -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    // Nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let settings =
        json!({"host": "127.0.0.1", "port": port, "security": "none", "from": "shop@demo.shop"});
    assert_eq!(
        admin
            .call("PUT", "/api/admin/mail", Some(settings))
            .await?
            .0,
        200
    );

    let (status, body) = admin
        .call(
            "POST",
            "/api/admin/mail/test",
            Some(json!({"to": "owner@demo.shop"})),
        )
        .await?;
    assert_eq!(status, 502, "{body}");

    // An answer to a visitor who left waits for its retry, and the card says why.
    let mut v = Client::visitor(&base, DEMO_SITE).await?;
    v.send(&anonymous_hello("0000visit-m2")).await?;
    v.wait_for("welcome", is_type("welcome")).await?;
    v.send(&json!({"type": "send_message", "client_id": "m-00000001", "text": "Hello",
        "page_url": "https://shop.example/", "contact": {"name": "Ewa", "email": "ewa@mail.example"}}))
        .await?;
    let ack = v.wait_for("message_ack", is_type("message_ack")).await?;
    v.close().await?;
    let cookie = admin.cookie.clone();
    let mut agent = Client::agent(&base, DEMO_SITE, &cookie).await?;
    agent.wait_for("snapshot", is_type("snapshot")).await?;
    let conversation = ack["conversation_id"].as_str().unwrap();
    agent
        .send(&agent_message(
            conversation,
            "a-00000001",
            "We will write back.",
        ))
        .await?;
    agent
        .wait_for("message_ack", is_type("message_ack"))
        .await?;
    let path = format!("/api/sites/{DEMO_SITE}/contacts/ewa@mail.example");
    for _ in 0..100 {
        let card = admin.call("GET", &path, None).await?.1;
        if let Some(e) = card["emails"].get(0).filter(|e| e["error"].is_string()) {
            assert_eq!(e["status"], "queued", "tried again later: {e}");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("the failed try was never recorded")
}
