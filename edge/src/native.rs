//! The native hub adapter: one tokio task per site owns that site's [`Hub`]; every
//! WebSocket is a reader loop feeding the task and a writer task draining a bounded queue.
//! Store writes run in their own tasks so a slow store never stalls live updates.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use vitrine_core::accounts::{self, Site};
use vitrine_core::codec::{self, FrameError};
use vitrine_core::conversations;
use vitrine_core::hub::{AgentIdentity, ConnId, Hub, HubConfig, Input, Output, SiteSettings};
use vitrine_core::protocol::{close_code, ErrorCode, Location, UnixMillis, VisitorServerFrame};
use vitrine_core::records;
use vitrine_core::store::Store;

/// Frames queued for one visitor connection before it counts as too slow and is dropped.
const OUTBOX_CAPACITY: usize = 512;
/// Agents are few and receive every pending conversation's traffic: a deeper queue, so a
/// burst of new chats does not cut off an agent who is merely busy.
const AGENT_OUTBOX_CAPACITY: usize = 8192;
/// Hard cap on a WebSocket message; the protocol's own (smaller) cap gives a clean error.
const TRANSPORT_MAX_MESSAGE: usize = 64 * 1024;
/// Per-socket read buffer; frames are small (≤ 16 KiB, usually < 300 bytes).
const SOCKET_BUFFER: usize = 4 * 1024;
const SITE_CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Default)]
pub struct EdgeConfig {
    pub hub: HubConfig,
    /// Read `CF-IPCountry` / `CF-IPCity` (set by Cloudflare). Off unless a trusted proxy
    /// sets them, since any client could send them.
    pub trust_geo_headers: bool,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct EdgeMetrics {
    pub store_writes: AtomicU64,
    pub store_write_errors: AtomicU64,
    pub visitor_connections: AtomicI64,
    pub agent_connections: AtomicI64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
}

/// All hubs of this process, one per site, started on first use.
pub struct Hubs<S> {
    store: S,
    config: EdgeConfig,
    hubs: Mutex<HashMap<String, mpsc::UnboundedSender<HubMsg>>>,
    sites: Mutex<HashMap<String, (Option<Site>, Instant)>>,
    next_conn: AtomicU64,
    pub metrics: Arc<EdgeMetrics>,
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

fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl<S: Store + Clone> Hubs<S> {
    pub fn new(store: S, config: EdgeConfig) -> Arc<Self> {
        Arc::new(Self {
            store,
            config,
            hubs: Mutex::new(HashMap::new()),
            sites: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            metrics: Arc::new(EdgeMetrics::default()),
        })
    }

    /// `/ws/visitor` and `/ws/agent`.
    pub fn routes(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/ws/visitor", get(visitor_ws::<S>))
            .route("/ws/agent", get(agent_ws::<S>))
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
        let mut config = self.config.hub.clone();
        if let Some(calls) = &mut config.calls {
            calls.site = site.to_string();
        }
        tokio::spawn(run_hub(
            site.to_string(),
            self.store.clone(),
            config,
            rx,
            tx.clone(),
            self.metrics.clone(),
        ));
        hubs.insert(site.to_string(), tx.clone());
        // A new hub knows nothing of its site's settings: the next lookup re-reads them.
        self.sites.lock().expect("site cache").remove(site);
        tx
    }

    /// The active site `site_key` names, if any (cached briefly: one store read per site
    /// per 30 s, not one per connection).
    async fn active_site(&self, site_key: &str) -> Option<Site> {
        if let Some((site, at)) = self.sites.lock().expect("site cache").get(site_key) {
            if at.elapsed() < SITE_CACHE_TTL {
                return site.clone();
            }
        }
        let site = match accounts::get_site(&self.store, site_key).await {
            Ok(site) => site.filter(|s| s.active),
            Err(e) => {
                tracing::warn!(error = %e, "site lookup failed");
                return None;
            }
        };
        self.sites
            .lock()
            .expect("site cache")
            .insert(site_key.to_string(), (site.clone(), Instant::now()));
        // Freshly read: the hub learns its origins and call gating before the
        // connection that caused the read (same channel, so in order).
        if let Some(site) = &site {
            let plan = accounts::account_plan(&self.store, &site.account_id)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "plan lookup failed; treating calls as not included");
                    Default::default()
                });
            let _ = self
                .hub(site_key)
                .send(HubMsg::Input(Input::SiteSettings(SiteSettings {
                    allowed_origins: site.allowed_origins.clone(),
                    calls_in_plan: plan.calls,
                    calls_enabled: site.calls_enabled,
                })));
        }
        site
    }

    /// A call event from the media node, for the hub of its site.
    pub fn call_event(&self, event: vitrine_core::call::CallEvent) {
        let site = event.site.clone();
        let _ = self.hub(&site).send(HubMsg::Input(Input::CallEvent(event)));
    }

    /// After an admin changed a site in this process: forget the cached copy and, if its
    /// hub runs, hand it the new settings now (allowed origins, calls switch and plan).
    pub async fn site_changed(&self, site_key: &str) {
        self.sites.lock().expect("site cache").remove(site_key);
        let running = self
            .hubs
            .lock()
            .expect("hub map lock")
            .get(site_key)
            .is_some_and(|tx| !tx.is_closed());
        if running {
            self.active_site(site_key).await;
        }
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

// -- the hub task --------------------------------------------------------------------------

async fn run_hub<S: Store + Clone>(
    site: String,
    store: S,
    config: HubConfig,
    mut inbox: mpsc::UnboundedReceiver<HubMsg>,
    self_tx: mpsc::UnboundedSender<HubMsg>,
    metrics: Arc<EdgeMetrics>,
) {
    let mut hub = Hub::new(config);
    // Open conversations and blocks come back from the store before any input is handled
    // (inputs wait in the channel meanwhile), so numbering resumes where it stopped.
    let mut attempt = 0;
    loop {
        match conversations::load_open(&store, &site).await {
            Ok(restored) => {
                tracing::info!(site = %site, open = restored.conversations.len(), "hub restored");
                hub.restore(restored);
                break;
            }
            Err(e) if attempt < 5 => {
                attempt += 1;
                tracing::warn!(site = %site, error = %e, "restoring the hub failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => {
                // Without its state the hub would hand out sequence numbers twice.
                tracing::error!(site = %site, error = %e, "cannot restore the hub; stopping it");
                return;
            }
        }
    }
    let mut outboxes: HashMap<ConnId, mpsc::Sender<Outgoing>> = HashMap::new();
    tracing::info!(site = %site, "hub started");
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
                Output::Record(record) => {
                    let (store, site, tx, metrics) = (
                        store.clone(),
                        site.clone(),
                        self_tx.clone(),
                        metrics.clone(),
                    );
                    tokio::spawn(async move {
                        metrics.store_writes.fetch_add(1, Ordering::Relaxed);
                        let answer = match records::write_record(&store, &site, &record).await {
                            Ok(records::Written::Visit {
                                visitor_id,
                                visit_id,
                                visit_count,
                            }) => Some(Input::VisitRecorded {
                                visitor_id,
                                visit_id,
                                visit_count,
                            }),
                            Ok(records::Written::Message {
                                conversation_id,
                                seq,
                            }) => Some(Input::MessageStored {
                                conversation_id,
                                seq,
                            }),
                            Ok(records::Written::Nothing) => None,
                            Err(e) => {
                                metrics.store_write_errors.fetch_add(1, Ordering::Relaxed);
                                tracing::error!(site = %site, error = %e, "store write failed");
                                match record {
                                    records::Record::Message(m) => Some(Input::MessageFailed {
                                        conversation_id: m.conversation_id,
                                        seq: m.seq,
                                    }),
                                    _ => None,
                                }
                            }
                        };
                        if let Some(input) = answer {
                            let _ = tx.send(HubMsg::Input(input));
                        }
                    });
                }
                Output::LoadConversation { conversation_id } => {
                    let (store, site, tx) = (store.clone(), site.clone(), self_tx.clone());
                    tokio::spawn(async move {
                        let loaded = conversations::load_conversation(&store, &site, &conversation_id)
                            .await
                            .unwrap_or_else(|e| {
                                tracing::error!(site = %site, error = %e, "loading a conversation failed");
                                None
                            });
                        let _ = tx.send(HubMsg::Input(Input::ConversationLoaded {
                            conversation_id,
                            loaded,
                        }));
                    });
                }
            }
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
            metrics.frames_out.fetch_add(1, Ordering::Relaxed);
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(conn, "connection too slow; dropping it");
            outboxes.remove(&conn);
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            outboxes.remove(&conn);
        }
    }
}

