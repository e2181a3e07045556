//! Trust, over real sockets against the real server: what an attacker tried, refused.
//! Each test fails without the fix it names.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use vitrine_tests::{
    anonymous_hello, hello, login, post_json, visitor_message, Api, Client, DEMO_SITE,
};

const ADMIN: (&str, &str) = ("admin@demo.shop", "vitrine-demo");

fn is_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |f| f["type"] == t
}

async fn welcomed(base: &str, frame: &Value) -> Result<(Client, Value)> {
    let mut v = Client::visitor(base, DEMO_SITE).await?;
    v.send(frame).await?;
    let welcome = v.wait_for("welcome", is_type("welcome")).await?;
    Ok((v, welcome))
}

#[tokio::test]
async fn a_visitor_id_seen_elsewhere_opens_nothing_of_that_visitor() -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let hello_owner = hello(
        DEMO_SITE,
        "visitor-owner-01",
        "visit-00000001",
        1,
        "https://shop.example/",
        "Shop",
    );
    let (mut owner, _) = welcomed(&base, &hello_owner).await?;
    owner
        .send(&visitor_message(
            "m-owner-00001",
            "my address is 1 Secret Lane",
        ))
        .await?;
    owner.wait_for("ack", is_type("message_ack")).await?;

    // Someone who learnt the ID claims it, with a made-up signature or none.
    let mut forged = anonymous_hello("visit-00000002");
    forged["credential"] =
        json!({"visitor_id": "visitor-owner-01", "signature": "AAAAAAAAAAAAAAAA"});
    for claim in [forged, anonymous_hello("visit-00000003")] {
        let (_thief, welcome) = welcomed(&base, &claim).await?;
        assert_ne!(welcome["credential"]["visitor_id"], "visitor-owner-01");
        assert_eq!(
            welcome["has_conversation"], false,
            "nothing of the owner's chat"
        );
    }
    // The real credential still is the owner.
    let (_again, welcome) = welcomed(&base, &hello_owner).await?;
    assert_eq!(welcome["credential"]["visitor_id"], "visitor-owner-01");
    assert_eq!(welcome["has_conversation"], true);
    Ok(())
}

#[tokio::test]
async fn one_person_may_be_an_agent_of_two_accounts_and_signs_in_to_one() -> Result<()> {
    let (server, base) = common::start_with(|_| {}).await?;
    // A second account, with its own admin and site.
    let b = common::second_account(&server, &base).await?;
    let (status, invited) = b
        .call(
            "POST",
            "/api/admin/agents",
            Some(json!({"email": ADMIN.0, "name": "Ada at B", "role": "agent"})),
        )
        .await?;
    assert_eq!(status, 201, "{invited}");
    // Nothing is granted until the person accepts, with their own password.
    let token =
        vitrine_tests::link_token(invited["link_path"].as_str().unwrap(), "invite").unwrap();
    let sign_in = json!({"email": ADMIN.0, "password": ADMIN.1});
    let (_, answer) = post_json(&base, "/api/login", sign_in.clone()).await?;
    assert_eq!(
        answer["outcome"], "signed_in",
        "one account still: {answer}"
    );
    Api::accept_invitation(&base, &token, ADMIN.1).await?;
    // Signing in now asks which account.
    let (_, answer) = post_json(&base, "/api/login", sign_in).await?;
    assert_eq!(answer["outcome"], "choose_account");
    let mut names: Vec<&str> = answer["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Boutique B", "Demo shop"]);
    // Signed in to B, the session is B's agent's: B's sites, nothing of the demo account.
    let at_b = Api::login_to(&base, ADMIN.0, ADMIN.1, Some("b-account")).await?;
    let (_, me) = at_b.call("GET", "/api/me", None).await?;
    assert_eq!(me["agent"]["account_id"], "b-account");
    assert_eq!(
        me["sites"].as_array().unwrap().len(),
        0,
        "not assigned to B's site yet"
    );
    let (_, offers) = at_b.call("GET", "/api/offers", None).await?;
    assert_eq!(offers, json!([]), "the demo account's offers are not B's");
    let mut socket = Client::agent(&base, DEMO_SITE, &at_b.cookie).await?;
    assert_eq!(socket.closed().await?.0.map(|c| c.0), Some(4403));
    Ok(())
}

