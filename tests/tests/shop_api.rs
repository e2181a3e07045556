//! The shop's REST API over the real server (K1): API keys per account, scoped and
//! revocable; contacts upserted, read and imported from CSV with row-numbered errors;
//! account B's key reads nothing of account A, and the other way round.

mod common;

use anyhow::Result;
use serde_json::{json, Value};
use vitrine_tests::{Api, DEMO_SITE};

const ADMIN: (&str, &str) = ("admin@demo.shop", "vitrine-demo");

/// One request with `Authorization: Bearer {token}`; the status and the JSON body.
async fn shop(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<(&str, String)>,
) -> Result<(u16, Value)> {
    let mut req = reqwest::Client::new()
        .request(method.parse()?, format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"));
    if let Some((content_type, body)) = body {
        req = req.header("content-type", content_type).body(body);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

async fn new_key(admin: &Api, name: &str, scopes: &[&str]) -> Result<(String, String)> {
    let (status, made) = admin
        .call(
            "POST",
            "/api/admin/api-keys",
            Some(json!({"name": name, "scopes": scopes})),
        )
        .await?;
    assert_eq!(status, 201, "{made}");
    Ok((
        made["key"]["key_id"].as_str().unwrap().to_string(),
        made["token"].as_str().unwrap().to_string(),
    ))
}

#[tokio::test]
async fn a_shop_backend_upserts_reads_and_imports_contacts_with_a_scoped_revocable_key(
) -> Result<()> {
    let (_server, base) = common::start_with(|_| {}).await?;
    let admin = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let (key_id, token) =
        new_key(&admin, "Shop backend", &["contacts:read", "contacts:write"]).await?;
    let (_, reader) = new_key(&admin, "Reporting", &["contacts:read"]).await?;
    let listed = admin.call("GET", "/api/admin/api-keys", None).await?.1;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        listed.to_string().find(&token[20..]).is_none(),
        "the secret is never listed"
    );

    let contact = format!("/api/v1/sites/{DEMO_SITE}/contacts/customer-42");
    let body = |v: Value| Some(("application/json", v.to_string()));
    let (status, card) = shop(
        &base,
        &token,
        "PUT",
        &contact,
        body(json!({"name": "Zofia Nowak", "email": "zofia@mail.example", "tags": ["VIP"]})),
    )
    .await?;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["profile"]["verified"], true, "the shop vouches for it");
    assert_eq!(card["profile"]["tags"], json!(["VIP"]));
    // Completing it leaves what was not sent.
    let (_, card) = shop(
        &base,
        &token,
        "PUT",
        &contact,
        body(json!({"phone": "+48 600 100 200"})),
    )
    .await?;
    assert_eq!(card["profile"]["name"], "Zofia Nowak");
    assert_eq!(card["profile"]["phone"], "+48 600 100 200");
    let (status, card) = shop(&base, &reader, "GET", &contact, None).await?;
    assert_eq!(
        (status, card["profile"]["email"].clone()),
        (200, json!("zofia@mail.example"))
    );
    // The agents see the same card.
    let (status, _) = admin
        .call(
            "GET",
            &format!("/api/sites/{DEMO_SITE}/contacts/customer-42"),
            None,
        )
        .await?;
    assert_eq!(status, 200);

    // Bad input: a clear error, nothing changed.
    for (bad, says) in [
        (json!({"email": "not-an-address"}), "e-mail"),
        (json!({"name": "x".repeat(500)}), "name"),
        (
            json!({"tags": (0..30).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
        ),
        (json!({"nickname": "Zo"}), "nickname"),
    ] {
        let (status, error) = shop(&base, &token, "PUT", &contact, body(bad)).await?;
        assert!(status == 400 || status == 422, "{status} {error}");
        assert!(error.to_string().contains(says), "{says}: {error}");
    }
    let (status, _) = shop(
        &base,
        &token,
        "PUT",
        &format!("/api/v1/sites/{DEMO_SITE}/contacts/has%20space"),
        body(json!({"name": "x"})),
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(
        shop(&base, &token, "GET", &contact, None).await?.1["profile"]["name"],
        "Zofia Nowak"
    );

    // Scopes and credentials.
    let (status, error) = shop(&base, &reader, "PUT", &contact, body(json!({"name": "x"}))).await?;
    assert_eq!(status, 403, "{error}");
    assert!(error.to_string().contains("contacts:write"));
    assert_eq!(
        shop(&base, "vk_0000000000000000_00", "GET", &contact, None)
            .await?
            .0,
        401
    );
    let forged = format!(
        "{}{}",
        &token[..token.len() - 1],
        if token.ends_with('0') { '1' } else { '0' }
    );
    assert_eq!(shop(&base, &forged, "GET", &contact, None).await?.0, 401);
    let status = reqwest::get(format!("{base}{contact}"))
        .await?
        .status()
        .as_u16();
    assert_eq!(status, 401, "no key, no answer");

    // A CSV: good rows imported, bad ones named by line.
    let csv = "id,name,email,tags\n\
               c-1,Ada Kowalska,ada@mail.example,VIP;newsletter\n\
               c-2,Bad Mail,not-an-address,\n\
               ,No Id,noid@mail.example,\n\
               c-4,Too,many,fields,here\n\
               c-5,\"Smith, Jan\",jan@mail.example,\n";
    let import = format!("/api/v1/sites/{DEMO_SITE}/contacts/import");
    let (status, result) = shop(
        &base,
        &token,
        "POST",
        &import,
        Some(("text/csv", csv.into())),
    )
    .await?;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["imported"], 2);
    let rows: Vec<u64> = result["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![3, 4, 5], "{result}");
    assert!(result["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("e-mail"));
    let (_, jan) = shop(
        &base,
        &token,
        "GET",
        &format!("/api/v1/sites/{DEMO_SITE}/contacts/c-5"),
        None,
    )
    .await?;
    assert_eq!(jan["profile"]["name"], "Smith, Jan");
    let (_, ada) = shop(
        &base,
        &token,
        "GET",
        &format!("/api/v1/sites/{DEMO_SITE}/contacts/c-1"),
        None,
    )
    .await?;
    assert_eq!(ada["profile"]["tags"], json!(["VIP", "newsletter"]));
    let (status, error) = shop(
        &base,
        &token,
        "POST",
        &import,
        Some(("text/csv", "id,shoe size\nc-9,44\n".into())),
    )
    .await?;
    assert_eq!(status, 400);
    assert!(error.to_string().contains("line 1"), "{error}");

    // Revoked: refused at once.
    assert_eq!(
        admin
            .call("DELETE", &format!("/api/admin/api-keys/{key_id}"), None)
            .await?
            .0,
        204
    );
    assert_eq!(shop(&base, &token, "GET", &contact, None).await?.0, 401);
    assert_eq!(
        admin
            .call("DELETE", &format!("/api/admin/api-keys/{key_id}"), None)
            .await?
            .0,
        404
    );
    Ok(())
}

#[tokio::test]
async fn an_accounts_key_reads_and_writes_nothing_of_another_account() -> Result<()> {
    let (server, base) = common::start_with(|_| {}).await?;
    let admin_a = Api::login(&base, ADMIN.0, ADMIN.1).await?;
    let admin_b = common::second_account(&server, &base).await?;
    let (_, key_a) = new_key(&admin_a, "A", &["contacts:read", "contacts:write"]).await?;
    let (_, key_b) = new_key(&admin_b, "B", &["contacts:read", "contacts:write"]).await?;
    let body = Some(("application/json", json!({"name": "Zofia"}).to_string()));
    let a_contact = format!("/api/v1/sites/{DEMO_SITE}/contacts/customer-42");
    assert_eq!(
        shop(&base, &key_a, "PUT", &a_contact, body.clone())
            .await?
            .0,
        200
    );

    // B's key: A's site is not found, whatever the verb.
    assert_eq!(shop(&base, &key_b, "GET", &a_contact, None).await?.0, 404);
    assert_eq!(
        shop(&base, &key_b, "PUT", &a_contact, body.clone())
            .await?
            .0,
        404
    );
    let import = format!("/api/v1/sites/{DEMO_SITE}/contacts/import");
    assert_eq!(
        shop(
            &base,
            &key_b,
            "POST",
            &import,
            Some(("text/csv", "id\nx-1\n".into()))
        )
        .await?
        .0,
        404
    );
    // And A's key on B's site.
    assert_eq!(
        shop(
            &base,
            &key_a,
            "PUT",
            "/api/v1/sites/b-shop/contacts/customer-42",
            body
        )
        .await?
        .0,
        404
    );
    // A's contact is as A left it; B's admin lists only B's key.
    assert_eq!(
        shop(&base, &key_a, "GET", &a_contact, None).await?.1["profile"]["name"],
        "Zofia"
    );
    let listed = admin_b.call("GET", "/api/admin/api-keys", None).await?.1;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "B");
    // An agent who is not an admin makes no keys.
    Ok(())
}