// -- WebSocket endpoints -------------------------------------------------------------------

#[derive(Deserialize)]
struct VisitorParams {
    site: String,
}

async fn visitor_ws<S: Store + Clone>(
    State(hubs): State<Arc<Hubs<S>>>,
    Query(params): Query<VisitorParams>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let site = hubs.active_site(&params.site).await;
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    let origin_allowed = site.as_ref().is_some_and(|s| s.allows_origin(origin));
    let location = hubs.location(&headers);
    ws.max_message_size(TRANSPORT_MAX_MESSAGE)
        // tungstenite's 128 KiB default buffers per socket would dwarf a visitor's state.
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            if site.is_none() {
                // Accept, then close with a code: a browser cannot read an HTTP error status.
                close_now(
                    socket,
                    close_code::UNKNOWN_SITE,
                    "unknown or inactive site key",
                )
                .await;
                return;
            }
            if !origin_allowed {
                close_now(
                    socket,
                    close_code::FORBIDDEN,
                    "this page's origin is not allowed for this site key",
                )
                .await;
                return;
            }
            let conn = hubs.next_conn.fetch_add(1, Ordering::Relaxed);
            let input = Input::VisitorConnected { conn, location };
            hubs.metrics
                .visitor_connections
                .fetch_add(1, Ordering::Relaxed);
            serve(
                hubs.hub(&params.site),
                conn,
                socket,
                input,
                Role::Visitor,
                &hubs.metrics,
            )
            .await;
            hubs.metrics
                .visitor_connections
                .fetch_sub(1, Ordering::Relaxed);
        })
}

