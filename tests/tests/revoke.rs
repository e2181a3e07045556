//! Revocation reaches open sockets at once, on both targets: an agent removed or taken off
//! a site, a session signed out or ended by a password change. At the edge the API and the
//! hubs are apart, so this proves the API's signed change notice reaches the Worker's site
//! objects (and that the API answers only once they applied it).

mod common;

use anyhow::Result;
use serde_json::{json, Value};
use vitrine_tests::{login, Api, Client};

fn is_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |f| f["type"] == t
}

#[tokio::test]
async fn an_agent_removed_or_unassigned_is_cut_off_at_once() -> Result<()> {
    let s = common::stack().await?;
    let admin = Api::login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut people = Vec::new();
    for n in 1..=2 {
        // Unique per test: at the edge every test's account shares one table.
        let email = format!("temp-{n}-{}@demo.shop", s.site);
        let (api, id) = admin
            .invite_and_accept(&email, "Temp", "agent", "a password of my own")
            .await?;
        people.push((api, id));
    }
    let assign = |consultants: Vec<&str>| json!({"name": "Demo shop", "active": true, "allowed_origins": [], "consultants": consultants});
    let ids: Vec<&str> = people.iter().map(|p| p.1.as_str()).collect();
    let site_path = format!("/api/admin/sites/{}", s.site);
    let (status, _) = admin
        .call("PUT", &site_path, Some(assign(ids.clone())))
        .await?;
    assert_eq!(status, 200);
    let mut sockets = Vec::new();
    let mut cookies = Vec::new();
    for (api, _) in &people {
        let cookie = api.cookie.clone();
        let mut socket = Client::agent(&s.hub, &s.site, &cookie).await?;
        socket.wait_for("snapshot", is_type("snapshot")).await?;
        sockets.push(socket);
        cookies.push(cookie);
    }
    // The first is deleted: their socket closes now (4401), their session is over.
    let (status, _) = admin
        .call("DELETE", &format!("/api/admin/agents/{}", ids[0]), None)
        .await?;
    assert_eq!(status, 204);
    assert_eq!(sockets[0].closed().await?.0.map(|c| c.0), Some(4401));
    let me = reqwest::Client::new()
        .get(format!("{}/api/me", s.api))
        .header("cookie", &cookies[0])
        .send()
        .await?;
    assert_eq!(me.status(), 401);
    // The second is taken off the site: their socket closes (4403), their session stays.
    admin.call("PUT", &site_path, Some(assign(vec![]))).await?;
    assert_eq!(sockets[1].closed().await?.0.map(|c| c.0), Some(4403));
    // And cannot come back on it.
    let mut again = Client::agent(&s.hub, &s.site, &cookies[1]).await?;
    assert_eq!(again.closed().await?.0.map(|c| c.0), Some(4403));
    Ok(())
}

#[tokio::test]
async fn signing_out_or_changing_the_password_closes_the_sockets_of_the_sessions_it_ends(
) -> Result<()> {
    let s = common::stack().await?;
    let (email, password) = &s.admin;
    // The admin is signed in on a laptop (two tabs) and on a phone.
    let laptop = Api::login(&s.api, email, password).await?;
    let phone = Api::login(&s.api, email, password).await?;
    let mut sockets = Vec::new();
    for cookie in [&laptop.cookie, &laptop.cookie, &phone.cookie] {
        let mut socket = Client::agent(&s.hub, &s.site, cookie).await?;
        socket.wait_for("snapshot", is_type("snapshot")).await?;
        sockets.push(socket);
    }
    // A password change on the laptop ends the phone's session: its socket closes now.
    let change = json!({"current": password, "new": "a-new-long-password"});
    let (status, body) = laptop
        .call("POST", "/api/me/password", Some(change))
        .await?;
    assert_eq!(status, 204, "{body}");
    let mut phone_socket = sockets.pop().unwrap();
    assert_eq!(phone_socket.closed().await?.0.map(|c| c.0), Some(4401));
    // Signing out on the laptop closes both its tabs (which were open until now).
    let (status, _) = laptop.call("POST", "/api/logout", Some(json!({}))).await?;
    assert_eq!(status, 204);
    for socket in &mut sockets {
        assert_eq!(socket.closed().await?.0.map(|c| c.0), Some(4401));
    }
    // The ended session opens nothing new.
    let mut again = Client::agent(&s.hub, &s.site, &laptop.cookie).await?;
    assert_eq!(again.closed().await?.0.map(|c| c.0), Some(4401));
    Ok(())
}

#[tokio::test]
async fn the_edge_refuses_change_notices_it_cannot_verify() -> Result<()> {
    let Some(edge) = common::edge() else {
        return Ok(()); // locally the API applies changes in process: no notices
    };
    let s = common::stack().await?;
    let url = format!("{}/internal/changed", edge.url);
    let notice = |at: u64| {
        json!({"change": {"kind": "site", "site_key": s.site}, "sites": [s.site], "at": at})
            .to_string()
    };
    let now = vitrine_core::clock::now_ms();
    let key = std::env::var("VITRINE_EDGE_CHANGES_KEY")?;
    let http = reqwest::Client::new();
    let post = |body: String, signature: String| {
        http.post(&url)
            .header(vitrine_core::media_key::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
    };
    const CHANGE: vitrine_core::media_key::Purpose = vitrine_core::media_key::Purpose::ChangeNotice;
    let forged = vitrine_core::media_key::sign_body(b"not the key", CHANGE, notice(now).as_bytes());
    assert_eq!(post(notice(now), forged).await?.status(), 401);
    let stale = notice(now - 10 * 60_000);
    let signed = vitrine_core::media_key::sign_body(key.as_bytes(), CHANGE, stale.as_bytes());
    assert_eq!(post(stale, signed).await?.status(), 400);
    let fresh = notice(now);
    let signed = vitrine_core::media_key::sign_body(key.as_bytes(), CHANGE, fresh.as_bytes());
    assert_eq!(post(fresh, signed).await?.status(), 204);
    Ok(())
}

/// At the edge a change notice travels over the network and can be lost (the API gives up
/// after a few tries). The site's object reads its agents again every few minutes; the
/// operator's `/internal/recheck` runs that now. A session ended without a notice (deleted
/// straight from the table) is then closed all the same. Locally there is no network in
/// between: the API applies every change in-process (the tests above).
#[tokio::test]
async fn at_the_edge_a_lost_change_notice_is_caught_up_by_the_periodic_recheck() -> Result<()> {
    let s = common::stack().await?;
    let Some(edge) = common::edge() else {
        eprintln!("skipped: the local server hears every change in-process");
        return Ok(());
    };
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut socket = Client::agent(&s.hub, &s.site, &cookie).await?;
    socket.wait_for("snapshot", is_type("snapshot")).await?;
    let token =
        vitrine_core::store::agents::token_from_cookie_header(&cookie).expect("a session cookie");
    let endpoint = std::env::var("VITRINE_DYNAMODB_ENDPOINT")?;
    let table = vitrine_store::DynamoStore::connect_local(&endpoint, s.table()).await;
    vitrine_core::store::agents::delete_session(&table, token).await?;
    let recheck = reqwest::Client::new()
        .post(format!("{}/internal/recheck?site={}", edge.url, s.site))
        .bearer_auth(&edge.operator_token)
        .send()
        .await?;
    assert!(recheck.status().is_success(), "{}", recheck.status());
    assert_eq!(socket.closed().await?.0.map(|c| c.0), Some(4401));
    Ok(())
}