#[tokio::test]
async fn an_invitation_link_lets_a_new_person_choose_a_password_once() -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let (status, invited) = admin
        .call(
            "POST",
            "/api/admin/agents",
            Some(json!({"email": "new@demo.shop", "name": "New agent", "role": "agent"})),
        )
        .await?;
    assert_eq!(status, 201, "{invited}");
    assert!(
        invited.get("password").is_none(),
        "no password exists yet: {invited}"
    );
    let token =
        vitrine_tests::link_token(invited["link_path"].as_str().unwrap(), "invite").unwrap();
    // Pending, not an agent: the address cannot sign in yet.
    let (_, agents) = admin.call("GET", "/api/admin/agents", None).await?;
    assert!(!agents.to_string().contains("new@demo.shop"), "{agents}");
    let (_, pending) = admin.call("GET", "/api/admin/invitations", None).await?;
    assert_eq!(pending[0]["email"], "new@demo.shop", "{pending}");
    // The link says what it offers; a short password is refused and loses nothing.
    let (_, view) = post_json(&base, "/api/invitation", json!({"token": token})).await?;
    assert_eq!(
        (view["account_name"].as_str(), view["has_sign_in"].as_bool()),
        (Some("Demo shop"), Some(false)),
        "{view}"
    );
    assert!(Api::accept_invitation(&base, &token, "short")
        .await
        .is_err());
    let (newbie, agent) = Api::accept_invitation(&base, &token, "a password of my own").await?;
    assert_eq!(agent["email"], "new@demo.shop");
    let (status, _) = newbie.call("GET", "/api/canned", None).await?;
    assert_eq!(status, 200, "a full session at once");
    // Used once: the link is dead, the chosen password signs in.
    assert!(Api::accept_invitation(&base, &token, "another password!")
        .await
        .is_err());
    Api::login(&base, "new@demo.shop", "a password of my own").await?;
    let (_, pending) = admin.call("GET", "/api/admin/invitations", None).await?;
    assert_eq!(pending, json!([]));
    // A withdrawn invitation's link is dead too.
    let (_, invited) = admin
        .call(
            "POST",
            "/api/admin/agents",
            Some(json!({"email": "later@demo.shop", "name": "Later", "role": "agent"})),
        )
        .await?;
    let token =
        vitrine_tests::link_token(invited["link_path"].as_str().unwrap(), "invite").unwrap();
    let (status, _) = admin
        .call("DELETE", "/api/admin/invitations/later@demo.shop", None)
        .await?;
    assert_eq!(status, 204);
    assert!(
        Api::accept_invitation(&base, &token, "a password of my own")
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_with_retry_after() -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let http = reqwest::Client::new();
    let attempt = |password: &'static str| {
        http.post(format!("{base}/api/login"))
            .json(&json!({"email": ADMIN.0, "password": password}))
            .send()
    };
    for _ in 0..10 {
        assert_eq!(attempt("guess").await?.status(), 401);
    }
    // Even the right password waits now, and the answer says how long.
    let res = attempt(ADMIN.1).await?;
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let body: Value = res.json().await?;
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // Another person (same address, far below its own limit) is not held back.
    assert!(login(&base, "agent@demo.shop", "vitrine-demo")
        .await
        .is_ok());
    Ok(())
}

#[tokio::test]
async fn one_address_cannot_hold_hundreds_of_sockets() -> Result<()> {
    let (_server, base) = common::start_with(|c| c.sockets_per_address = 5).await?;
    let mut open = Vec::new();
    for i in 0..5 {
        let frame = hello(
            DEMO_SITE,
            &format!("visitor-cap-{i:04}"),
            "visit-00000001",
            1,
            "https://shop.example/",
            "Shop",
        );
        open.push(welcomed(&base, &frame).await?.0);
    }
    let mut sixth = Client::visitor(&base, DEMO_SITE).await?;
    // 4429, as documented (was 1013).
    assert_eq!(sixth.closed().await?.0.map(|c| c.0), Some(4429));
    // One closes: a place is free again.
    open.pop().unwrap().close().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let frame = hello(
        DEMO_SITE,
        "visitor-cap-9999",
        "visit-00000001",
        1,
        "https://shop.example/",
        "Shop",
    );
    welcomed(&base, &frame).await?;
    Ok(())
}

