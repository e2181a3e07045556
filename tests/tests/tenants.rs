//! Tenants that cannot touch each other, tried as an attacker would, against the real
//! server and real SMTP servers (aiosmtpd): the platform's own, and a tenant's.
//! Each test fails without the fix it names.

mod common;

use std::time::{Duration, Instant};

use anyhow::Result;
use common::Smtp;
use serde_json::{json, Value};
use vitrine_tests::{link_token, post_json as post, Api};

const ADMIN: (&str, &str) = ("admin@demo.shop", "vitrine-demo");

/// A server whose platform e-mail goes to `platform`.
async fn with_platform_mail(platform: &Smtp) -> Result<(vitrine_server::Running, String)> {
    let url = format!("smtp://127.0.0.1:{}", platform.port);
    common::start_with(|c| c.platform_mail.platform_smtp = Some(url)).await
}

/// Fix: invitations are single-use links sent by the platform's mailer to the invitee;
/// nothing an admin sees opens a sign-in (was: the admin was shown a one-time password
/// for a global identity, and could later sign in to another account that invited it).
#[tokio::test]
async fn an_admin_of_one_account_never_holds_a_credential_for_another() -> Result<()> {
    let (platform, tenant_a_smtp) = (Smtp::start().await?, Smtp::start().await?);
    let (server, base) = with_platform_mail(&platform).await?;
    let a = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let b = common::second_account(&server, &base).await?;
    // Account A has a mail server of its own: invitations must not go through it.
    let (status, _) = a
        .call("PUT", "/api/admin/mail", Some(tenant_a_smtp.settings()))
        .await?;
    assert_eq!(status, 200);

    let invite = json!({"email": "support@tenant-b.test", "name": "Support", "role": "admin"});
    let (status, by_a) = a
        .call("POST", "/api/admin/agents", Some(invite.clone()))
        .await?;
    assert_eq!(status, 201, "{by_a}");
    assert_eq!(
        (&by_a["emailed"], &by_a["link_path"]),
        (&json!(true), &Value::Null)
    );
    let mail = platform
        .wait_for(&["To: support@tenant-b.test", "#invite="])
        .await?;
    let a_token = link_token(&mail, "invite").expect("a link");
    assert!(
        !by_a.to_string().contains(&a_token),
        "the admin never sees the link"
    );
    assert!(
        tenant_a_smtp.received().is_empty(),
        "the platform's e-mail never goes through a tenant's server"
    );

    // The person accepts A's invitation, choosing their password: they now sign in.
    Api::accept_invitation(&base, &a_token, "support's own password").await?;
    // B invites the same address. Its admin learns nothing of A: the answer is the one a
    // new address gets.
    let (status, by_b) = b
        .call("POST", "/api/admin/agents", Some(invite.clone()))
        .await?;
    assert_eq!(status, 201, "{by_b}");
    let fresh = json!({"email": "fresh@tenant-b.test", "name": "Fresh", "role": "agent"});
    let (_, by_b_fresh) = b.call("POST", "/api/admin/agents", Some(fresh)).await?;
    let shape = |v: &Value| {
        let mut v = v.clone();
        v["invitation"] = Value::Null;
        v
    };
    assert_eq!(shape(&by_b), shape(&by_b_fresh));
    let mail = platform
        .wait_for(&["To: support@tenant-b.test", "Boutique B"])
        .await?;
    let b_token = link_token(&mail, "invite").expect("a link");

    // A's admin has no password for the person: signing in as them fails, and a reset
    // link goes to the person's inbox, not to A.
    assert!(Api::login(&base, "support@tenant-b.test", "vitrine-demo")
        .await
        .is_err());
    let (status, _) = post(
        &base,
        "/api/password/forgot",
        json!({"email": "support@tenant-b.test"}),
    )
    .await?;
    assert_eq!(status, 202);
    platform
        .wait_for(&["To: support@tenant-b.test", "#reset="])
        .await?;
    assert!(tenant_a_smtp.received().is_empty());
    // B's link without the person's password grants nothing.
    assert!(
        Api::accept_invitation(&base, &b_token, "a guess of A's admin")
            .await
            .is_err()
    );
    let (_, agents) = b.call("GET", "/api/admin/agents", None).await?;
    assert!(!agents.to_string().contains("support@"), "{agents}");
    // The person accepts B's with their own password: now an agent of both.
    let (at_b, agent) = Api::accept_invitation(&base, &b_token, "support's own password").await?;
    assert_eq!(agent["account_id"], "b-account");
    let (status, _) = at_b.call("GET", "/api/admin/agents", None).await?;
    assert_eq!(status, 200);
    Ok(())
}

