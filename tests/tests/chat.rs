//! Chat integration: real WebSockets and HTTP against the real local server (SQLite in a
//! temporary directory). Nothing lost across killed connections and a server restart;
//! tenants and chats kept apart; bad input refused with clear errors.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use vitrine_core::store::accounts::{self, Site};
use vitrine_tests::{agent_message, hello_resuming, login, visitor_message, Api, Client};

mod common;

use common::Stack;

async fn agent(s: &Stack, cookie: &str) -> Result<Client> {
    let mut a = Client::agent(&s.hub, &s.site, cookie).await?;
    let snapshot = a.next().await?;
    assert_eq!(snapshot["type"], "snapshot");
    Ok(a)
}

async fn visitor(s: &Stack, visitor_id: &str, after: u64) -> Result<Client> {
    let mut v = Client::visitor(&s.hub, &s.site).await?;
    v.send(&hello_resuming(
        &s.site,
        visitor_id,
        "visit-00000001",
        after,
    ))
    .await?;
    Ok(v)
}

fn is_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |f| f["type"] == t
}

/// Reads the visitor's frames until every client ID in `ids` is acknowledged.
async fn acked(v: &mut Client, ids: &[&str]) -> Result<HashMap<String, u64>> {
    let mut seen = HashMap::new();
    while ids.iter().any(|id| !seen.contains_key(*id)) {
        let f = v.next().await?;
        if f["type"] == "message_ack" {
            seen.insert(
                f["client_id"].as_str().unwrap().to_string(),
                f["seq"].as_u64().unwrap(),
            );
        }
    }
    Ok(seen)
}

#[tokio::test]
async fn nothing_is_lost_or_duplicated_across_dropped_connections_and_a_restart() -> Result<()> {
    let s = common::stack().await?;
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut ada = agent(&s, &cookie).await?;
    let mut v = visitor(&s, "visitor-b2-0001", 0).await?;
    v.wait_for("welcome", is_type("welcome")).await?;

    // 1. The visitor writes; the agent takes the conversation and answers.
    v.send(&visitor_message("v-msg-0001", "Hello")).await?;
    acked(&mut v, &["v-msg-0001"]).await?;
    let pending = ada
        .wait_for("pending conversation", |f| {
            f["type"] == "conversation_changed" && f["conversation"]["status"] == "pending"
        })
        .await?;
    let id = pending["conversation"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    ada.send(&json!({"type": "take", "conversation_id": id}))
        .await?;
    ada.send(&agent_message(&id, "a-msg-0001", "Hi, how can I help?"))
        .await?;
    ada.wait_for("ack", |f| {
        f["type"] == "message_ack" && f["client_id"] == "a-msg-0001"
    })
    .await?;

    // 2. The visitor sends two messages and its connection dies before any ack is read
    //    (a page navigation, or the network); it reconnects and resends both.
    v.send(&visitor_message("v-msg-0002", "Is the lamp in stock?"))
        .await?;
    v.send(&visitor_message("v-msg-0003", "In brass?")).await?;
    drop(v);
    let mut v = visitor(&s, "visitor-b2-0001", 1).await?;
    let resumed = v
        .wait_for("resumed conversation", is_type("conversation"))
        .await?;
    assert_eq!(resumed["conversation"]["conversation_id"], id.as_str());
    assert!(resumed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["seq"].as_u64().unwrap() > 1));
    v.send(&visitor_message("v-msg-0002", "Is the lamp in stock?"))
        .await?;
    v.send(&visitor_message("v-msg-0003", "In brass?")).await?;
    acked(&mut v, &["v-msg-0002", "v-msg-0003"]).await?;

    // 3. The agent sends, and the whole server dies before the agent reads the ack.
    ada.send(&agent_message(&id, "a-msg-0002", "Yes, 3 left in brass."))
        .await?;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let s = s.restart().await?;
    drop(ada);
    drop(v);

    // 4. The hub starts again from the store; both sides reconnect and resend what was
    //    unacknowledged.
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut ada = Client::agent(&s.hub, &s.site, &cookie).await?;
    let snapshot = ada.wait_for("snapshot", is_type("snapshot")).await?;
    let restored = snapshot["conversations"].as_array().unwrap();
    assert_eq!(
        restored.len(),
        1,
        "the active conversation survives the restart"
    );
    assert_eq!(restored[0]["status"], "active");
    ada.send(&agent_message(&id, "a-msg-0002", "Yes, 3 left in brass."))
        .await?;
    ada.wait_for("ack after restart", |f| {
        f["type"] == "message_ack" && f["client_id"] == "a-msg-0002"
    })
    .await?;
    ada.send(&agent_message(&id, "a-msg-0003", "Shall I reserve one?"))
        .await?;
    ada.wait_for("ack", |f| {
        f["type"] == "message_ack" && f["client_id"] == "a-msg-0003"
    })
    .await?;
    let mut v = visitor(&s, "visitor-b2-0001", 3).await?;
    v.send(&visitor_message("v-msg-0003", "In brass?")).await?; // a late duplicate
    v.send(&visitor_message("v-msg-0004", "Yes please!"))
        .await?;
    acked(&mut v, &["v-msg-0003", "v-msg-0004"]).await?;

    // 5. The store holds each message exactly once, numbered in order.
    let api = Api::login(&s.api, &s.admin.0, &s.admin.1).await?;
    let (status, page) = api
        .call(
            "GET",
            &format!("/api/sites/{}/conversations/{id}/messages", s.site),
            None,
        )
        .await?;
    assert_eq!(status, 200, "{page}");
    let messages = page["messages"].as_array().unwrap();
    let seqs: Vec<u64> = messages
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "ordered: {seqs:?}");
    let texts: Vec<&str> = messages
        .iter()
        .filter(|m| m["author"]["kind"] != "system")
        .map(|m| m["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "v-msg-0001",
            "a-msg-0001",
            "v-msg-0002",
            "v-msg-0003",
            "a-msg-0002",
            "a-msg-0003",
            "v-msg-0004"
        ],
        "every message once, in the order it was sent"
    );
    assert_eq!(messages[0]["page_url"], "https://shop.example/lamp", "C5");
    Ok(())
}

