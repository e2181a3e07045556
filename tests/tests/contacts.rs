//! Contacts over the real server (K1–K5): a widget identifies with the site's secret, the
//! agent reads and completes the card through the API; bad input gets clear errors, and
//! another account, or an agent not on the site, sees nothing.

mod common;

use anyhow::Result;
use serde_json::{json, Value};
use vitrine_core::identity;
use vitrine_tests::{anonymous_hello, Api, Client, DEMO_SITE};

const ADMIN: (&str, &str) = ("admin@demo.shop", "vitrine-demo");

fn is_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |f| f["type"] == t
}

/// A visitor who said hello, and their ID.
async fn visitor(base: &str) -> Result<(Client, String)> {
    let mut v = Client::visitor(base, DEMO_SITE).await?;
    v.send(&anonymous_hello("0000visit-c1")).await?;
    let welcome = v.wait_for("welcome", is_type("welcome")).await?;
    let id = welcome["credential"]["visitor_id"]
        .as_str()
        .unwrap()
        .to_string();
    Ok((v, id))
}

#[tokio::test]
async fn a_signed_identity_makes_a_card_agents_complete_and_strangers_never_see() -> Result<()> {
    let (server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let (status, secret) = admin
        .call(
            "GET",
            &format!("/api/admin/sites/{DEMO_SITE}/identity"),
            None,
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(secret["required"], true, "required by default");
    let secret = secret["secret"].as_str().unwrap().to_string();

    let (mut v, visitor_id) = visitor(&base).await?;
    let contact_path = format!("/api/sites/{DEMO_SITE}/visitors/{visitor_id}/contact");
    let (status, anonymous) = admin.call("GET", &contact_path, None).await?;
    assert_eq!((status, &anonymous["card"]), (200, &Value::Null), "K5");

    v.send(&json!({"type": "identify",
        "identity": {"id": "customer-42", "name": "Zofia Nowak", "email": "zofia@mail.example"},
        "signature": identity::sign(&secret, &zofia_42())}))
        .await?;
    // The write follows the frame: poll the API until the card is there.
    let mut card = Value::Null;
    for _ in 0..50 {
        card = admin.call("GET", &contact_path, None).await?.1["card"].clone();
        if !card.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(card["profile"]["name"], "Zofia Nowak");
    assert_eq!(card["profile"]["verified"], true);
    let contact = format!("/api/sites/{DEMO_SITE}/contacts/customer-42");

    // Tags, a note, a task for a colleague of the site.
    let (status, tags) = admin
        .call(
            "PUT",
            &format!("{contact}/tags"),
            Some(json!({"tags": ["VIP", "vip", "lamps"]})),
        )
        .await?;
    assert_eq!((status, tags), (200, json!(["VIP", "lamps"])));
    let (status, _) = admin
        .call(
            "POST",
            &format!("{contact}/notes"),
            Some(json!({"text": "Prefers e-mail"})),
        )
        .await?;
    assert_eq!(status, 201);
    let agents = admin.call("GET", "/api/admin/agents", None).await?.1;
    let colleague = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == "agent@demo.shop")
        .unwrap()["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    // K2: a task may go to anyone who works on the site, connected or not.
    let (status, assignable) = admin
        .call("GET", &format!("/api/sites/{DEMO_SITE}/agents"), None)
        .await?;
    assert_eq!(status, 200);
    assert!(
        assignable
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["agent_id"] == colleague.as_str()),
        "the colleague is offline and still listed: {assignable}"
    );
    let (status, task) = admin
        .call(
            "POST",
            &format!("{contact}/tasks"),
            Some(json!({"title": "Call back", "assignee_id": colleague, "due": "2026-12-24"})),
        )
        .await?;
    assert_eq!(status, 201, "{task}");
    let agent = Api::login(&base, "agent@demo.shop", ADMIN.1).await?;
    let mine = agent.call("GET", "/api/tasks", None).await?.1;
    assert_eq!(mine[0]["title"], "Call back");
    assert_eq!(mine[0]["contact_name"], "Zofia Nowak");
    let (status, done) = agent
        .call(
            "PUT",
            &format!("{contact}/tasks/{}", task["task_id"].as_str().unwrap()),
            Some(json!({"done": true})),
        )
        .await?;
    assert_eq!((status, &done["done"]), (200, &json!(true)));
    assert_eq!(agent.call("GET", "/api/tasks", None).await?.1, json!([]));

    // Bad input: clear errors, nothing lost.
    for (method, path, body, says) in [
        (
            "POST",
            format!("{contact}/notes"),
            json!({"text": "x".repeat(2001)}),
            "longer than 2000",
        ),
        (
            "POST",
            format!("{contact}/notes"),
            json!({"text": "  "}),
            "must not be empty",
        ),
        (
            "PUT",
            contact.clone(),
            json!({"name": "Z", "email": "not an address", "phone": null, "address": null}),
            "e-mail",
        ),
        (
            "PUT",
            contact.clone(),
            json!({"name": "Z", "email": null, "phone": "call me", "address": null}),
            "phone",
        ),
        (
            "POST",
            format!("{contact}/tasks"),
            json!({"title": "x", "assignee_id": "agent-nobody-here"}),
            "no agent of this site",
        ),
        (
            "POST",
            format!("{contact}/tasks"),
            json!({"title": "x", "assignee_id": colleague, "due": "24/12/2026"}),
            "YYYY-MM-DD",
        ),
        (
            "PUT",
            format!("{contact}/tags"),
            json!({"tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "at most 20",
        ),
    ] {
        let (status, body) = admin.call(method, &path, Some(body)).await?;
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    let card = admin.call("GET", &contact, None).await?.1;
    assert_eq!(card["profile"]["name"], "Zofia Nowak");
    assert_eq!(card["notes"].as_array().unwrap().len(), 1);

    // Another account's admin: not found, as for a site that does not exist.
    let b = common::second_account(&server, &base).await?;
    for path in [
        contact.clone(),
        contact_path.clone(),
        format!("/api/sites/{DEMO_SITE}/tags"),
        format!("/api/admin/sites/{DEMO_SITE}/identity"),
    ] {
        let (status, _) = b.call("GET", &path, None).await?;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = b
        .call(
            "POST",
            &format!("{contact}/notes"),
            Some(json!({"text": "B was here"})),
        )
        .await?;
    assert_eq!(status, 404);
    assert_eq!(b.call("GET", "/api/tasks", None).await?.1, json!([]));

    // Rotating the secret: the old signature stops working at once.
    let (status, rotated) = admin
        .call(
            "POST",
            &format!("/api/admin/sites/{DEMO_SITE}/identity"),
            Some(json!({"required": true, "rotate": true})),
        )
        .await?;
    assert_eq!(status, 200);
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);
    let (mut v2, _) = visitor(&base).await?;
    v2.send(
        &json!({"type": "identify", "identity": {"id": "customer-42"},
        "signature": identity::sign_id(&secret, "customer-42")}),
    )
    .await?;
    let refused = v2.wait_for("a refusal", is_type("error")).await?;
    assert_eq!(refused["code"], "forbidden");
    Ok(())
}

#[tokio::test]
async fn an_agent_makes_the_card_of_an_anonymous_visitor_once() -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let (_v, visitor_id) = visitor(&base).await?;
    let path = format!("/api/sites/{DEMO_SITE}/visitors/{visitor_id}/contact");
    // The hello's visit is written after the welcome: wait until the visitor is stored.
    for _ in 0..50 {
        let details = format!("/api/sites/{DEMO_SITE}/visitors/{visitor_id}");
        if admin.call("GET", &details, None).await?.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let empty = json!({"name": null, "email": " ", "phone": null, "address": null});
    let (status, body) = admin.call("POST", &path, Some(empty)).await?;
    assert_eq!(status, 400, "{body}");
    let ada = json!({"name": "Ada", "email": "Ada@Mail.Example", "phone": null, "address": null});
    let (status, card) = admin.call("POST", &path, Some(ada.clone())).await?;
    assert_eq!(status, 201, "{card}");
    assert_eq!(card["profile"]["contact_id"], "ada@mail.example");
    assert_eq!(
        card["profile"]["verified"], true,
        "an agent vouches for what they type"
    );
    assert_eq!(
        admin.call("GET", &path, None).await?.1["card"]["profile"]["name"],
        "Ada"
    );
    let (status, _) = admin.call("POST", &path, Some(ada)).await?;
    assert_eq!(status, 409, "once: then it is edited");
    let nobody = format!("/api/sites/{DEMO_SITE}/visitors/nobody-here-123/contact");
    let (status, _) = admin
        .call(
            "POST",
            &nobody,
            Some(json!({"name": "X", "email": null, "phone": null, "address": null})),
        )
        .await?;
    assert_eq!(status, 404);
    Ok(())
}

/// What the shop says of customer 42 (and signs, every field).
fn zofia_42() -> vitrine_core::protocol::Identity {
    vitrine_core::protocol::Identity {
        id: "customer-42".into(),
        name: Some("Zofia Nowak".into()),
        email: Some("zofia@mail.example".into()),
        ..Default::default()
    }
}
