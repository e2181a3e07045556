//! The media node: a str0m SFU ([`sfu`]) driven by a tokio runtime — one UDP socket for
//! all media, an HTTP server for the signaling WebSocket (`/ws/call`), the platform's
//! signed commands (`/control`: revoke a seat, end a room), `/health` and `/metrics`, and
//! a reporter that posts call events (signed) back to the platform.

pub mod sdp;
pub mod sfu;
mod standard;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use vitrine_core::clock::now_ms as unix_now;
use vitrine_core::delivery::{self, Delivery};
use vitrine_core::media_key::{
    read_media_command, sign_body, verify_call_token, CallClaims, ReplayGuard, SignedError,
    TokenError, SIGNATURE_HEADER,
};
use vitrine_core::protocol::media::*;

use sfu::{ConnId, JoinError, Sfu, SfuConfig, SfuOutput, SfuStats};

/// Biggest signaling frame accepted (an SDP offer for 11 participants is ~20 KB).
const MAX_FRAME_BYTES: usize = 128 * 1024;
/// A client must send `join` this soon after connecting.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Malformed frames tolerated before the socket is closed.
const MAX_BAD_FRAMES: u32 = 5;
/// Signaling frames a participant may send per second, and in one burst. A real client
/// sends an offer per track change, a layer switch per resize, a ping every few seconds.
const FRAMES_PER_SECOND: u32 = 20;
const FRAME_BURST: u32 = 60;
/// Biggest body `/control` accepts (a signed command is a few hundred bytes).
const MAX_CONTROL_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Shared with the platform: verifies call tokens, signs call events.
    pub key: Vec<u8>,
    /// Where call events are POSTed (`None`: only logged).
    pub events_url: Option<String>,
    /// The UDP address advertised to browsers (public IP on a VM).
    pub public_ip: Option<std::net::IpAddr>,
    pub connect_timeout: Duration,
    /// How long a guest's dropped socket keeps their place (page navigation, V8).
    pub rejoin_grace: Duration,
    /// On shutdown, how long running calls may continue before they are ended.
    pub drain_timeout: Duration,
    /// Signaling sockets open at once; more are refused with 503.
    pub max_connections: usize,
    /// Of those, sockets that have not sent a valid `join` yet (they cost a stranger
    /// nothing, so they get a smaller share).
    pub max_unjoined: usize,
}

impl NodeConfig {
    pub fn new(key: Vec<u8>) -> Self {
        Self {
            key,
            events_url: None,
            public_ip: None,
            connect_timeout: Duration::from_secs(15),
            rejoin_grace: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_unjoined: 256,
        }
    }
}

enum Command {
    Join {
        conn: ConnId,
        claims: CallClaims,
        outbox: mpsc::Sender<Outgoing>,
    },
    Frame {
        conn: ConnId,
        frame: CallClientFrame,
    },
    Gone {
        conn: ConnId,
    },
    Stats(oneshot::Sender<SfuStats>),
    /// The platform's word on a room (signed and fresh).
    Media(MediaCommand),
    /// Refuse new joins from now on.
    Drain,
    /// End every room and stop the SFU task.
    Stop,
}

#[derive(Debug)]
enum Outgoing {
    Frame(CallServerFrame),
    Close,
}

#[derive(Clone)]
struct Shared {
    key: Arc<Vec<u8>>,
    /// Commands already obeyed (a replay is refused).
    commands_seen: Arc<std::sync::Mutex<ReplayGuard>>,
    commands: mpsc::UnboundedSender<Command>,
    draining: watch::Receiver<bool>,
    next_conn: Arc<std::sync::atomic::AtomicU64>,
    connections: Arc<Semaphore>,
    unjoined: Arc<Semaphore>,
    /// WHIP/WHEP sessions by their resource id (the secret in their `Location`).
    sessions: Arc<std::sync::Mutex<std::collections::HashMap<String, ConnId>>>,
}

/// A running node: its addresses, and a handle to shut it down gracefully.
pub struct RunningNode {
    pub http_addr: SocketAddr,
    pub udp_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl RunningNode {
    /// Graceful drain: no new joins, running rooms get `drain_timeout` to finish, then
    /// everyone gets `ended`. Resolves when the node has stopped.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.done.await;
    }
}

