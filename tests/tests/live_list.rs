//! Integration: real WebSocket and HTTP clients against the real local server (in process,
//! on 127.0.0.1 with ephemeral ports, SQLite in a temporary directory).

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{json, Value};
use vitrine_core::store::accounts::{self, Site};
use vitrine_core::store::agents::{self, Agent, Role};
use vitrine_server::{start, Config};
use vitrine_tests::{hello, login, page_view, row, Client, Closed};

const EMAIL: &str = "admin@demo.shop";
const PASSWORD: &str = "vitrine-demo";
const SITE: &str = "demo-shop";

mod common;

use common::{temp_data_dir, Stack};

fn config(data_dir: PathBuf) -> Config {
    let mut config = common::config(data_dir);
    config.offline_grace_ms = 300;
    config
}

/// The offline grace period the tests expect (the Worker is started with the same).
const GRACE_MS: u64 = 300;

async fn server() -> Result<Stack> {
    common::stack_with(|c| c.offline_grace_ms = GRACE_MS).await
}

fn is_changed_with(visitor: &str, pred: impl Fn(&Value) -> bool) -> impl Fn(&Value) -> bool {
    let visitor = visitor.to_string();
    move |f| row(f, &visitor).is_some_and(&pred)
}

#[tokio::test]
async fn visitor_appears_navigates_and_goes_offline() -> Result<()> {
    let s = server().await?;
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut agent = Client::agent(&s.hub, &s.site, &cookie).await?;
    let snapshot = agent.next().await?;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["visitors"], json!([]));

    let mut visitor = Client::visitor(&s.hub, &s.site).await?;
    visitor
        .send(&hello(
            &s.site,
            "visitor-0001",
            "visit-00000001",
            1,
            "https://shop.example/",
            "Catalogue",
        ))
        .await?;
    let welcome = visitor.next().await?;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(
        welcome["agents_available"], true,
        "the agent connected as available"
    );

    let seen = agent
        .wait_for(
            "visitor in the list",
            is_changed_with("visitor-0001", |r| r["page"]["title"] == "Catalogue"),
        )
        .await?;
    let r = row(&seen, "visitor-0001").unwrap();
    assert_eq!(r["status"], "active");
    if s.is_edge() {
        // workerd's `request.cf` (a placeholder offline), through the Worker only.
        assert!(r["location"]["country"].is_string(), "{r}");
    } else {
        assert_eq!(
            r["location"],
            json!({"country": null, "city": null}),
            "unknown locally"
        );
    }

    visitor
        .send(&page_view(2, "https://shop.example/lamp", "Aurora lamp"))
        .await?;
    agent
        .wait_for(
            "navigation",
            is_changed_with("visitor-0001", |r| {
                r["page"]["url"] == "https://shop.example/lamp" && r["page_views_this_visit"] == 2
            }),
        )
        .await?;

    visitor
        .send(&json!({"type": "activity", "state": "idle"}))
        .await?;
    agent
        .wait_for(
            "idle",
            is_changed_with("visitor-0001", |r| r["status"] == "idle"),
        )
        .await?;

    // The browsing history is in the store, for the details panel (P3).
    let details: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/sites/{}/visitors/visitor-0001",
            s.api, s.site
        ))
        .header("cookie", &cookie)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(details["visit_count"], 1);
    assert_eq!(details["page_view_count"], 2);
    assert_eq!(
        details["page_views"][0]["title"], "Aurora lamp",
        "most recent first"
    );
    assert_eq!(details["page_views"][1]["title"], "Catalogue");

    visitor.close().await?;
    agent
        .wait_for(
            "offline",
            is_changed_with("visitor-0001", |r| r["status"] == "offline"),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_navigation_within_the_grace_period_does_not_go_offline() -> Result<()> {
    let s = common::stack_with(|c| c.offline_grace_ms = 2_000).await?;
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut agent = Client::agent(&s.hub, &s.site, &cookie).await?;
    agent.next().await?;
    let mut page1 = Client::visitor(&s.hub, &s.site).await?;
    page1
        .send(&hello(
            &s.site,
            "visitor-nav1",
            "visit-nav00001",
            1,
            "https://shop.example/",
            "Catalogue",
        ))
        .await?;
    agent
        .wait_for("visitor", is_changed_with("visitor-nav1", |_| true))
        .await?;
    page1.close().await?;
    // The next page of the same visit connects, as a full page load does.
    let mut page2 = Client::visitor(&s.hub, &s.site).await?;
    page2
        .send(&hello(
            &s.site,
            "visitor-nav1",
            "visit-nav00001",
            2,
            "https://shop.example/cart",
            "Cart",
        ))
        .await?;
    let update = agent
        .wait_for(
            "next page",
            is_changed_with("visitor-nav1", |r| r["page"]["title"] == "Cart"),
        )
        .await?;
    assert_eq!(row(&update, "visitor-nav1").unwrap()["status"], "active");
    Ok(())
}

#[tokio::test]
async fn a_returning_visitor_is_recognised() -> Result<()> {
    let s = server().await?;
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut agent = Client::agent(&s.hub, &s.site, &cookie).await?;
    agent.next().await?;

    let mut first = Client::visitor(&s.hub, &s.site).await?;
    first
        .send(&hello(
            &s.site,
            "visitor-back",
            "visit-back0001",
            1,
            "https://shop.example/",
            "Catalogue",
        ))
        .await?;
    let r = agent
        .wait_for(
            "first visit counted",
            is_changed_with("visitor-back", |r| r["visit_count"] == 1),
        )
        .await?;
    assert_eq!(row(&r, "visitor-back").unwrap()["returning"], false);
    first.close().await?;

    let mut second = Client::visitor(&s.hub, &s.site).await?;
    second
        .send(&hello(
            &s.site,
            "visitor-back",
            "visit-back0002",
            1,
            "https://shop.example/",
            "Catalogue",
        ))
        .await?;
    agent
        .wait_for(
            "second visit",
            is_changed_with("visitor-back", |r| {
                r["returning"] == true && r["visit_count"] == 2
            }),
        )
        .await?;
    Ok(())
}

/// A server in its own runtime on its own thread: stopping it drops every task and socket
/// at once, as a crashed process would.
struct Isolated {
    addr: std::net::SocketAddr,
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

async fn start_isolated(config: Config) -> Isolated {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stop_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let running = rt.block_on(start(config)).unwrap();
        addr_tx.send(running.addr).unwrap();
        let _ = stop_rx.recv();
        rt.shutdown_timeout(std::time::Duration::from_secs(1));
    });
    let addr = tokio::task::spawn_blocking(move || addr_rx.recv().unwrap())
        .await
        .unwrap();
    Isolated { addr, stop, thread }
}