/// Fix: a forgotten password has a way back — a reset link by the platform's e-mail,
/// single-use, throttled, answered the same for unknown addresses; every session ends.
#[tokio::test]
async fn a_forgotten_password_comes_back_by_a_link_that_works_once() -> Result<()> {
    let platform = Smtp::start().await?;
    let (_server, base) = with_platform_mail(&platform).await?;
    let before = Api::login(&base, ADMIN.0, ADMIN.1).await?;

    let (status, _) = post(
        &base,
        "/api/password/forgot",
        json!({"email": "nobody@demo.shop"}),
    )
    .await?;
    assert_eq!(status, 202, "unknown addresses are answered alike");
    let (status, _) = post(&base, "/api/password/forgot", json!({"email": ADMIN.0})).await?;
    assert_eq!(status, 202);
    let mail = platform
        .wait_for(&["To: admin@demo.shop", "#reset="])
        .await?;
    let token = link_token(&mail, "reset").expect("a link");
    assert!(
        !platform
            .received()
            .iter()
            .any(|m| m.contains("nobody@demo.shop")),
        "no e-mail to an address that does not sign in"
    );

    let reset = |password: &str| json!({"token": token, "password": password});
    let (status, body) = post(&base, "/api/password/reset", reset("short")).await?;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post(&base, "/api/password/reset", reset("a brand new password")).await?;
    assert_eq!(status, 204);
    let (status, _) = post(&base, "/api/password/reset", reset("yet another password")).await?;
    assert_eq!(status, 404, "used once");
    let (status, _) = before.call("GET", "/api/me", None).await?;
    assert_eq!(status, 401, "every session ended");
    assert!(Api::login(&base, ADMIN.0, ADMIN.1).await.is_err());
    Api::login(&base, ADMIN.0, "a brand new password").await?;
    platform
        .wait_for(&["To: admin@demo.shop", "password was changed"])
        .await?;

    // Three reset e-mails an hour per address, then 429.
    for _ in 0..2 {
        let (status, _) = post(&base, "/api/password/forgot", json!({"email": ADMIN.0})).await?;
        assert_eq!(status, 202);
    }
    let (status, _) = post(&base, "/api/password/forgot", json!({"email": ADMIN.0})).await?;
    assert_eq!(status, 429);
    Ok(())
}

/// Fix: wrong "current password" guesses on the password change count against the
/// sign-in throttle (was: 25 guesses in 0.6 s, never 429).
#[tokio::test]
async fn guessing_the_current_password_is_throttled() -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let guess = |n: u32| json!({"current": format!("guess number {n}"), "new": "a new password!"});
    let mut statuses = Vec::new();
    for n in 0..12 {
        let (status, _) = admin
            .call("POST", "/api/me/password", Some(guess(n)))
            .await?;
        statuses.push(status);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10..], [429, 429]);
    // The right password is refused too while throttled: the guesser learns nothing.
    let right = json!({"current": ADMIN.1, "new": "a new password!"});
    assert_eq!(
        admin.call("POST", "/api/me/password", Some(right)).await?.0,
        429
    );
    Ok(())
}

/// A server that accepts connections and never says a word.
async fn silent_server() -> Result<(u16, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok((port, task))
}

/// Fix: each account's e-mail is a lane of its own with a deadline, and a try is claimed
/// before it is sent (was: one tenant's server that never speaks held the one queue —
/// another tenant's e-mail still undelivered after 90 s — and "send a test" hung 150 s).
#[tokio::test]
async fn one_tenants_silent_mail_server_holds_up_no_one_else() -> Result<()> {
    use vitrine_core::store::mail::{self, MailContent, OutgoingMail, SmtpSecurity, SmtpSettings};
    let smtp = Smtp::start().await?;
    let (silent_port, _silent) = silent_server().await?;
    let (server, base) = common::start_with(|_| {}).await?;
    let b = common::second_account(&server, &base).await?;
    let store = &server.store;
    let settings = |port: u16| SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "shop@example.test".into(),
    };
    mail::set_smtp_settings(store, "b-account", &settings(silent_port)).await?;
    let demo_account = vitrine_core::store::accounts::get_site(store, vitrine_tests::DEMO_SITE)
        .await?
        .unwrap()
        .account_id;
    mail::set_smtp_settings(store, &demo_account, &settings(smtp.port)).await?;
    // B's e-mail is queued first, then the demo shop's, a second later.
    let now = vitrine_core::clock::now_ms();
    let queue = |site: &str, at: u64, to: &str| OutgoingMail {
        mail_id: OutgoingMail::id(at, "conv-x", 1),
        site: site.into(),
        contact_id: None,
        to: to.into(),
        content: MailContent::Answer {
            conversation_id: "conv-x".into(),
            agent: "Ada".into(),
            text: format!("for {to}"),
        },
        queued_at: at,
        attempts: 0,
        due_at: at,
    };
    let stuck = queue("b-shop", now - 1_000, "stuck@b.test");
    mail::queue(store, &stuck, "stuck").await?;
    let started = Instant::now();
    mail::queue(
        store,
        &queue(vitrine_tests::DEMO_SITE, now, "zofia@mail.example"),
        "ok",
    )
    .await?;
    smtp.wait_for(&["To: zofia@mail.example"]).await?;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "delivered in {:?} while the other tenant's server hangs",
        started.elapsed()
    );

    // B's "send a test" ends with a clear error after the deadline, not minutes later.
    let started = Instant::now();
    let (status, body) = b
        .call(
            "POST",
            "/api/admin/mail/test",
            Some(json!({"to": "boss@b.shop"})),
        )
        .await?;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not finish"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    // The stuck e-mail was claimed: its next try waits its backoff, holding no one.
    let due = mail::due(store, vitrine_core::clock::now_ms(), 10).await?;
    assert!(due.iter().all(|m| m.mail_id != stuck.mail_id), "{due:?}");
    Ok(())
}

