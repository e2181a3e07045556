//! The native hub adapter (the local server): one tokio task per site owns that site's
//! [`Hub`]; every WebSocket is a reader loop feeding the task and a writer task draining
//! a bounded queue. It keeps the hub's run loop (see `vitrine_core::hub`) and decides
//! nothing itself: admission is `vitrine_core::access`, decoding `codec::inbound`, store
//! work `storage::perform`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::net::SocketAddr;
use tokio::sync::mpsc;

use vitrine_core::access::{self, AddressCaps, AgentHandshake, Refusal, SiteCache, SiteRecord};
use vitrine_core::changes::Changed;
use vitrine_core::clock::now_ms;
use vitrine_core::codec::{self, Payload, Side};
use vitrine_core::delivery::{self, Delivery};
use vitrine_core::hub::{storage, Hub, HubConfig, Input, Output};
use vitrine_core::media_key::{self, SignedError};
use vitrine_core::protocol::media::MediaCommand;
use vitrine_core::protocol::{close_code, ConnId, Location, MAX_FRAME_BYTES};
use vitrine_core::store::Store;

use crate::metrics::EdgeMetrics;

/// Frames queued for one visitor connection before it counts as too slow and is dropped.
const OUTBOX_CAPACITY: usize = 512;
/// Agents are few and receive every pending conversation's traffic: a deeper queue, so a
/// burst of new conversations does not cut off an agent who is merely busy.
const AGENT_OUTBOX_CAPACITY: usize = 8192;
/// The transport refuses messages past twice the protocol's cap; between the two, the hub
/// answers `oversize` and closes with 1009 (a clear error instead of a dropped socket).
const TRANSPORT_MAX_MESSAGE: usize = 2 * MAX_FRAME_BYTES;
/// Per-socket read buffer; frames are small (≤ 16 KiB, usually < 300 bytes).
const SOCKET_BUFFER: usize = 4 * 1024;
/// After the server closes a socket, how long the client has to answer the close.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(5);
const SITE_CACHE_TTL_MS: u64 = 30_000;
const SITE_CACHE_CAPACITY: usize = 10_000;

#[derive(Clone, Debug)]
pub struct EdgeConfig {
    pub hub: HubConfig,
    /// Read `CF-IPCountry` / `CF-IPCity` (set by Cloudflare). Off unless a trusted proxy
    /// sets them, since any client could send them.
    pub trust_geo_headers: bool,
    /// The key shared with the media node: `/internal/call-events` needs it, and the
    /// commands sent to the node are signed with it.
    pub call_key: Option<Vec<u8>>,
    /// The media node's `/control` URL (seats revoked, rooms ended).
    pub media_control_url: Option<String>,
    /// Sockets one network address may hold open at once.
    pub sockets_per_address: usize,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            hub: HubConfig::default(),
            trust_geo_headers: false,
            call_key: None,
            media_control_url: None,
            sockets_per_address: 100,
        }
    }
}

/// All hubs of this process, one per site, started on first use.
pub struct Hubs<S> {
    store: S,
    config: EdgeConfig,
    hubs: Mutex<HashMap<String, mpsc::UnboundedSender<HubMsg>>>,
    sites: Mutex<SiteCache>,
    addresses: Mutex<AddressCaps>,
    next_conn: AtomicU64,
    /// Commands for the media node go out through this (one HTTP client per process).
    media: Option<MediaControl>,
    pub metrics: Arc<EdgeMetrics>,
}

/// Where, and with which key, commands for the media node are sent.
#[derive(Clone)]
struct MediaControl {
    url: String,
    key: Vec<u8>,
    http: reqwest::Client,
}

enum HubMsg {
    Connect {
        conn: ConnId,
        outbox: mpsc::Sender<Outgoing>,
        input: Input,
    },
    Input(Input),
}

enum Outgoing {
    Text(String),
    Close(u16, String),
}

