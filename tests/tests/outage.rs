//! A DynamoDB outage while visitors browse, on both targets: the hub's store is behind a
//! proxy the test takes down (locally the server's, at the edge a Worker of the test's
//! own). The live list keeps working; a chat message that could not be stored is
//! reported to its sender (`not_saved`) and never acknowledged; the state written during
//! the outage is retried and lands once DynamoDB is back.

mod common;

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;
use vitrine_server::StoreKind;
use vitrine_tests::{hello, login, page_view, row, visitor_message, Client, TEST_VISITOR_KEY};

use common::{Outage, OwnWorker};

fn in_list(visitor: &'static str, title: &'static str) -> impl Fn(&Value) -> bool {
    move |f| row(f, visitor).is_some_and(|r| r["page"]["title"] == title)
}

#[tokio::test]
async fn a_dynamodb_outage_keeps_the_list_live_and_reports_unsaved_messages() -> Result<()> {
    let dynamodb = std::env::var("VITRINE_DYNAMODB_ENDPOINT")
        .context("run with `cargo xtask test`, which starts DynamoDB Local")?;
    let outage = Outage::start(&dynamodb).await?;
    let (s, _worker) = if common::edge().is_some() {
        // The API on DynamoDB directly; the hub (this test's Worker) through the proxy.
        let mut s = common::stack().await?;
        let worker = OwnWorker::start(&[
            ("VITRINE_DYNAMODB_ENDPOINT", &outage.url),
            ("VITRINE_DYNAMODB_TABLE", s.table()),
            ("VITRINE_VISITOR_KEY", TEST_VISITOR_KEY),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
        ])
        .await?;
        s.hub = worker.url.clone();
        (s, Some(worker))
    } else {
        let table = format!("outage-{}", uuid::Uuid::new_v4().simple());
        let s = common::stack_with(|c| {
            c.store = StoreKind::Dynamodb;
            c.dynamodb_endpoint = Some(outage.url.clone());
            c.dynamodb_table = table;
        })
        .await?;
        (s, None)
    };
    let cookie = login(&s.api, &s.admin.0, &s.admin.1).await?;
    let mut agent = Client::agent(&s.hub, &s.site, &cookie).await?;
    agent
        .wait_for("snapshot", |f| f["type"] == "snapshot")
        .await?;
    let mut first = Client::visitor(&s.hub, &s.site).await?;
    let url = "https://shop.example/";
    first
        .send(&hello(
            &s.site,
            "visitor-out-1",
            "visit-00000001",
            1,
            url,
            "Before",
        ))
        .await?;
    first
        .wait_for("welcome", |f| f["type"] == "welcome")
        .await?;
    agent
        .wait_for("first visitor", in_list("visitor-out-1", "Before"))
        .await?;
    first
        .send(&visitor_message("m-before-0001", "Hello?"))
        .await?;
    first
        .wait_for("ack", |f| f["type"] == "message_ack")
        .await?;

    outage.set_down(true);
    // The list goes on: a new visitor and a navigation show up.
    let mut second = Client::visitor(&s.hub, &s.site).await?;
    second
        .send(&hello(
            &s.site,
            "visitor-out-2",
            "visit-00000002",
            1,
            url,
            "During",
        ))
        .await?;
    second
        .wait_for("welcome", |f| f["type"] == "welcome")
        .await?;
    agent
        .wait_for("second visitor", in_list("visitor-out-2", "During"))
        .await?;
    first
        .send(&page_view(2, "https://shop.example/lamp", "Lamp"))
        .await?;
    agent
        .wait_for("navigation", in_list("visitor-out-1", "Lamp"))
        .await?;
    // A message that cannot be stored is refused to its sender, not acknowledged.
    first
        .send(&visitor_message("m-during-001", "Still there?"))
        .await?;
    let verdict = first
        .wait_for("the message's fate", |f| {
            f["client_id"] == "m-during-001" || f["type"] == "message_ack"
        })
        .await?;
    assert_eq!(verdict["type"], "error", "{verdict}");
    assert_eq!(verdict["code"], "not_saved", "{verdict}");

    outage.set_down(false);
    // Resent (as the widget does) once the store is back: stored, acknowledged, delivered.
    first
        .send(&visitor_message("m-during-001", "Still there?"))
        .await?;
    first
        .wait_for("ack", |f| {
            f["type"] == "message_ack" && f["client_id"] == "m-during-001"
        })
        .await?;
    // What the hub wrote during the outage was retried: the second visitor's page view.
    let http = reqwest::Client::new();
    let details = format!("{}/api/sites/{}/visitors/visitor-out-2", s.api, s.site);
    let mut views = 0;
    for _ in 0..50 {
        let res = http.get(&details).header("cookie", &cookie).send().await?;
        if res.status() == 200 {
            let body: Value = res.json().await?;
            views = body["page_view_count"].as_u64().unwrap_or(0);
            if views >= 1 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        views, 1,
        "the page view written during the outage landed once"
    );
    Ok(())
}