impl Isolated {
    async fn crash(self) {
        self.stop.send(()).unwrap();
        tokio::task::spawn_blocking(move || self.thread.join().unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_restarted_server_rebuilds_the_list_from_reconnecting_widgets() -> Result<()> {
    // A process crash is the local server's restart; the Worker's (an evicted Durable
    // Object) is in chat.rs and edge.rs, with the same suite.
    let data_dir = temp_data_dir();
    let first = start_isolated(config(data_dir.clone())).await;
    let addr = first.addr;
    let base = format!("http://{addr}");
    let mut visitor = Client::visitor(&base, SITE).await?;
    let hello_frame = hello(
        SITE,
        "visitor-rst1",
        "visit-rst00001",
        1,
        "https://shop.example/",
        "Catalogue",
    );
    visitor.send(&hello_frame).await?;
    visitor.next().await?;
    first.crash().await;
    assert!(
        matches!(visitor.closed().await?, Closed(_)),
        "the crash drops the socket"
    );

    // Same data directory, same address: what a restart looks like to the widget.
    let mut config = config(data_dir);
    config.bind = addr;
    let _second = start(config).await?;
    let cookie = login(&base, EMAIL, PASSWORD).await?;
    let mut agent = Client::agent(&base, SITE, &cookie).await?;
    agent.next().await?;
    let mut visitor = Client::visitor(&base, SITE).await?;
    visitor.send(&hello_frame).await?; // the widget resends its state
    agent
        .wait_for(
            "rebuilt row",
            is_changed_with("visitor-rst1", |r| r["visit_count"] == 1),
        )
        .await?;
    let details: Value = reqwest::Client::new()
        .get(format!("{base}/api/sites/{SITE}/visitors/visitor-rst1"))
        .header("cookie", &cookie)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        details["page_view_count"], 1,
        "the resent hello wrote nothing twice"
    );
    assert_eq!(details["visit_count"], 1);
    Ok(())
}

#[tokio::test]
async fn availability_reaches_the_widgets() -> Result<()> {
    let s = server().await?;
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut visitor = Client::visitor(&s.hub, &s.site).await?;
    visitor
        .send(&hello(
            &s.site,
            "visitor-avl1",
            "visit-avl00001",
            1,
            "https://shop.example/",
            "Catalogue",
        ))
        .await?;
    assert_eq!(
        visitor.next().await?["agents_available"],
        false,
        "no agent yet"
    );

    let mut agent = Client::agent(&s.hub, &s.site, &cookie).await?;
    agent.next().await?;
    visitor
        .wait_for("available", |f| {
            f["type"] == "availability" && f["agents_available"] == true
        })
        .await?;
    agent
        .send(&json!({"type": "set_availability", "available": false}))
        .await?;
    visitor
        .wait_for("away", |f| {
            f["type"] == "availability" && f["agents_available"] == false
        })
        .await?;
    let own = agent
        .wait_for("own availability", |f| {
            f["type"] == "availability" && f["me"] == false
        })
        .await?;
    assert_eq!(own["site"], false);
    assert_eq!(own["agents_online"], 1);
    Ok(())
}

#[tokio::test]
async fn bad_frames_get_clear_errors_and_hurt_nobody_else() -> Result<()> {
    let s = server().await?;
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut agent = Client::agent(&s.hub, &s.site, &cookie).await?;
    agent.next().await?;
    let mut good = Client::visitor(&s.hub, &s.site).await?;
    good.send(&hello(
        &s.site,
        "visitor-good",
        "visit-good0001",
        1,
        "https://shop.example/",
        "Catalogue",
    ))
    .await?;
    good.next().await?;

    let mut bad = Client::visitor(&s.hub, &s.site).await?;
    let error_code = |f: &Value| f["type"] == "error";

    bad.send(&json!({"type": "page_view", "seq": 1, "url": "https://a.example/", "title": "x"}))
        .await?;
    assert_eq!(
        bad.wait_for("error", error_code).await?["code"],
        "hello_required"
    );

    bad.send_text("{not json".into()).await?;
    assert_eq!(
        bad.wait_for("error", error_code).await?["code"],
        "bad_frame"
    );

    bad.send(&json!({"type": "warp_drive"})).await?;
    assert_eq!(
        bad.wait_for("error", error_code).await?["code"],
        "unknown_type"
    );

    bad.send(&json!({"type": "set_availability", "available": true}))
        .await?;
    let forbidden = bad.wait_for("error", error_code).await?;
    assert_eq!(
        forbidden["code"], "forbidden",
        "a visitor cannot act as an agent"
    );

    bad.send_binary(vec![1, 2, 3]).await?;
    assert_eq!(
        bad.wait_for("error", error_code).await?["code"],
        "bad_frame"
    );

    let mut js = hello(
        &s.site,
        "visitor-bad1",
        "visit-bad00001",
        1,
        "https://shop.example/",
        "x",
    );
    js["page"]["url"] = json!("javascript:alert(1)");
    bad.send(&js).await?;
    assert_eq!(
        bad.wait_for("error", error_code).await?["code"],
        "invalid_field"
    );

    // Still usable after all that.
    bad.send(&json!({"type": "ping"})).await?;
    bad.wait_for("pong", |f| f["type"] == "pong").await?;

    // Oversize: an error, then the socket is closed with 1009.
    let pad = "x".repeat(20_000);
    bad.send_text(format!(r#"{{"type":"ping","pad":"{pad}"}}"#))
        .await?;
    assert_eq!(bad.wait_for("error", error_code).await?["code"], "oversize");
    assert_eq!(bad.closed().await?.0.map(|c| c.0), Some(1009));

    // The good visitor and the agent never noticed.
    good.send(&page_view(2, "https://shop.example/cart", "Cart"))
        .await?;
    agent
        .wait_for(
            "good visitor's page",
            is_changed_with("visitor-good", |r| r["page"]["title"] == "Cart"),
        )
        .await?;
    good.send(&json!({"type": "ping"})).await?;
    good.wait_for("pong", |f| f["type"] == "pong").await?;
    Ok(())
}

#[tokio::test]
async fn floods_are_rate_limited() -> Result<()> {
    let s = server().await?;
    let mut visitor = Client::visitor(&s.hub, &s.site).await?;
    // Frames the hub must read (pings would not do: at the edge the runtime answers
    // them without waking the hub, and they cost nothing).
    for _ in 0..100 {
        visitor
            .send(&page_view(1, "https://shop.example/", "Flood"))
            .await?;
    }
    visitor
        .wait_for("rate limit", |f| f["code"] == "rate_limited")
        .await?;
    Ok(())
}

#[tokio::test]
async fn unknown_sites_and_unauthorised_agents_are_refused() -> Result<()> {
    let s = server().await?;
    let mut nowhere = Client::visitor(&s.hub, "no-such-site").await?;
    assert_eq!(nowhere.closed().await?.0.map(|c| c.0), Some(4404));

    let mut anonymous = Client::agent(&s.hub, &s.site, "vitrine_session=forged-token").await?;
    assert_eq!(anonymous.closed().await?.0.map(|c| c.0), Some(4401));

    // A second tenant with its own site and agent.
    accounts::put_site(
        &s.server.store,
        &Site {
            site_key: "other-shop".into(),
            account_id: "other-account".into(),
            name: "Other".into(),
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
    agents::create_agent(
        &s.server.store,
        &Agent {
            agent_id: "other-agent".into(),
            email: "eve@other.shop".into(),
            account_id: "other-account".into(),
            name: "Eve".into(),
            role: Role::Admin,
        },
        Some(&vitrine_lambdas::hash_password("eve-password")),
    )
    .await?;
    let eve = login(&s.api, "eve@other.shop", "eve-password").await?;
    let mut trespasser = Client::agent(&s.hub, &s.site, &eve).await?;
    assert_eq!(
        trespasser.closed().await?.0.map(|c| c.0),
        Some(4403),
        "another account's site"
    );

    let admin = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let url = format!(
        "{}/ws/agent?site={}",
        vitrine_tests::ws_base(&s.hub),
        s.site
    );
    let mut hijack = Client::connect(
        &url,
        &[("cookie", &admin), ("origin", "https://evil.example")],
    )
    .await?;
    assert_eq!(
        hijack.closed().await?.0.map(|c| c.0),
        Some(4403),
        "cross-site WebSocket hijacking"
    );
    Ok(())
}

#[tokio::test]
async fn the_api_checks_who_is_asking() -> Result<()> {
    let s = server().await?;
    let base = &s.api;
    let http = reqwest::Client::new();
    let wrong = http
        .post(format!("{base}/api/login"))
        .json(&json!({"email": EMAIL, "password": "nope"}))
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await?;
    assert_eq!(body["error"]["code"], "unauthorized");

    let anonymous = http.get(format!("{base}/api/me")).send().await?;
    assert_eq!(anonymous.status(), 401);

    // A visitor of another tenant's site is invisible to this agent.
    vitrine_core::store::browsing::record_visit(
        &s.server.store,
        "other-shop",
        "visitor-other",
        &vitrine_core::store::browsing::Visit {
            visit_id: "visit-other001".into(),
            started_at: 1,
            country: None,
            city: None,
            referrer: None,
            landing_url: "https://other.example/".into(),
        },
    )
    .await?;
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let me: Value = http
        .get(format!("{base}/api/me"))
        .header("cookie", &cookie)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["agent"]["email"], s.admin.0.as_str());
    // At the edge every test's demo site is in the one demo account: look for this one.
    assert!(me["sites"]
        .as_array()
        .unwrap()
        .iter()
        .any(|site| site["site_key"] == s.site.as_str()));
    assert!(me["agent"].get("password_hash").is_none());
    let other = http
        .get(format!(
            "{base}/api/sites/other-shop/visitors/visitor-other"
        ))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(other.status(), 404);

    // Logging out revokes the session server-side, not just in the browser.
    let out = http
        .post(format!("{base}/api/logout"))
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(out.status(), 204);
    let after = http
        .get(format!("{base}/api/me"))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(after.status(), 401);
    Ok(())
}