#[derive(Deserialize)]
struct AgentParams {
    site: String,
    #[serde(default)]
    available: Option<u8>,
}

async fn agent_ws<S: Store + Clone>(
    State(hubs): State<Arc<Hubs<S>>>,
    Query(params): Query<AgentParams>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let verdict = authorize_agent(&hubs, &params.site, &headers).await;
    ws.max_message_size(TRANSPORT_MAX_MESSAGE)
        // tungstenite's 128 KiB default buffers per socket would dwarf a visitor's state.
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            let agent = match verdict {
                Ok(agent) => agent,
                Err((code, reason)) => return close_now(socket, code, reason).await,
            };
            let conn = hubs.next_conn.fetch_add(1, Ordering::Relaxed);
            let input = Input::AgentConnected {
                conn,
                agent,
                available: params.available.unwrap_or(1) != 0,
            };
            hubs.metrics
                .agent_connections
                .fetch_add(1, Ordering::Relaxed);
            serve(
                hubs.hub(&params.site),
                conn,
                socket,
                input,
                Role::Agent,
                &hubs.metrics,
            )
            .await;
            hubs.metrics
                .agent_connections
                .fetch_sub(1, Ordering::Relaxed);
        })
}

/// An agent socket needs a live session cookie, a chat the agent works on (their account's,
/// and assigned to them unless admin), and must come from the portal's own origin (no
/// cross-site WebSocket hijacking).
async fn authorize_agent<S: Store + Clone>(
    hubs: &Hubs<S>,
    site: &str,
    headers: &HeaderMap,
) -> Result<AgentIdentity, (u16, &'static str)> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    let same_origin = match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host)),
        // Non-browser clients send no Origin; the session cookie still has to be valid.
        (None, _) => true,
        _ => false,
    };
    if !same_origin {
        return Err((
            close_code::FORBIDDEN,
            "agent sockets must come from the portal's origin",
        ));
    }
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(accounts::token_from_cookie_header)
        .ok_or((close_code::UNAUTHORIZED, "sign in first"))?;
    let now_secs = now_ms() / 1000;
    let unavailable = (
        close_code::UNAUTHORIZED,
        "could not check the session; try again",
    );
    let session = accounts::session(&hubs.store, token, now_secs)
        .await
        .map_err(|_| unavailable)?
        .ok_or((close_code::UNAUTHORIZED, "session expired; sign in again"))?;
    let agent = accounts::agent_by_email(&hubs.store, &session.email)
        .await
        .map_err(|_| unavailable)?
        .ok_or((close_code::UNAUTHORIZED, "account no longer exists"))?;
    accounts::site_for_agent(&hubs.store, &agent, site)
        .await
        .map_err(|_| unavailable)?
        .ok_or((close_code::FORBIDDEN, "not a chat you are assigned to"))?;
    // The hub must know the chat's settings (call gating) before the agent's snapshot.
    hubs.active_site(site).await;
    Ok(AgentIdentity {
        agent_id: agent.agent_id,
        name: agent.name,
        expert: agent.role == accounts::Role::Expert,
    })
}

