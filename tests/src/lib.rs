//! WebSocket and HTTP clients that speak Vitrine's protocol, for the integration tests and
//! the load generator. They are real clients over real sockets: nothing here is mocked.

pub mod media_client;

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

/// Signs in through the API and returns the `Cookie` header value to use.
pub async fn login(base: &str, email: &str, password: &str) -> Result<String> {
    login_to(base, email, password, None).await
}

/// Signs in to one account of a person who is an agent of several; the session cookie.
pub async fn login_to(
    base: &str,
    email: &str,
    password: &str,
    account_id: Option<&str>,
) -> Result<String> {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&json!({"email": email, "password": password, "account_id": account_id}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!(
            "login failed: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        );
    }
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?;
    Ok(cookie.to_string())
}

/// POSTs JSON without a session (sign-in, links from e-mails): the status and the JSON
/// answer (Null when there is none).
pub async fn post_json(base: &str, path: &str, body: Value) -> Result<(u16, Value)> {
    let res = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// The token of a portal link (`…/portal/#invite=TOKEN`, `#reset=TOKEN`) of that kind, in
/// a link or in an e-mail's text.
pub fn link_token(text: &str, kind: &str) -> Option<String> {
    // An e-mail may be quoted-printable: soft line breaks, `=` as `=3D`.
    let text = text
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let at = text.find(&format!("#{kind}="))? + kind.len() + 2;
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (!token.is_empty()).then_some(token)
}

pub fn ws_base(http_base: &str) -> String {
    http_base.replacen("http://", "ws://", 1)
}

/// A JSON-speaking WebSocket client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a connection ended: the close code and reason, if the server sent one.
#[derive(Debug, PartialEq)]
pub struct Closed(pub Option<(u16, String)>);

impl Client {
    pub async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Self> {
        let mut request = url.into_client_request()?;
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        // Browsers disable Nagle on their sockets; so does this client.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
        Ok(Self { ws })
    }

    pub async fn visitor(http_base: &str, site: &str) -> Result<Self> {
        Self::connect(
            &format!("{}/ws/visitor?site={site}", ws_base(http_base)),
            &[],
        )
        .await
    }

    pub async fn agent(http_base: &str, site: &str, cookie: &str) -> Result<Self> {
        Self::connect(
            &format!("{}/ws/agent?site={site}", ws_base(http_base)),
            &[("cookie", cookie)],
        )
        .await
    }

    pub async fn send(&mut self, frame: &Value) -> Result<()> {
        self.send_text(frame.to_string()).await
    }

    pub async fn send_text(&mut self, text: String) -> Result<()> {
        self.ws.send(Message::Text(text.into())).await?;
        Ok(())
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.ws.send(Message::Binary(bytes.into())).await?;
        Ok(())
    }

    /// The next JSON frame; an error if the connection closes or nothing comes in time.
    pub async fn next(&mut self) -> Result<Value> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .map_err(|_| anyhow!("no frame within {WAIT:?}"))?
                .ok_or_else(|| anyhow!("connection ended"))??;
            match msg {
                Message::Text(text) => return Ok(serde_json::from_str(&text)?),
                Message::Close(frame) => bail!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next JSON frame, however long it takes (the load generator's agent).
    pub async fn next_forever(&mut self) -> Result<Value> {
        loop {
            match self
                .ws
                .next()
                .await
                .ok_or_else(|| anyhow!("connection ended"))??
            {
                Message::Text(text) => return Ok(serde_json::from_str(&text)?),
                Message::Close(frame) => bail!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Reads frames until one satisfies `pred`, returning it.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if tokio::time::Instant::now() > deadline {
                bail!("timed out waiting for {what}");
            }
            let frame = self
                .next()
                .await
                .with_context(|| format!("waiting for {what}"))?;
            if pred(&frame) {
                return Ok(frame);
            }
        }
    }

    /// Reads until the server closes the connection; returns its close frame.
    pub async fn closed(&mut self) -> Result<Closed> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .map_err(|_| anyhow!("not closed within {WAIT:?}"))?;
            match msg {
                None | Some(Err(_)) => return Ok(Closed(None)),
                Some(Ok(Message::Close(frame))) => {
                    return Ok(Closed(
                        frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                    ))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn close(mut self) -> Result<()> {
        self.ws.close(None).await?;
        Ok(())
    }
}

/// The visitor key the integration tests start servers with, so a test can play a widget
/// that was given a credential for a visitor ID of its choosing.
pub const TEST_VISITOR_KEY: &str = "integration-tests-visitor-key";
/// The demo site's key (the site the servers seed).
pub const DEMO_SITE: &str = "demo-shop";

/// A widget's `hello` as visitor `visitor_id` of `site` (with the credential the hub would
/// have given it under [`TEST_VISITOR_KEY`]).
pub fn hello(
    site: &str,
    visitor_id: &str,
    visit_id: &str,
    seq: u32,
    url: &str,
    title: &str,
) -> Value {
    let credential =
        vitrine_core::access::visitor_credential(TEST_VISITOR_KEY.as_bytes(), site, visitor_id);
    json!({
        "type": "hello", "v": 1, "credential": credential, "visit_id": visit_id, "visit_age_ms": 0,
        "page": {"seq": seq, "url": url, "title": title, "referrer": null, "opened_ms_ago": 0}
    })
}

/// A `hello` that proves nothing (a new browser, or someone who only knows an ID).
pub fn anonymous_hello(visit_id: &str) -> Value {
    json!({
        "type": "hello", "v": 1, "visit_id": visit_id, "visit_age_ms": 0,
        "page": {"seq": 1, "url": "https://shop.example/", "title": "Shop", "referrer": null, "opened_ms_ago": 0}
    })
}

pub fn page_view(seq: u32, url: &str, title: &str) -> Value {
    json!({"type": "page_view", "seq": seq, "url": url, "title": title})
}

/// The upserted row for `visitor_id` in a `visitors_changed` or `snapshot` frame.
pub fn row<'a>(frame: &'a Value, visitor_id: &str) -> Option<&'a Value> {
    let list = match frame["type"].as_str()? {
        "visitors_changed" => &frame["upserts"],
        "snapshot" => &frame["visitors"],
        _ => return None,
    };
    list.as_array()?
        .iter()
        .find(|v| v["visitor_id"] == visitor_id)
}

/// A widget's chat message.
pub fn visitor_message(client_id: &str, text: &str) -> Value {
    json!({"type": "send_message", "client_id": client_id, "text": text, "page_url": "https://shop.example/lamp"})
}

/// An agent's text message in a conversation.
pub fn agent_message(conversation_id: &str, client_id: &str, text: &str) -> Value {
    json!({"type": "send_message", "conversation_id": conversation_id, "client_id": client_id,
           "body": {"kind": "text", "text": text}})
}

/// A `hello` that resumes chat after `after_seq`.
pub fn hello_resuming(site: &str, visitor_id: &str, visit_id: &str, after_seq: u64) -> Value {
    let mut h = hello(
        site,
        visitor_id,
        visit_id,
        1,
        "https://shop.example/",
        "Catalogue",
    );
    h["chat_after_seq"] = json!(after_seq);
    h
}

/// An HTTP client that carries a session cookie.
pub struct Api {
    pub base: String,
    pub cookie: String,
    http: reqwest::Client,
}

impl Api {
    pub async fn login(base: &str, email: &str, password: &str) -> Result<Self> {
        Self::login_to(base, email, password, None).await
    }

    pub async fn login_to(
        base: &str,
        email: &str,
        password: &str,
        account_id: Option<&str>,
    ) -> Result<Self> {
        Ok(Self {
            base: base.to_string(),
            cookie: login_to(base, email, password, account_id).await?,
            http: reqwest::Client::new(),
        })
    }

    /// Uses an invitation link's token with `password` (the one a new person chooses, or
    /// the person's own): the API signed in to the new account, and the agent it made.
    pub async fn accept_invitation(
        base: &str,
        token: &str,
        password: &str,
    ) -> Result<(Self, Value)> {
        let res = reqwest::Client::new()
            .post(format!("{base}/api/invitation/accept"))
            .json(&json!({"token": token, "password": password}))
            .send()
            .await?;
        let status = res.status();
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let (true, Some(cookie)) = (status.is_success(), cookie) else {
            bail!("accepting the invitation failed: {status} {body}");
        };
        let api = Self {
            base: base.to_string(),
            cookie,
            http: reqwest::Client::new(),
        };
        Ok((api, body["agent"].clone()))
    }

    /// As an admin on a server without platform e-mail (its answer shows the link),
    /// invites `email` and accepts as the invitee with `password`: the invitee's API and
    /// agent ID.
    pub async fn invite_and_accept(
        &self,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> Result<(Self, String)> {
        let (status, invited) = self
            .call(
                "POST",
                "/api/admin/agents",
                Some(json!({"email": email, "name": name, "role": role})),
            )
            .await?;
        if status != 201 {
            bail!("inviting {email} failed: {status} {invited}");
        }
        let token = link_token(invited["link_path"].as_str().unwrap_or_default(), "invite")
            .with_context(|| format!("no link shown: {invited}"))?;
        let (api, agent) = Self::accept_invitation(&self.base, &token, password).await?;
        let id = agent["agent_id"].as_str().context("no agent")?.to_string();
        Ok((api, id))
    }

    /// Sends a request; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method.parse()?, format!("{}{path}", self.base))
            .header("cookie", &self.cookie);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text)?
            },
        ))
    }

    pub async fn raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Result<(u16, Value)> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }
}