impl<S: Store + Clone + Sync + 'static> Hubs<S> {
    pub fn new(store: S, config: EdgeConfig) -> Arc<Self> {
        let media = match (&config.media_control_url, &config.call_key) {
            (Some(url), Some(key)) => Some(MediaControl {
                url: url.clone(),
                key: key.clone(),
                http: reqwest::Client::new(),
            }),
            _ => None,
        };
        Arc::new(Self {
            addresses: Mutex::new(AddressCaps::new(config.sockets_per_address)),
            store,
            config,
            hubs: Mutex::new(HashMap::new()),
            sites: Mutex::new(SiteCache::new(SITE_CACHE_TTL_MS, SITE_CACHE_CAPACITY)),
            next_conn: AtomicU64::new(1),
            media,
            metrics: Arc::new(EdgeMetrics::default()),
        })
    }

    /// `/ws/visitor`, `/ws/agent`, and (with a call key) `/internal/call-events`.
    pub fn routes(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/ws/visitor", get(visitor_ws::<S>))
            .route("/ws/agent", get(agent_ws::<S>))
            .route("/internal/call-events", post(call_event::<S>))
            .with_state(self.clone())
    }

    fn hub(&self, site: &str) -> mpsc::UnboundedSender<HubMsg> {
        let mut hubs = self.hubs.lock().expect("hub map lock");
        if let Some(tx) = hubs.get(site) {
            if !tx.is_closed() {
                return tx.clone();
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let hub = Hub::new(site, self.config.hub.clone());
        tokio::spawn(run_hub(
            hub,
            self.store.clone(),
            rx,
            tx.clone(),
            self.media.clone(),
            self.metrics.clone(),
        ));
        self.metrics.hubs.inc();
        hubs.insert(site.to_string(), tx.clone());
        tx
    }

    fn running(&self, site: &str) -> bool {
        self.hubs
            .lock()
            .expect("hub map lock")
            .get(site)
            .is_some_and(|tx| !tx.is_closed())
    }

    fn input(&self, site: &str, input: Input) {
        let _ = self.hub(site).send(HubMsg::Input(input));
    }

    /// The active site `key` names (cached briefly: one store read per site per 30 s,
    /// not one per connection). A fresh read goes to the site's hub as its settings.
    async fn site(&self, key: &str) -> Result<Option<SiteRecord>, ()> {
        if let Some(site) = self.sites.lock().expect("site cache").get(key, now_ms()) {
            return Ok(Some(site.clone()));
        }
        let site = access::load_site(&self.store, key).await.map_err(|e| {
            tracing::warn!(error = %e, "site lookup failed");
        })?;
        if let Some(site) = &site {
            self.fresh_site(site);
        }
        Ok(site)
    }

    fn fresh_site(&self, site: &SiteRecord) {
        let mut cache = self.sites.lock().expect("site cache");
        cache.insert(site.clone(), now_ms());
        self.metrics.cached_sites.set(cache.len() as i64);
        drop(cache);
        // Same channel as the connection that caused the read: the hub learns its origins
        // and call gating before that connection's frames.
        self.input(&site.site.site_key, Input::SiteSettings(site.settings()));
    }

    /// Applies an admin's change to the running hubs now: a site's new settings
    /// (origins, consultants, calls switch, plan); an agent's new role, or their removal
    /// (their sockets close, or a demoted one's may); an ended session's sockets close.
    pub async fn changed(&self, change: &Changed) {
        let input = match change {
            Changed::Site { site_key } => {
                self.sites.lock().expect("site cache").forget(site_key);
                if self.running(site_key) {
                    let _ = self.site(site_key).await;
                }
                return;
            }
            Changed::Agent { agent_id, .. } => Input::AgentChanged {
                agent_id: agent_id.clone(),
                agent: access::agent_identity(&self.store, agent_id)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "agent lookup failed; their sockets close");
                        None
                    }),
            },
            Changed::Session {
                agent_id, session, ..
            } => Input::SessionEnded {
                agent_id: agent_id.clone(),
                session: session.clone(),
            },
        };
        for hub in self.hubs.lock().expect("hub map lock").values() {
            let _ = hub.send(HubMsg::Input(input.clone()));
        }
    }

    /// Counts a socket from `address` against its cap; the guard releases it.
    fn admit_address(self: &Arc<Self>, address: &str) -> Option<AddressGuard<S>> {
        let admitted = self.addresses.lock().expect("address caps").open(address);
        if !admitted {
            self.metrics.sockets_refused.inc();
            return None;
        }
        Some(AddressGuard {
            hubs: self.clone(),
            address: address.to_string(),
        })
    }

    fn location(&self, headers: &HeaderMap) -> Location {
        if !self.config.trust_geo_headers {
            return Location::default();
        }
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().chars().take(64).collect::<String>())
                .filter(|v| !v.is_empty() && v != "XX")
        };
        Location {
            country: get("cf-ipcountry"),
            city: get("cf-ipcity"),
        }
    }
}

