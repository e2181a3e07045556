//! V11 gating over real sockets: calls exist only for accounts whose plan includes them,
//! whatever the chat's own switch says; an operator changing the plan reaches running
//! widgets and portals.

use anyhow::Result;
use serde_json::{json, Value};
use vitrine_core::store::accounts::{set_plan, Plan};
use vitrine_tests::{hello, login, Api, Client, DEMO_SITE};

mod common;

const SITE: &str = "demo-shop";
const ACCOUNT: &str = "demo-account";
const ADMIN: (&str, &str) = ("admin@demo.shop", "vitrine-demo");

fn is_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |f| f["type"] == t
}

async fn visitor_welcome(base: &str, visitor_id: &str) -> Result<(Client, Value)> {
    let mut v = Client::visitor(base, SITE).await?;
    v.send(&hello(
        DEMO_SITE,
        visitor_id,
        "visit-00000001",
        1,
        "https://shop.example/",
        "Shop",
    ))
    .await?;
    let welcome = v.wait_for("welcome", is_type("welcome")).await?;
    Ok((v, welcome))
}

#[tokio::test]
async fn the_accounts_plan_decides_whether_calls_exist() -> Result<()> {
    let (server, base) = common::start_with(|_| {}).await?;

    // The demo account's plan includes calls: offered to visitors and agents.
    let cookie = login(&base, ADMIN.0, ADMIN.1).await?;
    let mut agent = Client::agent(&base, SITE, &cookie).await?;
    let calls = agent.wait_for("calls", is_type("calls")).await?;
    assert_eq!(
        (calls["available"].clone(), calls["enabled"].clone()),
        (json!(true), json!(true))
    );
    let (mut v1, welcome) = visitor_welcome(&base, "visitor-plan-0001").await?;
    assert_eq!(welcome["calls"], true);

    // The operator moves the account to a plan without calls. Running hubs learn it when
    // the chat is next read (here at once, because an admin saves the chat).
    set_plan(&server.store, ACCOUNT, Plan { calls: false }).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let (status, body) = admin
        .call(
            "PUT",
            &format!("/api/admin/sites/{SITE}"),
            Some(json!({"name": "Demo shop"})),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    let (_v2, welcome) = visitor_welcome(&base, "visitor-plan-0002").await?;
    assert_eq!(welcome["calls"], false, "a new visitor gets no call option");
    let off = v1.wait_for("calls", is_type("calls")).await?;
    assert_eq!(
        off["enabled"], false,
        "an open widget hides its call option"
    );
    let calls = agent.wait_for("calls", is_type("calls")).await?;
    assert_eq!(calls["available"], false);

    // Nothing the chat's admins or agents do brings calls back: the switch and the frames
    // are refused.
    agent
        .send(&json!({"type": "set_calls", "enabled": true}))
        .await?;
    let refused = agent.wait_for("error", is_type("error")).await?;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    agent
        .send(&json!({"type": "call_start", "visitor_ids": ["visitor-plan-0001"]}))
        .await?;
    let refused = agent.wait_for("error", is_type("error")).await?;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    v1.send(&json!({"type": "call_request", "cancel": false}))
        .await?;
    let refused = v1.wait_for("error", is_type("error")).await?;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    // Back on a plan with calls: offered again.
    set_plan(&server.store, ACCOUNT, Plan { calls: true }).await?;
    admin
        .call(
            "PUT",
            &format!("/api/admin/sites/{SITE}"),
            Some(json!({"name": "Demo shop"})),
        )
        .await?;
    let (_v3, welcome) = visitor_welcome(&base, "visitor-plan-0003").await?;
    assert_eq!(welcome["calls"], true);
    let on = v1.wait_for("calls", is_type("calls")).await?;
    assert_eq!(on["enabled"], true);
    Ok(())
}