/// Binds and starts the node. `http` and `udp` may use port 0.
pub async fn start(
    config: NodeConfig,
    http: SocketAddr,
    udp: SocketAddr,
) -> std::io::Result<RunningNode> {
    str0m::crypto::from_feature_flags().install_process_default();
    let listener = TcpListener::bind(http).await?;
    let socket = media_socket(udp)?;
    let udp_addr = socket.local_addr()?;
    let http_addr = listener.local_addr()?;
    let candidate = SocketAddr::new(config.public_ip.unwrap_or(udp_addr.ip()), udp_addr.port());
    let sfu = Sfu::new(SfuConfig {
        candidate,
        connect_timeout: config.connect_timeout,
        keyframe_interval: Duration::from_millis(500),
        rejoin_grace: config.rejoin_grace,
        instance: format!("{:x}", unix_now()),
    });

    let (commands, command_rx) = mpsc::unbounded_channel();
    let (draining_tx, draining) = watch::channel(false);
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let reporter = tokio::spawn(report_events(config.clone(), events_rx));
    let stop_commands = commands.clone();
    let shared = Shared {
        key: Arc::new(config.key.clone()),
        commands_seen: Default::default(),
        commands,
        draining,
        next_conn: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        connections: Arc::new(Semaphore::new(config.max_connections)),
        unjoined: Arc::new(Semaphore::new(config.max_unjoined)),
        sessions: Default::default(),
    };
    let app = Router::new()
        .route("/ws/call", get(ws_call))
        .route(
            "/whip/{room}",
            axum::routing::post(standard::whip).layer(DefaultBodyLimit::max(MAX_FRAME_BYTES)),
        )
        .route(
            "/whep/{room}",
            axum::routing::post(standard::whep).layer(DefaultBodyLimit::max(MAX_FRAME_BYTES)),
        )
        .route(
            "/whip/{room}/{resource}",
            axum::routing::delete(standard::stop).patch(standard::no_trickle),
        )
        .route(
            "/whep/{room}/{resource}",
            axum::routing::delete(standard::stop).patch(standard::no_trickle),
        )
        .route(
            "/control",
            axum::routing::post(control).layer(DefaultBodyLimit::max(MAX_CONTROL_BYTES)),
        )
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(shared);

    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let (http_stop_tx, http_stop_rx) = oneshot::channel::<()>();
    let http_task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop_rx.await;
            })
            .await;
    });
    // The forwarding loop gets an OS thread and a single-threaded runtime of its own:
    // the thread that waits on the socket is the one that forwards, with no hand-off
    // between runtime workers per wake-up (measured: fewer context switches per packet).
    let (sfu_done_tx, sfu_done) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("vitrine-sfu".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the SFU's runtime");
            runtime.block_on(async move {
                match UdpSocket::from_std(socket) {
                    Ok(socket) => run_sfu(sfu, socket, command_rx, events_tx).await,
                    Err(e) => tracing::error!("media socket: {e}"),
                }
            });
            let _ = sfu_done_tx.send(());
        })?;
    let drain_timeout = config.drain_timeout;
    let done = tokio::spawn(async move {
        let _ = shutdown_rx.await;
        let _ = draining_tx.send(true);
        let _ = stop_commands.send(Command::Drain);
        // Running calls may finish; then (or at the deadline) everyone gets `ended`.
        let deadline = Instant::now() + drain_timeout;
        while Instant::now() < deadline {
            let (tx, rx) = oneshot::channel();
            if stop_commands.send(Command::Stats(tx)).is_err() {
                break;
            }
            match rx.await {
                Ok(stats) if stats.rooms > 0 => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                _ => break,
            }
        }
        let _ = stop_commands.send(Command::Stop);
        let _ = sfu_done.await;
        let _ = http_stop_tx.send(());
        let _ = http_task.await;
        let _ = reporter.await;
    });
    Ok(RunningNode {
        http_addr,
        udp_addr,
        shutdown: Some(shutdown_tx),
        done,
    })
}