/// One socket counted against its address's cap, until dropped.
struct AddressGuard<S: Store + Clone + Sync + 'static> {
    hubs: Arc<Hubs<S>>,
    address: String,
}

impl<S: Store + Clone + Sync + 'static> Drop for AddressGuard<S> {
    fn drop(&mut self) {
        self.hubs
            .addresses
            .lock()
            .expect("address caps")
            .close(&self.address);
    }
}

// -- the hub task --------------------------------------------------------------------------

/// The hub's run loop: inputs in, `handle` with the time, outputs carried out.
async fn run_hub<S: Store + Clone + Sync + 'static>(
    mut hub: Hub,
    store: S,
    mut inbox: mpsc::UnboundedReceiver<HubMsg>,
    self_tx: mpsc::UnboundedSender<HubMsg>,
    media: Option<MediaControl>,
    metrics: Arc<EdgeMetrics>,
) {
    let mut outboxes: HashMap<ConnId, mpsc::Sender<Outgoing>> = HashMap::new();
    loop {
        let msg = match hub.next_wakeup() {
            Some(at) => {
                let wait = Duration::from_millis(at.saturating_sub(now_ms()));
                tokio::select! {
                    msg = inbox.recv() => msg,
                    _ = tokio::time::sleep(wait) => Some(HubMsg::Input(Input::Tick)),
                }
            }
            None => inbox.recv().await,
        };
        let input = match msg {
            Some(HubMsg::Connect {
                conn,
                outbox,
                input,
            }) => {
                outboxes.insert(conn, outbox);
                input
            }
            Some(HubMsg::Input(input)) => input,
            None => break,
        };
        if let Input::Disconnected { conn } = &input {
            outboxes.remove(conn);
        }
        for output in hub.handle(input, now_ms()) {
            match output {
                Output::ToVisitor { conn, frame } => deliver(
                    &mut outboxes,
                    conn,
                    Outgoing::Text(codec::encode(&frame)),
                    &metrics,
                ),
                Output::ToAgent { conn, frame } => deliver(
                    &mut outboxes,
                    conn,
                    Outgoing::Text(codec::encode(&frame)),
                    &metrics,
                ),
                Output::Close { conn, code, reason } => {
                    deliver(&mut outboxes, conn, Outgoing::Close(code, reason), &metrics);
                    outboxes.remove(&conn);
                }
                Output::Store(request) => {
                    let (store, site, tx, metrics) = (
                        store.clone(),
                        hub.site().to_string(),
                        self_tx.clone(),
                        metrics.clone(),
                    );
                    metrics.store_requests.inc();
                    tokio::spawn(async move {
                        let reply = storage::perform(&store, &site, request).await;
                        if let Err(e) = &reply.result {
                            metrics.store_errors.inc();
                            tracing::warn!(site = %site, error = %e, "store request failed");
                        }
                        let _ = tx.send(HubMsg::Input(Input::Stored(reply)));
                    });
                }
                Output::Media(command) => {
                    if let Some(media) = media.clone() {
                        tokio::spawn(send_to_media_node(media, command));
                    }
                }
                // This process keeps its hubs as long as their sockets.
                Output::Remember { .. } => {}
            }
        }
    }
    metrics.hubs.dec();
}