#[tokio::test]
async fn agents_only_reach_the_chats_they_work_on() -> Result<()> {
    let s = common::stack().await?;
    let admin = Api::login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut ada = agent(&s, &admin.cookie).await?;
    let mut v = visitor(&s, "visitor-sec-0001", 0).await?;
    v.send(&visitor_message("v-sec-0001", "private question"))
        .await?;
    let pending = ada
        .wait_for("pending", |f| f["type"] == "conversation_changed")
        .await?;
    let id = pending["conversation"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();

    // A second chat of the same account; an agent assigned only to it.
    let (status, other) = admin
        .call(
            "POST",
            "/api/admin/sites",
            Some(json!({"name": "Second shop"})),
        )
        .await?;
    assert_eq!(status, 201, "{other}");
    let other_key = other["site_key"].as_str().unwrap().to_string();
    let (bo, bo_id) = admin
        .invite_and_accept("bo@demo.shop", "Bo", "agent", "bo's own password")
        .await?;
    let (status, body) = admin
        .call(
            "PUT",
            &format!("/api/admin/sites/{other_key}"),
            Some(json!({"name": "Second shop", "consultants": [bo_id]})),
        )
        .await?;
    assert_eq!(status, 200, "{body}");

    // Bo cannot open demo-shop's socket, nor read its conversation, nor list it.
    let mut socket = Client::agent(&s.hub, &s.site, &bo.cookie).await?;
    assert_eq!(socket.closed().await?.0.map(|c| c.0), Some(4403));
    let (status, _) = bo
        .call(
            "GET",
            &format!("/api/sites/{}/conversations/{id}/messages", s.site),
            None,
        )
        .await?;
    assert_eq!(status, 404);
    let (status, _) = bo
        .call("GET", &format!("/api/conversations?site={}", s.site), None)
        .await?;
    assert_eq!(status, 404);
    let (_, mine) = bo.call("GET", "/api/me", None).await?;
    assert_eq!(
        mine["sites"].as_array().unwrap().len(),
        1,
        "Bo sees only the chat assigned to him"
    );
    // …and agents are not admins.
    let (status, _) = bo.call("GET", "/api/admin/sites", None).await?;
    assert_eq!(status, 403);
    let (status, _) = bo
        .call(
            "POST",
            "/api/offers",
            Some(json!({"title": "x", "text": "y", "link_url": "https://a.example"})),
        )
        .await?;
    assert_eq!(status, 403);

    // Another account's agent: refused on the socket, "not found" over HTTP.
    accounts::put_site(
        &s.server.store,
        &Site {
            site_key: "tenant-b".into(),
            account_id: "account-b".into(),
            name: "B".into(),
            active: true,
            allowed_origins: vec![],
            consultants: vec![],
            calls_enabled: true,
            language: None,
            typing_preview: true,
            cobrowse_consent: true,
        },
    )
    .await?;
    let (status, _) = admin
        .call(
            "GET",
            "/api/sites/tenant-b/conversations/anything-123/messages",
            None,
        )
        .await?;
    assert_eq!(status, 404);

    // A visitor only ever gets their own conversation: another visitor ID sees nothing.
    let mut stranger = visitor(&s, "visitor-sec-0002", 99).await?;
    let welcome = stranger.wait_for("welcome", is_type("welcome")).await?;
    assert_eq!(welcome["has_conversation"], false);
    stranger.send(&json!({"type": "ping"})).await?;
    let next = stranger.next().await?;
    assert_eq!(
        next["type"], "pong",
        "no conversation frame for a visitor who has none"
    );
    Ok(())
}

#[tokio::test]
async fn bad_chat_input_is_refused_with_clear_errors() -> Result<()> {
    // Chat images in a real S3-compatible bucket (moto, started by `cargo xtask test`).
    let endpoint = std::env::var("VITRINE_S3_ENDPOINT")
        .context("VITRINE_S3_ENDPOINT is not set: run the tests with `cargo xtask test`")?;
    let bucket = format!("chat-{}", uuid::Uuid::new_v4());
    let s = common::stack_with(|c| {
        c.s3_bucket = Some(bucket.clone());
        c.s3_endpoint = Some(endpoint);
    })
    .await?;
    let admin = Api::login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut ada = agent(&s, &admin.cookie).await?;
    let mut v = visitor(&s, "visitor-bad-0001", 0).await?;
    v.wait_for("welcome", is_type("welcome")).await?;

    // Oversize text, a javascript: page URL, an empty message.
    v.send(&visitor_message("v-bad-0001", &"x".repeat(4001)))
        .await?;
    let e = v.wait_for("error", is_type("error")).await?;
    assert_eq!(e["code"], "invalid_field");
    assert!(e["message"].as_str().unwrap().contains("4000"));
    v.send(&json!({"type": "send_message", "client_id": "v-bad-0002", "text": "hi", "page_url": "javascript:alert(1)"})).await?;
    assert_eq!(
        v.wait_for("error", is_type("error")).await?["code"],
        "invalid_field"
    );
    v.send(&visitor_message("v-bad-0003", "   ")).await?;
    assert_eq!(
        v.wait_for("error", is_type("error")).await?["code"],
        "invalid_field"
    );

    // A real message, then the agent tries a javascript: product link and an event body.
    v.send(&visitor_message(
        "v-bad-0004",
        "<img src=x onerror=alert(1)>",
    ))
    .await?;
    // Messages are delivered first, then the conversation's new summary.
    let m = ada.wait_for("message", is_type("message")).await?;
    let pending = ada
        .wait_for("pending", |f| f["type"] == "conversation_changed")
        .await?;
    let id = pending["conversation"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        m["message"]["body"]["text"], "<img src=x onerror=alert(1)>",
        "stored and relayed as text"
    );
    ada.send(&json!({"type": "send_message", "conversation_id": id, "client_id": "a-bad-0001",
        "body": {"kind": "product", "name": "Lamp", "brand": "", "price": "", "image_url": null, "url": "javascript:alert(1)"}})).await?;
    assert_eq!(
        ada.wait_for("error", is_type("error")).await?["code"],
        "invalid_field"
    );
    ada.send(
        &json!({"type": "send_message", "conversation_id": id, "client_id": "a-bad-0002",
        "body": {"kind": "event", "text": "fake system note"}}),
    )
    .await?;
    assert_eq!(
        ada.wait_for("error", is_type("error")).await?["code"],
        "forbidden"
    );

    // A flood of messages from one visitor is cut off with rate_limited.
    for i in 0..15 {
        v.send(&visitor_message(&format!("v-flood-{i:04}"), "spam"))
            .await?;
    }
    v.wait_for("rate limit", |f| {
        f["type"] == "error" && f["code"] == "rate_limited"
    })
    .await?;

    // Uploads: only images, checked by content.
    let (status, body) = admin
        .raw(
            "/api/uploads",
            "image/png",
            b"<script>alert(1)</script>".to_vec(),
        )
        .await?;
    assert_eq!(status, 415, "{body}");
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let (status, body) = admin.raw("/api/uploads", "image/png", png).await?;
    assert_eq!(status, 200, "{body}");
    let blob_id = body["blob_id"].as_str().unwrap().to_string();
    let res = reqwest::get(format!("{}/blobs/{blob_id}", s.api)).await?;
    assert_eq!(res.headers()["content-type"], "image/png");
    // It lives in the bucket, not in the data directory.
    let s3 = vitrine_store::S3Blobs::connect_local(&std::env::var("VITRINE_S3_ENDPOINT")?, &bucket)
        .await;
    use vitrine_core::store::blobs::BlobStore;
    assert_eq!(
        s3.get(&blob_id).await?.map(|b| b.content_type).as_deref(),
        Some("image/png")
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        reqwest::get(format!("{}/blobs/../../etc/passwd", s.api))
            .await?
            .status()
            .as_u16(),
        404
    );

    // Catalogue import: a bad row is named and nothing is imported.
    let (status, body) = admin
        .raw(
            "/api/products/import",
            "text/plain",
            b"name,url\nGood,https://a.example/x\nBad,javascript:alert(1)\n".to_vec(),
        )
        .await?;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("product 2"),
        "{body}"
    );
    let (_, gallery) = admin.call("GET", "/api/products?q=good", None).await?;
    assert!(gallery["products"].as_array().unwrap().is_empty());
    let (status, body) = admin
        .raw("/api/products/import", "text/plain", b"id,name,brand,category,price,url\nlamp-x,Good lamp,Lumo,Lighting,10 EUR,https://a.example/x\n".to_vec())
        .await?;
    assert_eq!((status, body["imported"].as_u64()), (200, Some(1)));
    let (_, gallery) = admin
        .call("GET", "/api/products?q=good&brand=lumo", None)
        .await?;
    assert_eq!(gallery["products"][0]["product_id"], "lamp-x");
    Ok(())
}

