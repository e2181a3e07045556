//! The Cloudflare Worker: the front door at the edge. It routes each site's sockets to
//! that site's Durable Object ([`site_hub::SiteHub`], `idFromName(site_key)`), which runs
//! the same sans-IO hub as the local server, and serves the widget and the portal's files
//! (Workers static assets). It decides nothing about who may connect: the Durable Object
//! does, with `vitrine_core::access`, as the native adapter does.
//!
//! Geolocation (P2) comes from `request.cf`, which only Cloudflare sets: the Worker
//! passes it on in its own headers and drops any a client sent under those names.

mod site_hub;

use vitrine_core::access::{self, Refusal};
use vitrine_core::changes::{self, NoticeError};
use vitrine_core::media_key::{self, SignedError};
use worker::*;

pub use site_hub::SiteHub;

/// Headers only the Worker sets on what it forwards to a Durable Object.
const COUNTRY: &str = "x-vitrine-country";
const CITY: &str = "x-vitrine-city";
const ADDRESS: &str = "x-vitrine-address";
const TRUSTED: [&str; 3] = [COUNTRY, CITY, ADDRESS];

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    match (req.method(), url.path()) {
        (Method::Get, "/ws/visitor" | "/ws/agent") => to_site_hub(req, &env).await,
        (Method::Post, "/internal/call-events") => call_event(req, &env).await,
        (Method::Post, changes::CHANGES_PATH) => change_notice(req, &env).await,
        #[cfg(feature = "contract")]
        (Method::Post, "/internal/contract") => store_contract(req, &env).await,
        (Method::Get | Method::Post, path) if path.starts_with("/internal/") => {
            operator(req, &env).await
        }
        (_, path) if path.starts_with("/api/") || path.starts_with("/blobs/") => {
            to_api(req, &env).await
        }
        _ => env.assets("ASSETS")?.fetch_request(req).await,
    }
}