/// `POST /control`: the platform revokes a seat or ends a room. Signed with the media key,
/// fresh (its time within minutes of ours) and never seen before.
async fn control(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let command = match read_media_command(&shared.key, &body, signature) {
        Ok(command) => command,
        Err(SignedError::BadSignature) => return StatusCode::UNAUTHORIZED,
        Err(SignedError::Malformed(_)) => return StatusCode::BAD_REQUEST,
    };
    let fresh = shared.commands_seen.lock().expect("replay guard").admit(
        &command.nonce,
        command.at,
        unix_now(),
    );
    if !fresh {
        return StatusCode::CONFLICT;
    }
    match shared.commands.send(Command::Media(command)) {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn health(State(shared): State<Shared>) -> impl IntoResponse {
    if *shared.draining.borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else {
        (StatusCode::OK, "ok")
    }
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let (tx, rx) = oneshot::channel();
    if shared.commands.send(Command::Stats(tx)).is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let Ok(stats) = rx.await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let body = encode_metrics(&stats);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

fn encode_metrics(stats: &SfuStats) -> String {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::registry::Registry;
    let mut registry = Registry::with_prefix("vitrine_media");
    let gauge = |v: usize| {
        let g: Gauge = Gauge::default();
        g.set(v as i64);
        g
    };
    let counter = |v: u64| {
        let c: Counter = Counter::default();
        c.inc_by(v);
        c
    };
    registry.register("rooms", "Rooms open", gauge(stats.rooms));
    registry.register(
        "participants",
        "Participants connected",
        gauge(stats.participants),
    );
    registry.register(
        "forwarded_frames",
        "Media frames forwarded to subscribers",
        counter(stats.forwarded_frames),
    );
    registry.register(
        "forwarded_bytes",
        "Media payload bytes forwarded to subscribers",
        counter(stats.forwarded_bytes),
    );
    registry.register(
        "joins_refused",
        "Joins refused (room full or draining)",
        counter(stats.joins_refused),
    );
    registry.register(
        "connect_timeouts",
        "Participants dropped because ICE/DTLS never completed",
        counter(stats.connect_timeouts),
    );
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry).expect("encode to String");
    out
}

/// 503 with a hint to come back: the node is at a connection limit.
fn busy(what: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        what,
    )
        .into_response()
}

async fn ws_call(ws: WebSocketUpgrade, State(shared): State<Shared>) -> Response {
    // Both slots are taken before the upgrade, so a flood is refused with a plain 503
    // and never costs a WebSocket task.
    let Ok(slot) = shared.connections.clone().try_acquire_owned() else {
        return busy("the media node is at its connection limit");
    };
    let Ok(unjoined) = shared.unjoined.clone().try_acquire_owned() else {
        return busy("too many connections are waiting to join");
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| participant(socket, shared, slot, unjoined))
}

fn frame_text(frame: &CallServerFrame) -> Message {
    Message::Text(
        serde_json::to_string(frame)
            .expect("frame serializes")
            .into(),
    )
}

/// After the node sends a close, how long the client has to answer it. Dropping the TCP
/// connection at once, with frames from the client still unread, makes the kernel reset
/// it, and a reset can discard the frames the client had not read yet (the `ended` that
/// explains the close).
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);

/// Reads (and drops) what the client still sends until it answers the close, hangs up,
/// or [`CLOSE_HANDSHAKE`] passes.
async fn finish_close<S>(stream: &mut S)
where
    S: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn close_with(socket: &mut WebSocket, code: MediaErrorCode, message: &str, close: u16) {
    let _ = socket
        .send(frame_text(&CallServerFrame::Error {
            code,
            message: message.into(),
        }))
        .await;
    let reason = serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: close,
            reason: reason.into(),
        })))
        .await;
    finish_close(socket).await;
}