async fn close_now(mut socket: WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

#[derive(Clone, Copy)]
enum Role {
    Visitor,
    Agent,
}

/// Runs one connection until either side closes it.
async fn serve(
    hub: mpsc::UnboundedSender<HubMsg>,
    conn: ConnId,
    socket: WebSocket,
    connected: Input,
    role: Role,
    metrics: &EdgeMetrics,
) {
    let (mut sink, mut stream) = socket.split();
    let capacity = match role {
        Role::Visitor => OUTBOX_CAPACITY,
        Role::Agent => AGENT_OUTBOX_CAPACITY,
    };
    let (outbox, mut queue) = mpsc::channel::<Outgoing>(capacity);
    if hub
        .send(HubMsg::Connect {
            conn,
            outbox: outbox.clone(),
            input: connected,
        })
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(out) = queue.recv().await {
            let result = match out {
                Outgoing::Text(text) => sink.send(Message::Text(text.into())).await,
                Outgoing::Close(code, reason) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        })))
                        .await;
                    return;
                }
            };
            if result.is_err() {
                return;
            }
        }
        // The hub dropped this connection (too slow, or gone).
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: close_code::TOO_SLOW,
                reason: "connection dropped by the server".into(),
            })))
            .await;
    });
    while let Some(Ok(message)) = stream.next().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                let error = FrameError::new(
                    ErrorCode::BadFrame,
                    "binary frames are not supported; send JSON text",
                );
                let _ = hub.send(HubMsg::Input(Input::Rejected { conn, error }));
                continue;
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        metrics.frames_in.fetch_add(1, Ordering::Relaxed);
        let input = match role {
            Role::Visitor => match codec::decode_visitor_frame(&text) {
                Ok(frame) => Input::FromVisitor { conn, frame },
                Err(error) => Input::Rejected { conn, error },
            },
            Role::Agent => match codec::decode_agent_frame(&text) {
                Ok(frame) => Input::FromAgent { conn, frame },
                Err(error) => Input::Rejected { conn, error },
            },
        };
        if let Input::Rejected { error, .. } = &input {
            if error.code == ErrorCode::Oversize {
                // Answer and close from here, in this order; the hub never sees the frame.
                // (Visitor and agent error frames have the same JSON shape.)
                let frame = codec::encode(&VisitorServerFrame::Error(error.to_frame()));
                let _ = outbox.send(Outgoing::Text(frame)).await;
                let _ = outbox
                    .send(Outgoing::Close(
                        close_code::MESSAGE_TOO_BIG,
                        "frame too large".into(),
                    ))
                    .await;
                break;
            }
        }
        if hub.send(HubMsg::Input(input)).is_err() {
            break;
        }
    }
    let _ = hub.send(HubMsg::Input(Input::Disconnected { conn }));
    drop(outbox);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}