async fn metric(server: &vitrine_server::Running, name: &str) -> Result<f64> {
    let text = reqwest::get(format!("http://{}/metrics", server.metrics_addr))
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .context("no such metric")?
        .trim()
        .parse()
        .context("not a number")
}

#[tokio::test]
async fn unknown_site_keys_are_never_cached_and_start_no_hub() -> Result<()> {
    let (server, base) = common::start_with(|_| {}).await?;
    for i in 0..200 {
        let key = if i % 10 == 0 {
            "k".repeat(8_000) // not even the form of a key
        } else {
            format!("unknown-site-{i:05}")
        };
        let mut socket = Client::visitor(&base, &key).await?;
        assert_eq!(socket.closed().await?.0.map(|c| c.0), Some(4404));
    }
    assert_eq!(metric(&server, "vitrine_cached_sites").await?, 0.0);
    assert_eq!(metric(&server, "vitrine_hubs").await?, 0.0);
    Ok(())
}

#[tokio::test]
async fn new_conversations_from_one_address_are_bounded() -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let mut refused = 0;
    for i in 0..7 {
        let frame = hello(
            DEMO_SITE,
            &format!("visitor-open-{i:04}"),
            "visit-00000001",
            1,
            "https://shop.example/",
            "Shop",
        );
        let (mut v, _) = welcomed(&base, &frame).await?;
        v.send(&visitor_message(&format!("m-open-{i:06}"), "hi"))
            .await?;
        let answer = v
            .wait_for("ack or error", |f| {
                f["type"] == "message_ack" || f["type"] == "error"
            })
            .await?;
        if answer["code"] == "rate_limited" {
            refused += 1;
        }
    }
    assert_eq!(refused, 2, "five at once from one address");
    Ok(())
}