#[tokio::test]
async fn a_visitor_with_a_pending_message_is_answered_after_coming_back() -> Result<()> {
    // Leave a message while nobody is available; an agent answers it later (C1).
    let s = common::stack().await?;
    let mut v = visitor(&s, "visitor-later-01", 0).await?;
    let welcome = v.wait_for("welcome", is_type("welcome")).await?;
    assert_eq!(welcome["agents_available"], false);
    v.send(&json!({"type": "send_message", "client_id": "v-later-0001", "text": "Call me back about the sofa",
        "page_url": "https://shop.example/sofa", "contact": {"name": "Zoé", "email": "zoe@mail.example"}})).await?;
    acked(&mut v, &["v-later-0001"]).await?;
    v.close().await?;

    let admin = Api::login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut ada = Client::agent(&s.hub, &s.site, &admin.cookie).await?;
    let snapshot = ada.wait_for("snapshot", is_type("snapshot")).await?;
    let c = &snapshot["conversations"][0];
    assert_eq!(
        (c["status"].as_str(), c["contact"]["name"].as_str()),
        (Some("pending"), Some("Zoé"))
    );
    let id = c["conversation_id"].as_str().unwrap().to_string();
    ada.send(&agent_message(
        &id,
        "a-later-0001",
        "Hello Zoé, here is the answer",
    ))
    .await?;
    ada.wait_for("ack", |f| f["type"] == "message_ack").await?;
    // Searchable by the contact's e-mail once closed.
    ada.send(&json!({"type": "end", "conversation_id": id}))
        .await?;
    ada.wait_for("closed", |f| {
        f["type"] == "conversation_changed" && f["conversation"]["status"] == "closed"
    })
    .await?;
    // The hub announces the close before its writer has stored it: search is eventually
    // consistent, so ask again (bounded) until the write has landed.
    let mut found = Value::Null;
    for _ in 0..50 {
        found = admin
            .call("GET", "/api/conversations?status=closed&q=ZOE@mail", None)
            .await?
            .1;
        if found.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if found.as_array().map(Vec::len) != Some(1) {
        bail!("search by e-mail should find the conversation: {found}");
    }
    // The visitor comes back later and sees the answer in its (now closed) conversation.
    let mut v = visitor(&s, "visitor-later-01", 0).await?;
    let welcome = v.wait_for("welcome", is_type("welcome")).await?;
    assert_eq!(
        welcome["has_conversation"], false,
        "it was closed meanwhile"
    );
    Ok(())
}
