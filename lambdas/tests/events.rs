//! API Gateway HTTP API events (payload format 2.0, `tests/events/*.json`, shaped as AWS
//! documents them) through the API exactly as `vitrine-api-lambda` serves it: the router
//! behind `lambda_http`'s adapter — the service `lambda_http::run` hands to the runtime —
//! and the response as the JSON Lambda returns to API Gateway. Placeholders in a
//! fixture (`{{session}}`, `{{blob}}`) are filled with what earlier responses said.

use base64::Engine;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::Value;
use vitrine_lambdas::{router, setup, ApiState};
use vitrine_store::{AnyBlobs, LocalBlobs, SqliteStore};

const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

struct Api {
    router: axum::Router,
    _blobs: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh API on an in-memory store with one admin (the fixtures' login).
async fn api() -> Api {
    let store = SqliteStore::in_memory().expect("an in-memory store");
    setup::seed_demo(
        &store,
        &setup::Demo {
            site_key: "events-shop".into(),
            admin_email: "admin@events.test".into(),
            admin_password: "correct horse battery".into(),
            shop_url: "https://shop.example.com".into(),
            products: vec![],
        },
    )
    .await
    .expect("seed");
    let dir = std::env::temp_dir().join(format!("vitrine-events-{}", std::process::id()));
    let blobs = AnyBlobs::Local(LocalBlobs::new(&dir));
    Api {
        router: router(ApiState::new(store, blobs, true)),
        _blobs: TempDir(dir),
    }
}

impl Api {
    /// One invocation: the fixture `name` with each `(from, to)` replaced, through the
    /// adapter; the Lambda response as JSON.
    async fn invoke(&self, name: &str, fill: &[(&str, &str)]) -> Value {
        // The manifest dir at run time (a reused test binary keeps its build's path).
        let dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
        let path = format!("{dir}/tests/events/{name}");
        let mut text = std::fs::read_to_string(&path).expect("fixture");
        for (from, to) in fill {
            text = text.replace(from, to);
        }
        let event: LambdaRequest = serde_json::from_str(&text).expect("a payload v2 event");
        let mut adapter = Adapter::from(self.router.clone());
        let response = adapter
            .call(LambdaEvent::new(event, Context::default()))
            .await
            .expect("the router never fails");
        serde_json::to_value(response).expect("a response Lambda can return")
    }
}

fn status(response: &Value) -> u64 {
    response["statusCode"].as_u64().expect("statusCode")
}

fn json_body(response: &Value) -> Value {
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    serde_json::from_str(response["body"].as_str().expect("a body")).expect("a JSON body")
}

/// Signs in; the session cookie as the browser sends it back (`name=value`).
async fn sign_in(api: &Api) -> String {
    let response = api.invoke("login.json", &[]).await;
    assert_eq!(status(&response), 200, "{response}");
    // Payload v2 answers cookies in `cookies`, not in a Set-Cookie header.
    let cookies = response["cookies"].as_array().expect("cookies");
    assert_eq!(cookies.len(), 1, "{response}");
    let cookie = cookies[0].as_str().unwrap();
    assert!(cookie.starts_with("vitrine_session="), "{cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        response["headers"].get("set-cookie").is_none(),
        "{response}"
    );
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn a_sign_in_sets_a_strict_secure_cookie_that_the_next_event_carries_back() {
    let api = api().await;
    let session = sign_in(&api).await;
    let me = api.invoke("me.json", &[("{{session}}", &session)]).await;
    assert_eq!(status(&me), 200, "{me}");
    assert_eq!(json_body(&me)["agent"]["email"], "admin@events.test");
}

#[tokio::test]
async fn without_the_cookie_the_api_answers_401_in_json() {
    let api = api().await;
    let response = api.invoke("me_signed_out.json", &[]).await;
    assert_eq!(status(&response), 401, "{response}");
    assert!(json_body(&response)["error"]["message"].is_string());
}

#[tokio::test]
async fn an_unknown_route_is_404() {
    let api = api().await;
    let session = sign_in(&api).await;
    let response = api
        .invoke("unknown_route.json", &[("{{session}}", &session)])
        .await;
    assert_eq!(status(&response), 404, "{response}");
}

#[tokio::test]
async fn an_admin_write_from_the_portals_origin_is_stored() {
    let api = api().await;
    let session = sign_in(&api).await;
    let created = api
        .invoke("canned_create.json", &[("{{session}}", &session)])
        .await;
    assert!(matches!(status(&created), 200 | 201), "{created}");
    assert_eq!(json_body(&created)["shortcut"], "returns");
    // The same event from a page of another origin changes nothing.
    let refused = api
        .invoke(
            "canned_create.json",
            &[
                ("{{session}}", &session),
                ("https://agents.example.com", "https://shop.example.com"),
            ],
        )
        .await;
    assert_eq!(status(&refused), 403, "{refused}");
}

#[tokio::test]
async fn an_image_uploaded_base64_comes_back_as_the_same_binary_body() {
    let api = api().await;
    let session = sign_in(&api).await;
    let uploaded = api
        .invoke("upload_png.json", &[("{{session}}", &session)])
        .await;
    assert_eq!(status(&uploaded), 200, "{uploaded}");
    let blob_id = json_body(&uploaded)["blob_id"]
        .as_str()
        .expect("blob_id")
        .to_string();
    let served = api.invoke("blob.json", &[("{{blob}}", &blob_id)]).await;
    assert_eq!(status(&served), 200, "{served}");
    assert_eq!(served["isBase64Encoded"], true, "{served}");
    assert_eq!(served["headers"]["content-type"], "image/png");
    let engine = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        engine.decode(served["body"].as_str().unwrap()).unwrap(),
        engine.decode(PNG_BASE64).unwrap()
    );
}

#[tokio::test]
async fn the_session_says_who_is_signed_in_and_signed_out_is_not_an_error() {
    let api = api().await;
    let signed_out = api.invoke("session_signed_out.json", &[]).await;
    assert_eq!(status(&signed_out), 200, "{signed_out}");
    assert_eq!(json_body(&signed_out)["me"], Value::Null);
    let session = sign_in(&api).await;
    let signed_in = api
        .invoke("session.json", &[("{{session}}", &session)])
        .await;
    assert_eq!(status(&signed_in), 200, "{signed_in}");
    assert_eq!(
        json_body(&signed_in)["me"]["agent"]["email"],
        "admin@events.test"
    );
}