/// Fix: a visitor cannot make the shop mail text of their choosing to strangers: a typed
/// address gets a confirmation in fixed words first, and what visitors set off per site
/// and day is capped (was: 15 addresses in 20 s, each with the visitor's text).
#[tokio::test]
async fn a_visitor_cannot_use_the_shop_to_mail_strangers() -> Result<()> {
    use vitrine_core::store::mail;
    use vitrine_tests::{anonymous_hello, Client, DEMO_SITE};
    let smtp = Smtp::start().await?;
    let (server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    admin
        .call("PUT", "/api/admin/mail", Some(smtp.settings()))
        .await?;
    let mut v = Client::visitor(&base, DEMO_SITE).await?;
    v.send(&anonymous_hello("0000visit-sp")).await?;
    v.wait_for("welcome", |f| f["type"] == "welcome").await?;
    v.send(&vitrine_tests::visitor_message(
        "m-00000001",
        "CHEAP PILLS at spam.example",
    ))
    .await?;
    let ack = v
        .wait_for("message_ack", |f| f["type"] == "message_ack")
        .await?;
    for n in 0..3 {
        v.send(
            &json!({"type": "transcript", "conversation_id": ack["conversation_id"],
            "email": format!("stranger-{n}@victim.example")}),
        )
        .await?;
        v.wait_for("transcript_queued", |f| f["type"] == "transcript_queued")
            .await?;
    }
    for n in 0..3 {
        let mail = smtp
            .wait_for(&[&format!("To: stranger-{n}@victim.example")])
            .await?;
        assert!(!mail.contains("PILLS"), "{mail}");
    }
    // Past the site's daily cap, nothing more goes out.
    let now = vitrine_core::clock::now_ms();
    for _ in 0..mail::VISITOR_MAILS_PER_SITE_DAY {
        mail::within_daily_cap(&server.store, DEMO_SITE, now).await?;
    }
    let mut w = Client::visitor(&base, DEMO_SITE).await?;
    w.send(&anonymous_hello("0000visit-sq")).await?;
    w.wait_for("welcome", |f| f["type"] == "welcome").await?;
    w.send(&vitrine_tests::visitor_message("m-00000001", "hello"))
        .await?;
    let ack = w
        .wait_for("message_ack", |f| f["type"] == "message_ack")
        .await?;
    w.send(
        &json!({"type": "transcript", "conversation_id": ack["conversation_id"],
        "email": "one-more@victim.example"}),
    )
    .await?;
    w.wait_for("transcript_queued", |f| f["type"] == "transcript_queued")
        .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !smtp
            .received()
            .iter()
            .any(|m| m.contains("one-more@victim.example")),
        "capped"
    );
    assert!(
        mail::due(&server.store, u64::MAX / 2, 10).await?.is_empty(),
        "given up, not retried"
    );
    Ok(())
}

/// Fix: an account's mail server may not be on loopback, private or link-local addresses
/// unless the operator allows it (was: any host and port, so "send a test" mapped the
/// platform's private network by the time to a refusal).
#[tokio::test]
async fn an_accounts_mail_server_cannot_point_into_the_platforms_network() -> Result<()> {
    use vitrine_core::store::mail::{self, SmtpSecurity, SmtpSettings};
    let (server, base) = common::start_with(|c| c.mail_private_hosts = false).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    for host in [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "192.168.0.10",
        "169.254.169.254",
        "::1",
        "fd00::1",
    ] {
        let settings =
            json!({"host": host, "port": 25, "security": "none", "from": "shop@demo.shop"});
        let (status, body) = admin.call("PUT", "/api/admin/mail", Some(settings)).await?;
        assert_eq!(status, 400, "{host}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("private network"),
            "{body}"
        );
    }
    // Settings that got there all the same (or a name that now resolves inside): refused
    // at send time too, without a connection.
    let account = vitrine_core::store::accounts::get_site(&server.store, vitrine_tests::DEMO_SITE)
        .await?
        .unwrap()
        .account_id;
    let inside = SmtpSettings {
        host: "127.0.0.1".into(),
        port: 25,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "shop@demo.shop".into(),
    };
    mail::set_smtp_settings(&server.store, &account, &inside).await?;
    let (status, body) = admin
        .call(
            "POST",
            "/api/admin/mail/test",
            Some(json!({"to": "owner@demo.shop"})),
        )
        .await?;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("private network"),
        "{body}"
    );
    Ok(())
}