/// The API (Lambdas behind their URL, or the local server) under the Worker's origin, so
/// the portal, its session cookie and its sockets share one origin.
async fn to_api(mut req: Request, env: &Env) -> Result<Response> {
    let Some(origin) = var(env, "VITRINE_API_ORIGIN") else {
        return Response::error("not found", 404);
    };
    let url = req.url()?;
    let target = format!(
        "{}{}{}",
        origin.trim_end_matches('/'),
        url.path(),
        url.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if name != "host" && name != "x-forwarded-host" {
            headers.set(&name, &value)?;
        }
    }
    // The browser's address, signed: the API sees only Cloudflare's.
    headers.delete(changes::CLIENT_ADDRESS_HEADER)?;
    headers.delete(changes::CLIENT_ADDRESS_SIGNATURE_HEADER)?;
    if let (Some(address), Some(key)) = (
        req.headers().get("cf-connecting-ip")?,
        secret(env, "VITRINE_CHANGES_KEY"),
    ) {
        let signature = changes::sign_client_address(key.as_bytes(), &address);
        headers.set(changes::CLIENT_ADDRESS_HEADER, &address)?;
        headers.set(changes::CLIENT_ADDRESS_SIGNATURE_HEADER, &signature)?;
    }
    // The API checks that writes come from the origin the browser spoke to: this one.
    if let Some(host) = url.host_str() {
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        headers.set("x-forwarded-host", &format!("{host}{port}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    if !matches!(req.method(), Method::Get | Method::Head) {
        init.with_body(Some(
            worker::js_sys::Uint8Array::from(&req.bytes().await?[..]).into(),
        ));
    }
    Fetch::Request(Request::new_with_init(&target, &init)?)
        .send()
        .await
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .ok()
        .filter(|v| !v.is_empty())
}

/// A socket for a site: to that site's Durable Object, with the trusted facts only the
/// edge knows. A key that is not one is refused here (no object is made for it).
async fn to_site_hub(req: Request, env: &Env) -> Result<Response> {
    let url = req.url()?;
    let site = site_param(&url);
    if !access::is_site_key(&site) {
        return refuse(access::UNKNOWN_SITE);
    }
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if !TRUSTED.contains(&name.as_str()) {
            headers.set(&name, &value)?;
        }
    }
    if let Some(cf) = req.cf() {
        if let Some(country) = cf.country() {
            headers.set(COUNTRY, &country)?;
        }
        if let Some(city) = cf.city() {
            headers.set(CITY, &city)?;
        }
    }
    let address = req.headers().get("cf-connecting-ip")?;
    headers.set(ADDRESS, address.as_deref().unwrap_or("unknown"))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let forwarded = Request::new_with_init(url.as_str(), &init)?;
    site_stub(env, &site)?.fetch_with_request(forwarded).await
}

/// The `site` query parameter (empty when missing).
fn site_param(url: &Url) -> String {
    query_param(url, "site")
}

/// A query parameter's value; empty when absent.
fn query_param(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn site_stub(env: &Env, site: &str) -> Result<Stub> {
    env.durable_object("SITE_HUB")?
        .id_from_name(site)?
        .get_stub()
}

/// Accepts, then closes with a code: a browser cannot read an HTTP status from a
/// WebSocket handshake (as the local server does).
fn refuse(refusal: Refusal) -> Result<Response> {
    let pair = WebSocketPair::new()?;
    pair.server.accept()?;
    pair.server
        .close(Some(refusal.code), Some(refusal.reason))?;
    Response::from_websocket(pair.client)
}

/// `POST /internal/call-events`: the media node's signed reports, to the site's object.
async fn call_event(mut req: Request, env: &Env) -> Result<Response> {
    let Some(key) = secret(env, "VITRINE_CALL_KEY") else {
        return Response::error("not found", 404);
    };
    let body = req.bytes().await?;
    let signature = req.headers().get(media_key::SIGNATURE_HEADER)?;
    match media_key::read_call_event(key.as_bytes(), &body, signature.as_deref()) {
        Ok(event) if access::is_site_key(&event.site) => {
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_body(Some(serde_json::to_string(&event)?.into()));
            let request = Request::new_with_init("https://hub/call-event", &init)?;
            site_stub(env, &event.site)?
                .fetch_with_request(request)
                .await
                .map(|r| r.with_status(204))
        }
        Ok(_) | Err(SignedError::Malformed(_)) => Response::error("bad request", 400),
        Err(SignedError::BadSignature) => Response::error("unauthorized", 401),
    }
}

/// `POST /internal/changed`: the API's signed notice of an admin change (an agent
/// removed, a session ended, a site's settings), applied by the object of every site it
/// names before the answer, so the API's own request returns after it took effect.
async fn change_notice(mut req: Request, env: &Env) -> Result<Response> {
    let Some(key) = secret(env, "VITRINE_CHANGES_KEY") else {
        return Response::error("not found", 404);
    };
    let body = req.bytes().await?;
    let signature = req.headers().get(media_key::SIGNATURE_HEADER)?;
    let now = Date::now().as_millis();
    let notice = match changes::read_notice(key.as_bytes(), &body, signature.as_deref(), now) {
        Ok(notice) => notice,
        Err(NoticeError::Signed(SignedError::BadSignature)) => {
            return Response::error("unauthorized", 401)
        }
        Err(e) => return Response::error(format!("bad request: {e}"), 400),
    };
    let change = serde_json::to_string(&notice.change)?;
    let told = notice
        .sites
        .iter()
        .filter(|site| access::is_site_key(site))
        .map(|site| {
            let change = change.clone();
            async move {
                let mut init = RequestInit::new();
                init.with_method(Method::Post)
                    .with_body(Some(change.into()));
                let request = Request::new_with_init("https://hub/changed", &init)?;
                let reply = site_stub(env, site)?.fetch_with_request(request).await?;
                Ok::<_, Error>(reply.status_code() < 300)
            }
        });
    let all_applied = futures_util::future::join_all(told)
        .await
        .into_iter()
        .all(|told| matches!(told, Ok(true)));
    if all_applied {
        Response::empty().map(|r| r.with_status(204))
    } else {
        Response::error("not every site applied it; retry", 503)
    }
}

/// Whether the request carries the operator's token (`VITRINE_OPERATOR_TOKEN`, bearer).
fn is_operator(req: &Request, env: &Env) -> Result<bool> {
    let token = secret(env, "VITRINE_OPERATOR_TOKEN").unwrap_or_default();
    let given = req.headers().get("authorization")?;
    Ok(access::bearer_matches(&token, given.as_deref()))
}

/// `/internal/{stats,evict,recheck}?site=…`: the operator's view of one site's object
/// (counters), a way to drop its memory as an eviction does (tests), and to read its site
/// and agents again now rather than at the next periodic re-check. Bearer
/// `VITRINE_OPERATOR_TOKEN`.
async fn operator(req: Request, env: &Env) -> Result<Response> {
    if !is_operator(&req, env)? {
        return Response::error("unauthorized", 401);
    }
    let url = req.url()?;
    let site = site_param(&url);
    if !access::is_site_key(&site) {
        return Response::error("site: not a site key", 400);
    }
    let path = url.path().trim_start_matches("/internal");
    let mut init = RequestInit::new();
    init.with_method(req.method());
    let request = Request::new_with_init(&format!("https://hub{path}"), &init)?;
    site_stub(env, &site)?.fetch_with_request(request).await
}

/// `/internal/contract?case=…&table=…` (test builds only, feature `contract`): one case
/// of the store contract against the Durable Objects' own DynamoDB client (fetch
/// transport, SigV4 in wasm) on a fresh table. 200 when it held; a broken contract panics,
/// which workerd answers with a 500 and the panic in its log. Bearer operator token.
#[cfg(feature = "contract")]
async fn store_contract(req: Request, env: &Env) -> Result<Response> {
    if !is_operator(&req, env)? {
        return Response::error("unauthorized", 401);
    }
    let url = req.url()?;
    let (case, table) = (query_param(&url, "case"), query_param(&url, "table"));
    let store = site_hub::dynamodb(env, Some(&table));
    if vitrine_core::store::contract::run(&case, &store).await {
        Response::ok(format!("{case}: held"))
    } else {
        Response::error(format!("no case {case}"), 404)
    }
}

/// A secret (or, in `wrangler dev`, a var); `None` when unset or empty.
fn secret(env: &Env, name: &str) -> Option<String> {
    let value = env
        .secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()?;
    (!value.is_empty()).then_some(value)
}