/// Helpers shared by the load generators (`src/bin/`).
pub mod bench {
    use anyhow::{Context, Result};

    /// The resident memory of process `pid` (Linux), in KiB.
    pub fn rss_kib(pid: u32) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("bad VmRSS")?
            .parse()?)
    }

    /// `vitrine_store_requests_total` from the server's operator listener (`/metrics`):
    /// the store requests its hubs made, almost all of them writes.
    pub async fn store_writes(metrics: &str) -> Result<u64> {
        let text = reqwest::get(format!("{metrics}/metrics"))
            .await?
            .text()
            .await?;
        let line = text
            .lines()
            .find(|l| l.starts_with("vitrine_store_requests_total "))
            .context("no metric")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("bad metric")?
            .parse()?)
    }

    /// What a benchmark's server did, counted by the server itself.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct Counts {
        /// Store requests the site's hub made.
        pub store_requests: u64,
        /// HTTP requests to DynamoDB (the Worker's objects; 0 on the SQLite server).
        pub dynamodb_requests: u64,
        /// Frames that reached the Worker's object plus its alarms: the times the runtime
        /// had to run it (answered pings are not among them). 0 on the local server.
        pub object_events: u64,
    }

    impl std::ops::Sub for Counts {
        type Output = Counts;
        fn sub(self, before: Counts) -> Counts {
            Counts {
                store_requests: self.store_requests - before.store_requests,
                dynamodb_requests: self.dynamodb_requests - before.dynamodb_requests,
                object_events: self.object_events - before.object_events,
            }
        }
    }

    /// Where the counts come from: the local server's `/metrics`, or the Worker's
    /// per-site `/internal/stats` (with the operator token).
    pub enum Counter {
        Metrics(String),
        Worker {
            url: String,
            site: String,
            token: String,
        },
    }

    impl Counter {
        pub fn new(metrics: Option<&str>, worker: &str, site: &str, token: Option<&str>) -> Self {
            match (metrics, token) {
                (_, Some(token)) => Counter::Worker {
                    url: worker.into(),
                    site: site.into(),
                    token: token.into(),
                },
                (Some(metrics), None) => Counter::Metrics(metrics.into()),
                (None, None) => panic!("a benchmark needs --metrics or --operator-token"),
            }
        }

        pub fn is_edge(&self) -> bool {
            matches!(self, Counter::Worker { .. })
        }

        pub async fn read(&self) -> Result<Counts> {
            match self {
                Counter::Metrics(metrics) => Ok(Counts {
                    store_requests: store_writes(metrics).await?,
                    ..Counts::default()
                }),
                Counter::Worker { url, site, token } => {
                    let stats: serde_json::Value = reqwest::Client::new()
                        .get(format!("{url}/internal/stats?site={site}"))
                        .bearer_auth(token)
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    let n = |name: &str| stats[name].as_u64().context("a counter is missing");
                    Ok(Counts {
                        store_requests: n("store_requests")?,
                        dynamodb_requests: n("dynamodb_requests")?,
                        object_events: n("frames_in")? + n("alarms")?,
                    })
                }
            }
        }
    }

    /// The `p` quantile (0–1) of sorted samples.
    pub fn percentile(sorted: &[f64], p: f64) -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
    }

    /// A tiny deterministic PRNG (xorshift), so runs are comparable.
    pub struct Rng(pub u64);
    impl Rng {
        pub fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
            lo + self.next_u64() % (hi - lo)
        }
    }
}