#[tokio::test]
async fn an_acknowledged_first_message_survives_a_crash_with_its_conversation() -> Result<()> {
    let data_dir = common::temp_data_dir();
    for round in 0..3 {
        let (server, base) = common::start_with(|c| c.data_dir = data_dir.clone()).await?;
        let frame = hello(
            DEMO_SITE,
            &format!("visitor-crash-{round:04}"),
            "visit-00000001",
            1,
            "https://shop.example/",
            "Shop",
        );
        let (mut v, _) = welcomed(&base, &frame).await?;
        v.send(&visitor_message(
            &format!("m-crash-{round:05}"),
            "first words",
        ))
        .await?;
        v.wait_for("ack", is_type("message_ack")).await?;
        // Killed right after the acknowledgement.
        server.abort();
    }
    let (_server, base) = common::start_with(|c| c.data_dir = data_dir.clone()).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    for round in 0..3 {
        let (status, found) = admin
            .call(
                "GET",
                &format!("/api/conversations?visitor=visitor-crash-{round:04}"),
                None,
            )
            .await?;
        assert_eq!(status, 200);
        let found = found.as_array().unwrap();
        assert_eq!(found.len(), 1, "round {round}: {found:?}");
        let id = found[0]["conversation_id"].as_str().unwrap();
        let (_, page) = admin
            .call(
                "GET",
                &format!("/api/sites/{DEMO_SITE}/conversations/{id}/messages"),
                None,
            )
            .await?;
        let ids: Vec<&str> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["client_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [format!("m-crash-{round:05}")], "exactly once");
    }
    Ok(())
}

#[tokio::test]
async fn the_web_surface_refuses_cross_origin_writes_framing_and_public_metrics() -> Result<()> {
    let (server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let http = reqwest::Client::new();
    let import = |origin: &str| {
        http.post(format!("{base}/api/products/import"))
            .header("cookie", &admin.cookie)
            .header("origin", origin)
            .header("content-type", "text/plain")
            .body("name,url\nPlanted,https://evil.example/x\n")
            .send()
    };
    // A page of the shop (same site, other origin) cannot write with the agent's cookie.
    let shop = format!("http://{}", server.demo_addr);
    assert_eq!(import(&shop).await?.status(), 403);
    assert_eq!(import(&base).await?.status(), 200, "the portal itself can");
    let upload = http
        .post(format!("{base}/api/uploads"))
        .header("cookie", &admin.cookie)
        .header("origin", "https://evil.example")
        .body(b"\x89PNG\r\n\x1a\n0000".to_vec())
        .send()
        .await?;
    assert_eq!(upload.status(), 403);

    let portal = reqwest::get(format!("{base}/portal/")).await?;
    let csp = portal.headers()["content-security-policy"]
        .to_str()?
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(portal.headers()["x-frame-options"], "DENY");

    assert_eq!(reqwest::get(format!("{base}/metrics")).await?.status(), 404);
    assert!(
        metric(&server, "vitrine_hubs").await.is_ok(),
        "on the operator listener"
    );
    Ok(())
}

/// A hand-made client: upgrade, then one masked text frame of `len` bytes.
fn raw_socket_sending(addr: std::net::SocketAddr, len: usize) -> Result<std::net::TcpStream> {
    let mut tcp = std::net::TcpStream::connect(addr)?;
    write!(
        tcp,
        "GET /ws/visitor?site={DEMO_SITE} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut frame = vec![0x81];
    if len <= u16::MAX as usize {
        frame.push(0x80 | 126);
        frame.extend((len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend((len as u64).to_be_bytes());
    }
    let mask = [1u8, 2, 3, 4];
    frame.extend(mask);
    frame.extend((0..len).map(|i| b'x' ^ mask[i % 4]));
    tcp.write_all(&frame)?;
    Ok(tcp)
}

#[tokio::test]
async fn a_socket_the_server_closed_loses_its_tcp_connection_even_if_the_client_never_answers(
) -> Result<()> {
    let (server, _base) = common::start_with(|_| {}).await?;
    let addr = server.addr;
    let (ended_after, got) = tokio::task::spawn_blocking(move || -> Result<(Duration, Vec<u8>)> {
        // Oversize: the hub answers, closes (1009), and waits for the close handshake the
        // client never sends.
        let mut tcp = raw_socket_sending(addr, 20_000)?;
        tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
        let started = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf) {
                Ok(0) => return Ok((started.elapsed(), got)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => anyhow::bail!("read failed after {:?}: {e}", started.elapsed()),
            }
        }
    })
    .await??;
    assert!(
        String::from_utf8_lossy(&got).contains("oversize"),
        "the error came first"
    );
    assert!(
        ended_after < Duration::from_secs(8),
        "TCP closed {ended_after:?} after the close"
    );
    Ok(())
}

#[tokio::test]
async fn messages_far_above_the_protocols_limit_are_refused_before_they_are_buffered() -> Result<()>
{
    let (server, base) = common::start_with(|_| {}).await?;
    let addr = server.addr;
    let (ended, got) = tokio::task::spawn_blocking(move || -> Result<(bool, Vec<u8>)> {
        // 200 KB: a transport that buffers messages up to its library default (16 MiB)
        // would read it all and answer `oversize`; ours stops at twice the protocol's
        // 16 KiB and drops the socket.
        let mut tcp = raw_socket_sending(addr, 200_000)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
        loop {
            match tcp.read(&mut buf) {
                Ok(0) => return Ok((true, got)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                // Reset (the server dropped it with our bytes unread) is an end too; a
                // timeout is not.
                Err(e) => {
                    let timeout = matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    );
                    return Ok((!timeout, got));
                }
            }
        }
    })
    .await??;
    assert!(ended, "the connection ends");
    assert!(
        !String::from_utf8_lossy(&got).contains("oversize"),
        "not read to the end first"
    );
    let frame = hello(
        DEMO_SITE,
        "visitor-after-0001",
        "visit-00000001",
        1,
        "https://shop.example/",
        "Shop",
    );
    welcomed(&base, &frame).await?;
    Ok(())
}