/// POSTs a command to the media node, signed with the media key, as [`delivery`] retries
/// (a revocation that never arrives leaves a seat open until its token expires).
async fn send_to_media_node(media: MediaControl, command: MediaCommand) {
    let body = serde_json::to_vec(&command).expect("commands serialize");
    let signature = media_key::sign_body(&media.key, media_key::Purpose::MediaCommand, &body);
    let send = || async {
        let sent = media
            .http
            .post(&media.url)
            .header("content-type", "application/json")
            .header(media_key::SIGNATURE_HEADER, &signature)
            .body(body.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        sent.ok().map(|r| r.status().as_u16())
    };
    match delivery::deliver(send, tokio::time::sleep).await {
        Delivery::Delivered => {}
        Delivery::Refused(status) => tracing::warn!(status, "media node refused a command"),
        Delivery::GaveUp => {
            tracing::warn!(room = %command.room, "media node unreachable; a seat stays open until its token expires")
        }
    }
}

/// Queues a frame; a connection whose queue is full is too slow to keep and is dropped
/// (its writer then closes the socket), so one stuck browser never holds up the hub.
fn deliver(
    outboxes: &mut HashMap<ConnId, mpsc::Sender<Outgoing>>,
    conn: ConnId,
    out: Outgoing,
    metrics: &EdgeMetrics,
) {
    let Some(outbox) = outboxes.get(&conn) else {
        return;
    };
    match outbox.try_send(out) {
        Ok(()) => {
            metrics.frames_out.inc();
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(conn, "connection too slow; dropping it");
            metrics.slow_consumers.inc();
            outboxes.remove(&conn);
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            outboxes.remove(&conn);
        }
    }
}

// -- endpoints -------------------------------------------------------------------------------

#[derive(Deserialize)]
struct VisitorParams {
    site: String,
}

fn upgrade(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(TRANSPORT_MAX_MESSAGE)
        .max_frame_size(TRANSPORT_MAX_MESSAGE)
        // tungstenite's 128 KiB default buffers per socket would dwarf a visitor's state.
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|h| h.to_str().ok())
}

async fn visitor_ws<S: Store + Clone + Sync + 'static>(
    State(hubs): State<Arc<Hubs<S>>>,
    Query(params): Query<VisitorParams>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let address = peer.ip().to_string();
    let guard = hubs.admit_address(&address);
    let verdict = match (&guard, hubs.site(&params.site).await) {
        (None, _) => Err(access::TOO_MANY_SOCKETS),
        (Some(_), Ok(site)) => {
            access::admit_visitor(site.as_ref(), header(&headers, header::ORIGIN))
        }
        (Some(_), Err(())) => Err(access::STORE_DOWN),
    };
    let location = hubs.location(&headers);
    upgrade(ws).on_upgrade(move |socket| async move {
        let _guard = guard;
        if let Err(refusal) = verdict {
            return close_now(socket, refusal).await;
        }
        let conn = hubs.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the OS has a random source");
        let input = Input::VisitorConnected {
            conn,
            location,
            address,
            nonce,
        };
        hubs.metrics.visitor_connections.inc();
        serve(&hubs, &params.site, conn, socket, input, Side::Visitor).await;
        hubs.metrics.visitor_connections.dec();
    })
}

#[derive(Deserialize)]
struct AgentParams {
    site: String,
    #[serde(default)]
    available: Option<u8>,
}

async fn agent_ws<S: Store + Clone + Sync + 'static>(
    State(hubs): State<Arc<Hubs<S>>>,
    Query(params): Query<AgentParams>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let guard = hubs.admit_address(&peer.ip().to_string());
    let handshake = AgentHandshake {
        cookie: header(&headers, header::COOKIE),
        origin: header(&headers, header::ORIGIN),
        host: header(&headers, header::HOST),
    };
    let verdict = match &guard {
        Some(_) => access::authorize_agent(&hubs.store, &params.site, handshake, now_ms()).await,
        None => Err(access::TOO_MANY_SOCKETS),
    };
    if let Ok(admitted) = &verdict {
        // The hub must know the site's settings (call gating) before the agent's snapshot.
        hubs.fresh_site(&admitted.site);
    }
    upgrade(ws).on_upgrade(move |socket| async move {
        let _guard = guard;
        let admitted = match verdict {
            Ok(admitted) => admitted,
            Err(refusal) => return close_now(socket, refusal).await,
        };
        let conn = hubs.next_conn.fetch_add(1, Ordering::Relaxed);
        let input = Input::AgentConnected {
            conn,
            agent: admitted.agent,
            session: admitted.session,
            available: params.available.unwrap_or(1) != 0,
        };
        hubs.metrics.agent_connections.inc();
        serve(&hubs, &params.site, conn, socket, input, Side::Agent).await;
        hubs.metrics.agent_connections.dec();
    })
}

