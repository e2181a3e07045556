//! The demo shop, on its own origin like a real customer's site: its pages with the
//! widget's tag filled in, and a shop "backend" as small as a real one would need to use
//! Vitrine's identities (K1): a customer signs in with a name and an e-mail, and every page
//! then identifies them to the widget, signed with the site's identity secret.

use std::path::PathBuf;

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use vitrine_core::codec;
use vitrine_core::identity;
use vitrine_core::store::accounts;
use vitrine_store::AnyStore;

#[derive(Clone)]
pub struct DemoState {
    pub dir: PathBuf,
    pub widget_src: String,
    pub site_key: String,
    pub store: AnyStore,
}

const COOKIE: &str = "demo_customer";

pub fn router(state: DemoState) -> Router {
    Router::new()
        .route_service(
            "/shop.css",
            tower_http::services::ServeFile::new(state.dir.join("shop.css")),
        )
        .route("/", get(page))
        .route("/sign-in", post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/{page}", get(page))
        .with_state(state)
}

/// The signed-in customer: the shop's user ID is their e-mail.
struct Customer {
    email: String,
    name: String,
}

fn customer(headers: &HeaderMap) -> Option<Customer> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let value = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)?
        .1;
    let raw = urlencoding::decode(value).ok()?;
    let (email, name) = raw.split_once('|')?;
    Some(Customer {
        email: email.to_string(),
        name: name.to_string(),
    })
}

#[derive(Deserialize)]
struct SignIn {
    email: String,
    name: String,
}

async fn sign_in(Form(form): Form<SignIn>) -> Response {
    let email = form.email.trim().to_lowercase();
    let name = form.name.trim().replace('|', " ");
    if codec::validate_contact_id(&email).is_err()
        || codec::validate_email(&email).is_err()
        || name.is_empty()
        || name.chars().count() > 120
    {
        return (StatusCode::BAD_REQUEST, "a name and an e-mail, please").into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax",
        urlencoding::encode(&format!("{email}|{name}"))
    );
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/account.html"),
    )
        .into_response()
}

async fn sign_out() -> Response {
    let cookie = format!("{COOKIE}=; Path=/; Max-Age=0");
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/account.html?signed_out=1"),
    )
        .into_response()
}

/// What a shop's page adds for Vitrine: the customer, signed by the backend — or, after
/// signing out, a reset so the next person on this browser is someone else.
async fn vitrine_calls(state: &DemoState, headers: &HeaderMap, signed_out: bool) -> String {
    let call = |args: String| {
        format!(
            "<script>(function(){{var V=window.Vitrine=window.Vitrine||{{q:[]}};var a={args};\
             V.version?V[a[0]].apply(V,a[1]):V.q.push(a);}})();</script>"
        )
    };
    if signed_out {
        return call(r#"["reset",[]]"#.into());
    }
    let Some(customer) = customer(headers) else {
        return String::new();
    };
    let secret = match accounts::site_identity(&state.store, &state.site_key).await {
        Ok(Some(identity)) => identity.secret,
        _ => return String::new(),
    };
    let user = vitrine_core::protocol::Identity {
        id: customer.email.clone(),
        email: Some(customer.email.clone()),
        name: Some(customer.name.clone()),
        ..Default::default()
    };
    // Every field the card takes is signed (one a line: id, name, email, phone, address).
    let signature = identity::sign(&secret, &user);
    let args = serde_json::json!(["identify", [user, { "signature": signature }]]);
    // Inside <script>: no "</script>" can come from a name.
    call(args.to_string().replace('<', "\\u003c"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves a shop page with the widget's script tag, the customer's identity and, on the
/// account page, who is signed in.
async fn page(
    State(state): State<DemoState>,
    headers: HeaderMap,
    page: Option<axum::extract::Path<String>>,
    query: axum::extract::RawQuery,
) -> Response {
    let name = page.map(|p| p.0).unwrap_or_else(|| "index.html".into());
    let valid = name.ends_with(".html")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !name.contains("..");
    if !valid {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let signed_out = query.0.as_deref() == Some("signed_out=1");
    let who = customer(&headers)
        .map(|c| escape(&format!("{} ({})", c.name, c.email)))
        .unwrap_or_default();
    match tokio::fs::read_to_string(state.dir.join(&name)).await {
        Ok(html) => Html(
            html.replace("{{WIDGET_SRC}}", &state.widget_src)
                .replace("{{SITE_KEY}}", &state.site_key)
                .replace(
                    "{{VITRINE_CALLS}}",
                    &vitrine_calls(&state, &headers, signed_out).await,
                )
                .replace("{{CUSTOMER}}", &who),
        )
        .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