/// A frame the WebSocket layer could not read: too big (1009) or not WebSocket (1002).
/// The close says which, where the connection still carries it.
async fn refuse_broken(socket: &mut WebSocket, error: &axum::Error) {
    let reason = error.to_string();
    let code = if reason.contains("too long") {
        1009
    } else {
        1002
    };
    let reason: String = reason.chars().take(120).collect();
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn participant(
    mut socket: WebSocket,
    shared: Shared,
    _slot: OwnedSemaphorePermit,
    unjoined: OwnedSemaphorePermit,
) {
    let first = tokio::time::timeout(JOIN_TIMEOUT, socket.recv()).await;
    if let Ok(Some(Err(e))) = &first {
        return refuse_broken(&mut socket, e).await;
    }
    let Ok(Some(Ok(Message::Text(text)))) = first else {
        return close_with(
            &mut socket,
            MediaErrorCode::JoinExpected,
            "send join first",
            4400,
        )
        .await;
    };
    let (room, token) = match serde_json::from_str::<CallClientFrame>(&text) {
        Ok(CallClientFrame::Join { room, token }) => (room, token),
        _ => {
            return close_with(
                &mut socket,
                MediaErrorCode::JoinExpected,
                "send join first",
                4400,
            )
            .await
        }
    };
    let claims = match verify_call_token(&shared.key, &token, &room, unix_now()) {
        Ok(claims) => claims,
        Err(e) => {
            let code = match e {
                TokenError::Malformed => MediaErrorCode::TokenMalformed,
                TokenError::Forged => MediaErrorCode::TokenForged,
                TokenError::Expired => MediaErrorCode::TokenExpired,
                TokenError::WrongRoom => MediaErrorCode::TokenWrongRoom,
            };
            return close_with(&mut socket, code, &e.to_string(), 4401).await;
        }
    };
    drop(unjoined);
    let conn = shared
        .next_conn
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (outbox, mut outgoing) = mpsc::channel::<Outgoing>(256);
    if shared
        .commands
        .send(Command::Join {
            conn,
            claims,
            outbox,
        })
        .is_err()
    {
        return close_with(
            &mut socket,
            MediaErrorCode::Draining,
            "the media node is stopping",
            4503,
        )
        .await;
    }
    let (mut sink, mut stream) = socket.split();
    let mut bad_frames = 0;
    let rate = governor::RateLimiter::direct(
        governor::Quota::per_second(FRAMES_PER_SECOND.try_into().expect("non-zero"))
            .allow_burst(FRAME_BURST.try_into().expect("non-zero")),
    );
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Text(_))) if rate.check().is_err() => {
                    let error = CallServerFrame::Error {
                        code: MediaErrorCode::RateLimited,
                        message: format!("more than {FRAMES_PER_SECOND} frames a second; slow down"),
                    };
                    let _ = sink.send(frame_text(&error)).await;
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 4429, reason: "rate_limited".into() }))).await;
                    finish_close(&mut stream).await;
                    break;
                }
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<CallClientFrame>(&text) {
                    Ok(frame) => {
                        let _ = shared.commands.send(Command::Frame { conn, frame });
                    }
                    Err(e) => {
                        bad_frames += 1;
                        let error = CallServerFrame::Error { code: MediaErrorCode::BadFrame, message: e.to_string() };
                        if sink.send(frame_text(&error)).await.is_err() || bad_frames >= MAX_BAD_FRAMES {
                            let _ = sink.send(Message::Close(Some(CloseFrame { code: 4400, reason: "too many bad frames".into() }))).await;
                            finish_close(&mut stream).await;
                            break;
                        }
                    }
                },
                Some(Ok(Message::Binary(_))) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1003, reason: "text frames only".into() }))).await;
                    finish_close(&mut stream).await;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let mut socket = sink.reunite(stream).expect("halves of one socket");
                    refuse_broken(&mut socket, &e).await;
                    break;
                }
                None => break,
            },
            out = outgoing.recv() => match out {
                Some(Outgoing::Frame(frame)) => {
                    if sink.send(frame_text(&frame)).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() }))).await;
                    finish_close(&mut stream).await;
                    break;
                }
            },
        }
    }
    let _ = shared.commands.send(Command::Gone { conn });
}

/// Kernel buffers for the media socket: bursts (a keyframe to ten subscribers) must not
/// overflow the 208 KiB default, since a full buffer drops packets silently.
const UDP_BUFFER_BYTES: usize = 4 << 20;