/// `POST /internal/call-events`: the media node's signed reports, into the site's hub (C14).
async fn call_event<S: Store + Clone + Sync + 'static>(
    State(hubs): State<Arc<Hubs<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(key) = &hubs.config.call_key else {
        return StatusCode::NOT_FOUND;
    };
    let signature = headers
        .get(media_key::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    match media_key::read_call_event(key, &body, signature) {
        Ok(event) if access::is_site_key(&event.site) => {
            hubs.input(&event.site.clone(), Input::CallEvent(event));
            StatusCode::NO_CONTENT
        }
        Ok(_) | Err(SignedError::Malformed(_)) => StatusCode::BAD_REQUEST,
        Err(SignedError::BadSignature) => StatusCode::UNAUTHORIZED,
    }
}

/// Accepts, then closes with a code: a browser cannot read an HTTP error status from a
/// WebSocket handshake.
async fn close_now(mut socket: WebSocket, refusal: Refusal) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: refusal.code,
            reason: refusal.reason.into(),
        })))
        .await;
}

/// Runs one connection until either side closes it: bytes in go to the hub as inputs,
/// frames the hub queued go out.
async fn serve<S: Store + Clone + Sync + 'static>(
    hubs: &Hubs<S>,
    site: &str,
    conn: ConnId,
    socket: WebSocket,
    connected: Input,
    side: Side,
) {
    let hub = hubs.hub(site);
    let metrics = &hubs.metrics;
    let (mut sink, mut stream) = socket.split();
    let capacity = match side {
        Side::Visitor => OUTBOX_CAPACITY,
        Side::Agent => AGENT_OUTBOX_CAPACITY,
    };
    let (outbox, mut queue) = mpsc::channel::<Outgoing>(capacity);
    let connect = HubMsg::Connect {
        conn,
        outbox,
        input: connected,
    };
    if hub.send(connect).is_err() {
        return;
    }
    let mut writer = tokio::spawn(async move {
        while let Some(out) = queue.recv().await {
            let (code, reason) = match out {
                Outgoing::Text(text) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                    continue;
                }
                Outgoing::Close(code, reason) => (code, reason),
            };
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
            return;
        }
        // The hub dropped this connection (too slow, or gone).
        let frame = CloseFrame {
            code: close_code::OVER_LIMIT,
            reason: "connection dropped by the server".into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    });
    let reader = async {
        while let Some(Ok(message)) = stream.next().await {
            let payload = match &message {
                Message::Text(text) => Payload::Text(text.as_str()),
                Message::Binary(_) => Payload::Binary,
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            metrics.frames_in.inc();
            let input = codec::inbound(conn, side, payload);
            if hub.send(HubMsg::Input(input)).is_err() {
                break;
            }
        }
    };
    tokio::pin!(reader);
    // Whether the writer task has finished: a JoinHandle awaited again panics (seen in
    // `bench cobrowse` as sockets the server closed went: one panic log per socket).
    let written = tokio::select! {
        _ = &mut reader => false,
        // The server closed (or dropped) the socket: the client has a few seconds to
        // answer the close, then the TCP connection goes whatever it does.
        _ = &mut writer => { let _ = tokio::time::timeout(CLOSE_HANDSHAKE, &mut reader).await; true }
    };
    let _ = hub.send(HubMsg::Input(Input::Disconnected { conn }));
    if !written {
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE, writer).await;
    }
}