fn media_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(UDP_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Datagrams handled per socket wake-up before signaling and timers get their turn.
const RECV_BATCH: usize = 64;

/// The one task that owns the SFU and the UDP socket.
async fn run_sfu(
    mut sfu: Sfu,
    socket: UdpSocket,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<CallEvent>,
) {
    let local = socket.local_addr().expect("bound socket");
    let mut outboxes: std::collections::HashMap<ConnId, mpsc::Sender<Outgoing>> =
        Default::default();
    let mut buf = vec![0u8; 2048];
    let mut stopping = false;
    // One timer, moved only when str0m's next deadline moves (not one per datagram).
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut deadline = None;
    while !stopping {
        let wake = sfu
            .next_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(500));
        if deadline != Some(wake) {
            timer.as_mut().reset(wake.into());
            deadline = Some(wake);
        }
        tokio::select! {
            _ = socket.readable() => {
                // Drain what the kernel has queued, bounded. Participants that media
                // was forwarded to are polled once for the whole batch.
                for _ in 0..RECV_BATCH {
                    let Ok((n, source)) = socket.try_recv_from(&mut buf) else {
                        break;
                    };
                    sfu.datagram(source, local, &buf[..n], Instant::now(), unix_now());
                }
                sfu.poll(Instant::now(), unix_now());
            }
            command = commands.recv() => {
                let now = Instant::now();
                match command {
                    Some(Command::Join { conn, claims, outbox }) => {
                        match sfu.join(conn, claims, now, unix_now()) {
                            Ok(()) => { outboxes.insert(conn, outbox); }
                            Err(e) => {
                                let (code, message) = match e {
                                    JoinError::RoomFull => (MediaErrorCode::RoomFull, "the call is full"),
                                    JoinError::Draining => (MediaErrorCode::Draining, "the media node is stopping"),
                                    JoinError::Revoked => (MediaErrorCode::TokenRevoked, "this seat was given up; you are no longer in this call"),
                                    JoinError::Ended => (MediaErrorCode::CallEnded, "this call is over"),
                                };
                                let _ = outbox.try_send(Outgoing::Frame(CallServerFrame::Error { code, message: message.into() }));
                                let _ = outbox.try_send(Outgoing::Close);
                            }
                        }
                    }
                    Some(Command::Frame { conn, frame }) => sfu.frame(conn, frame, now, unix_now()),
                    Some(Command::Gone { conn }) => {
                        outboxes.remove(&conn);
                        sfu.socket_closed(conn, now, unix_now());
                    }
                    Some(Command::Stats(tx)) => { let _ = tx.send(sfu.stats()); }
                    Some(Command::Media(command)) => sfu.command(command, now, unix_now()),
                    Some(Command::Drain) => sfu.drain(),
                    Some(Command::Stop) | None => {
                        sfu.end_all("the media node is shutting down", now, unix_now());
                        stopping = true;
                    }
                }
                sfu.poll(now, unix_now());
            }
            _ = &mut timer => {}
        }
        // Timers are due whichever branch woke us: a busy socket must not starve
        // str0m's retransmissions, keepalives and the connect timeout.
        let now = Instant::now();
        if now >= wake {
            sfu.timeout(now, unix_now());
        }
        flush(&mut sfu, &socket, &mut outboxes, &events);
    }
}

/// Carries out what the SFU asked for: datagrams, signaling frames, closes, events.
fn flush(
    sfu: &mut Sfu,
    socket: &UdpSocket,
    outboxes: &mut std::collections::HashMap<ConnId, mpsc::Sender<Outgoing>>,
    events: &mpsc::UnboundedSender<CallEvent>,
) {
    for output in sfu.drain_outputs() {
        match output {
            SfuOutput::Transmit {
                destination,
                contents,
            } => {
                let _ = socket.try_send_to(&contents, destination);
            }
            SfuOutput::Signal { conn, frame } => {
                if let Some(outbox) = outboxes.get(&conn) {
                    if outbox.try_send(Outgoing::Frame(frame)).is_err() {
                        // A signaling socket this far behind is dead weight.
                        let _ = outbox.try_send(Outgoing::Close);
                    }
                }
            }
            SfuOutput::Close { conn } => {
                if let Some(outbox) = outboxes.remove(&conn) {
                    let _ = outbox.try_send(Outgoing::Close);
                }
            }
            SfuOutput::Event(event) => {
                tracing::info!(?event, "call event");
                let _ = events.send(event);
            }
        }
    }
}

/// Posts call events to the platform, signed with the shared key, as `delivery` retries.
async fn report_events(config: NodeConfig, mut events: mpsc::UnboundedReceiver<CallEvent>) {
    let client = reqwest::Client::new();
    while let Some(event) = events.recv().await {
        let Some(url) = &config.events_url else {
            continue;
        };
        let body = serde_json::to_vec(&event).expect("event serializes");
        let signature = sign_body(
            &config.key,
            vitrine_core::media_key::Purpose::CallEvent,
            &body,
        );
        let send = || async {
            let sent = client
                .post(url)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .body(body.clone())
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            sent.ok().map(|r| r.status().as_u16())
        };
        match delivery::deliver(send, tokio::time::sleep).await {
            Delivery::Delivered => {}
            Delivery::Refused(status) => tracing::warn!(status, "call event refused"),
            Delivery::GaveUp => tracing::warn!(?event, "the platform did not hear a call event"),
        }
    }
}
