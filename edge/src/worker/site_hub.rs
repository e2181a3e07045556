//! One site's hub as a Durable Object. It keeps the hub's run loop (`vitrine_core::hub`)
//! with the Durable Object's means:
//!
//! - **Sockets** are accepted with the Hibernation API: they stay open while the object
//!   sleeps or is evicted. Pings are answered by the runtime's auto-response, so
//!   heartbeats never wake the object; before a sweep the hub hears each socket's last
//!   auto-response time ([`Input::Heard`]), and the sweep is what marks a vanished
//!   visitor offline (`webSocketClose` is not always delivered, workerd #1187).
//! - **Memory is not kept.** After an eviction the next event finds no hub: one is built
//!   again from each socket's attachment (its [`Resumable`], written whenever the hub
//!   says [`Output::Remember`]) and the store (open conversations). Nobody is told.
//! - **Time**: `next_wakeup()` within [`SHORT_WAIT_MS`] is a timer in memory (batched list
//!   updates every 40 ms must not cost a storage write each); later ones are an alarm,
//!   which survives eviction.
//! - **Store**: DynamoDB through `fetch` ([`vitrine_dynamo::fetch`]); each request runs
//!   concurrently and its reply comes back as [`Input::Stored`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vitrine_core::access::{self, AddressCaps, AgentHandshake, SiteRecord};
use vitrine_core::changes::Changed;
use vitrine_core::codec::{self, Payload, Side};
use vitrine_core::delivery::{self, Delivery};
use vitrine_core::hub::{storage, CallConfig, Hub, HubConfig, Input, Output, Resumable};
use vitrine_core::media_key;
use vitrine_core::protocol::media::{CallEvent, MediaCommand};
use vitrine_core::protocol::{ConnId, Location, UnixMillis, VisitorFrame, VisitorServerFrame};
use vitrine_dynamo::fetch::{EdgeStore, Fetcher};
use vitrine_dynamo::Credentials;
use worker::wasm_bindgen::prelude::*;
use worker::*;

use super::{refuse, secret, var, ADDRESS, CITY, COUNTRY};

/// Waits shorter than this are timers in memory; longer ones are alarms.
const SHORT_WAIT_MS: u64 = 2_000;
/// How long a read of the site's record is used before it is read again.
const SITE_TTL_MS: u64 = 30_000;
/// How often the site and the people behind agent sockets are read again, should a change
/// notice have been lost on its way (the API tries it 4 times, then gives up).
const RECHECK_MS: u64 = 5 * 60_000;

#[wasm_bindgen]
extern "C" {
    /// The Durable Object state, for what workers-rs 0.8 does not bind.
    #[wasm_bindgen(extends = js_sys::Object)]
    type RawState;

    /// When the runtime last answered this socket's ping (`null` if never).
    #[wasm_bindgen(method, js_name = getWebSocketAutoResponseTimestamp)]
    fn get_web_socket_auto_response_timestamp(
        this: &RawState,
        ws: &web_sys::WebSocket,
    ) -> Option<js_sys::Date>;
}

/// What each socket keeps across hibernation (at most 2 KiB, see `hub::resume`).
#[derive(Serialize, Deserialize)]
struct Attachment {
    /// The site (the object's name is not passed to every event in workerd).
    site: String,
    conn: ConnId,
    agent: bool,
    state: Option<Resumable>,
}

#[durable_object]
pub struct SiteHub {
    state: State,
    env: Env,
    runner: RefCell<Option<Rc<Runner>>>,
}

impl DurableObject for SiteHub {
    fn new(state: State, env: Env) -> Self {
        // Heartbeats never wake the object: the runtime answers them.
        let ping = serde_json::to_string(&VisitorFrame::Ping {}).expect("frames serialize");
        let pong = codec::encode(&VisitorServerFrame::Pong);
        let pair =
            worker::WebSocketRequestResponsePair::new(&ping, &pong).expect("an auto-response pair");
        state.set_websocket_auto_response(&pair);
        Self {
            state,
            env,
            runner: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let url = req.url()?;
        // A change for a site nobody is on: nothing to apply, no hub to build.
        if url.path() == "/changed"
            && self.runner.borrow().is_none()
            && self.state.get_websockets().is_empty()
        {
            return Response::empty();
        }
        let runner = self.runner()?;
        match url.path() {
            "/ws/visitor" => runner.accept(&req, Side::Visitor).await,
            "/ws/agent" => runner.accept(&req, Side::Agent).await,
            "/call-event" => {
                let mut req = req;
                let event: CallEvent = serde_json::from_slice(&req.bytes().await?)?;
                runner.step(Input::CallEvent(event));
                Response::empty()
            }
            "/changed" => {
                let mut req = req;
                let change: Changed = serde_json::from_slice(&req.bytes().await?)?;
                runner.changed(change).await;
                Response::empty()
            }
            "/stats" => Response::from_json(&runner.stats()),
            // What the periodic re-check does, now (operators; tests).
            "/recheck" => {
                runner.rechecked_at.set(now_ms());
                runner.recheck().await;
                Response::empty()
            }
            "/evict" => {
                // What an eviction does to memory; the sockets stay with the runtime.
                self.runner.replace(None);
                Response::empty()
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        // No name and no sockets: nothing is left to run.
        let Ok(runner) = self.runner() else {
            return Response::empty();
        };
        runner.alarm_at.set(None);
        runner.counters.alarms.set(runner.counters.alarms.get() + 1);
        runner.step(Input::Tick);
        if runner.rechecked_at.get() + RECHECK_MS <= now_ms() {
            runner.rechecked_at.set(now_ms());
            runner.recheck().await;
        }
        Response::empty()
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        let runner = self.runner()?;
        let Some(attachment) = ws.deserialize_attachment::<Attachment>()? else {
            return Ok(());
        };
        let side = if attachment.agent {
            Side::Agent
        } else {
            Side::Visitor
        };
        let input = match &message {
            WebSocketIncomingMessage::String(text) => {
                codec::inbound(attachment.conn, side, Payload::Text(text))
            }
            WebSocketIncomingMessage::Binary(_) => {
                codec::inbound(attachment.conn, side, Payload::Binary)
            }
        };
        runner
            .counters
            .frames_in
            .set(runner.counters.frames_in.get() + 1);
        runner.step(input);
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _clean: bool,
    ) -> Result<()> {
        self.gone(ws)
    }

    async fn websocket_error(&self, ws: WebSocket, _error: Error) -> Result<()> {
        self.gone(ws)
    }

    async fn connect(&self, _socket: Socket) -> Result<()> {
        Err(Error::RustError("no TCP connections here".into()))
    }
}

impl SiteHub {
    /// The running hub, or a new one rebuilt from what survived (first event after the
    /// object was created or evicted).
    fn runner(&self) -> Result<Rc<Runner>> {
        if let Some(runner) = self.runner.borrow().as_ref() {
            return Ok(runner.clone());
        }
        // The name the object was addressed by, or the site every socket carries.
        let site = self
            .state
            .id()
            .name()
            .or_else(|| {
                self.state.get_websockets().iter().find_map(|ws| {
                    ws.deserialize_attachment::<Attachment>()
                        .ok()
                        .flatten()
                        .map(|a| a.site)
                })
            })
            .ok_or_else(|| Error::RustError("a site hub is addressed by its site key".into()))?;
        let runner = Rc::new(Runner::new(&self.state, &self.env, site)?);
        self.runner.replace(Some(runner.clone()));
        runner.rebuild(&self.state);
        Ok(runner)
    }

    fn gone(&self, ws: WebSocket) -> Result<()> {
        let runner = self.runner()?;
        if let Some(attachment) = ws.deserialize_attachment::<Attachment>()? {
            runner.forget(attachment.conn);
            runner.step(Input::Disconnected {
                conn: attachment.conn,
            });
        }
        // Complete the close handshake the client started.
        let _ = ws.close(Some(1000), Some("closed"));
        Ok(())
    }
}

/// Counts an operator (and the benchmark) reads: what the object cost.
#[derive(Default)]
struct Counters {
    /// Hubs built in this object's life in memory (1 + evictions survived since).
    rebuilds: Cell<u64>,
    alarms: Cell<u64>,
    frames_in: Cell<u64>,
    store_requests: Cell<u64>,
    store_errors: Cell<u64>,
}

#[derive(Serialize)]
struct Stats {
    site: String,
    sockets: usize,
    visitors: usize,
    restored: bool,
    rebuilds: u64,
    alarms: u64,
    frames_in: u64,
    store_requests: u64,
    dynamodb_requests: u64,
    store_errors: u64,
}

/// One hub and the means to run it; shared with the futures it spawns (store replies,
/// timers), which hand their results back through [`Runner::step`].
struct Runner {
    site: String,
    state: State,
    hub: RefCell<Hub>,
    sockets: RefCell<HashMap<ConnId, (WebSocket, String)>>,
    next_conn: Cell<ConnId>,
    addresses: RefCell<AddressCaps>,
    store: Rc<EdgeStore>,
    site_record: RefCell<Option<(SiteRecord, UnixMillis)>>,
    media: Option<(String, Vec<u8>)>,
    alarm_at: Cell<Option<UnixMillis>>,
    /// When the site and agents were last read again ([`RECHECK_MS`]).
    rechecked_at: Cell<UnixMillis>,
    /// The in-memory timer's generation: a newer one makes older ones no-ops.
    timer: Cell<(u64, Option<UnixMillis>)>,
    counters: Counters,
}

fn now_ms() -> UnixMillis {
    Date::now().as_millis()
}

/// The table on DynamoDB, as the Worker's settings say (its secrets sign the requests);
/// `table` instead of the configured one (the store contract's fresh tables).
pub(super) fn dynamodb(env: &Env, table: Option<&str>) -> EdgeStore {
    let credentials = Credentials {
        access_key_id: secret(env, "AWS_ACCESS_KEY_ID").unwrap_or_default(),
        secret_access_key: secret(env, "AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
        session_token: secret(env, "AWS_SESSION_TOKEN"),
    };
    let region = var(env, "AWS_REGION").unwrap_or_else(|| "us-east-1".into());
    let endpoint = var(env, "VITRINE_DYNAMODB_ENDPOINT")
        .unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"));
    let table = table
        .map(str::to_string)
        .or_else(|| var(env, "VITRINE_DYNAMODB_TABLE"))
        .unwrap_or_else(|| "vitrine".into());
    EdgeStore::new(Fetcher::new(credentials), &endpoint, &region, &table)
}

impl Runner {
    fn new(state: &State, env: &Env, site: String) -> Result<Self> {
        let visitor_key = secret(env, "VITRINE_VISITOR_KEY")
            .ok_or_else(|| Error::RustError("VITRINE_VISITOR_KEY is not set".into()))?;
        let call_key = secret(env, "VITRINE_CALL_KEY");
        let media_url = var(env, "VITRINE_MEDIA_URL");
        // The relay (VITRINE_TURN_URLS, comma-separated, and its secret); URLs without the
        // secret are a deploy mistake that would leave firewalled visitors without calls.
        let turn = match (
            var(env, "VITRINE_TURN_URLS"),
            secret(env, "VITRINE_TURN_SECRET"),
        ) {
            (None, _) => None,
            (Some(urls), Some(secret)) => {
                let urls = urls.split(',').map(|u| u.trim().to_string());
                let urls = urls.filter(|u| !u.is_empty()).collect();
                Some(vitrine_core::turn::TurnConfig::new(urls, &secret))
            }
            (Some(_), None) => {
                return Err(Error::RustError(
                    "VITRINE_TURN_URLS is set without the secret VITRINE_TURN_SECRET".into(),
                ))
            }
        };
        let mut config = HubConfig {
            remember: true,
            visitor_key: visitor_key.into_bytes(),
            calls: match (&media_url, &call_key) {
                (Some(url), Some(key)) => Some(CallConfig {
                    media_url: url.clone(),
                    key: key.clone().into_bytes(),
                    turn,
                }),
                _ => None,
            },
            ..HubConfig::default()
        };
        if let Some(ms) = var(env, "VITRINE_OFFLINE_GRACE_MS").and_then(|v| v.parse().ok()) {
            config.offline_grace_ms = ms;
        }
        // As the server's `--conversations-per-address` (benchmarks lift it).
        if let Some(n) = var(env, "VITRINE_CONVERSATIONS_PER_ADDRESS").and_then(|v| v.parse().ok())
        {
            config.address_conversation_burst = n;
        }
        let sockets_per_address = var(env, "VITRINE_SOCKETS_PER_ADDRESS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        let media = match (var(env, "VITRINE_MEDIA_CONTROL_URL"), call_key) {
            (Some(url), Some(key)) => Some((url, key.into_bytes())),
            _ => None,
        };
        Ok(Self {
            hub: RefCell::new(Hub::new(&site, config)),
            site,
            state: State::from(
                JsValue::from(state.as_raw()).unchecked_into::<worker_sys::DurableObjectState>(),
            ),
            sockets: RefCell::new(HashMap::new()),
            next_conn: Cell::new(1),
            addresses: RefCell::new(AddressCaps::new(sockets_per_address)),
            store: Rc::new(dynamodb(env, None)),
            site_record: RefCell::new(None),
            media,
            alarm_at: Cell::new(None),
            rechecked_at: Cell::new(now_ms()),
            timer: Cell::new((0, None)),
            counters: Counters::default(),
        })
    }

    /// Takes back every socket that survived (agents first, so the site's availability
    /// is known before the widgets are).
    fn rebuild(self: &Rc<Self>, state: &State) {
        self.counters.rebuilds.set(self.counters.rebuilds.get() + 1);
        let mut resumes = Vec::new();
        for ws in state.get_websockets() {
            let Ok(Some(attachment)) = ws.deserialize_attachment::<Attachment>() else {
                let _ = ws.close(Some(1011), Some("lost; reconnect"));
                continue;
            };
            let address = match &attachment.state {
                Some(Resumable::Visitor { address, .. }) => address.clone(),
                _ => String::new(),
            };
            self.addresses.borrow_mut().open(&address);
            self.next_conn
                .set(self.next_conn.get().max(attachment.conn + 1));
            self.sockets
                .borrow_mut()
                .insert(attachment.conn, (ws, address));
            match attachment.state {
                Some(state) => resumes.push((attachment.conn, state)),
                // Accepted but not yet known to the hub (it was restoring): start over.
                None => {
                    let (ws, _) = self.sockets.borrow_mut().remove(&attachment.conn).unwrap();
                    let _ = ws.close(Some(1012), Some("restarting; reconnect"));
                }
            }
        }
        resumes.sort_by_key(|(_, state)| !matches!(state, Resumable::Agent { .. }));
        for (conn, state) in resumes {
            self.step(Input::Resume { conn, state });
        }
        // A new hub restores first, even with no sockets.
        self.step(Input::Tick);
    }

    fn stats(&self) -> Stats {
        let hub = self.hub.borrow();
        Stats {
            site: self.site.clone(),
            sockets: self.sockets.borrow().len(),
            visitors: hub.visitor_count(),
            restored: hub.is_restored(),
            rebuilds: self.counters.rebuilds.get(),
            alarms: self.counters.alarms.get(),
            frames_in: self.counters.frames_in.get(),
            store_requests: self.counters.store_requests.get(),
            dynamodb_requests: self.store.requests(),
            store_errors: self.counters.store_errors.get(),
        }
    }

    /// The run loop's one step: the input, with the time, then every output carried out
    /// and the next wake-up armed.
    fn step(self: &Rc<Self>, input: Input) {
        let now = now_ms();
        let outputs = {
            let mut hub = self.hub.borrow_mut();
            let mut outputs = Vec::new();
            if hub.sweep_due(now) {
                outputs.extend(hub.handle(Input::Heard(self.heard()), now));
            }
            outputs.extend(hub.handle(input, now));
            outputs
        };
        self.carry_out(outputs);
        self.arm(now);
    }

    /// When the runtime last answered each socket's ping.
    fn heard(&self) -> Vec<(ConnId, UnixMillis)> {
        let raw: &RawState = self.state.as_raw().unchecked_ref();
        self.sockets
            .borrow()
            .iter()
            .filter_map(|(conn, (ws, _))| {
                let at = raw.get_web_socket_auto_response_timestamp(ws.as_ref())?;
                Some((*conn, at.get_time() as UnixMillis))
            })
            .collect()
    }

    fn carry_out(self: &Rc<Self>, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::ToVisitor { conn, frame } => self.send(conn, codec::encode(&frame)),
                Output::ToAgent { conn, frame } => self.send(conn, codec::encode(&frame)),
                Output::Close { conn, code, reason } => {
                    if let Some((ws, address)) = self.sockets.borrow_mut().remove(&conn) {
                        let _ = ws.close(Some(code), Some(reason));
                        self.addresses.borrow_mut().close(&address);
                    }
                }
                Output::Store(request) => {
                    self.counters
                        .store_requests
                        .set(self.counters.store_requests.get() + 1);
                    let runner = self.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let reply = storage::perform(&*runner.store, &runner.site, request).await;
                        if let Err(e) = &reply.result {
                            runner
                                .counters
                                .store_errors
                                .set(runner.counters.store_errors.get() + 1);
                            console_warn!("site {}: store request failed: {e}", runner.site);
                        }
                        runner.step(Input::Stored(reply));
                    });
                }
                Output::Media(command) => {
                    if let Some((url, key)) = self.media.clone() {
                        wasm_bindgen_futures::spawn_local(send_to_media_node(url, key, command));
                    }
                }
                Output::Remember { conn, state } => {
                    if let Some((ws, _)) = self.sockets.borrow().get(&conn) {
                        let agent = matches!(state, Resumable::Agent { .. });
                        let attachment = Attachment {
                            site: self.site.clone(),
                            conn,
                            agent,
                            state: Some(state),
                        };
                        if let Err(e) = ws.serialize_attachment(attachment) {
                            console_warn!("site {}: attachment not kept: {e}", self.site);
                        }
                    }
                }
            }
        }
    }

    /// A frame to a socket. The runtime buffers what the client has not read; a socket
    /// whose send fails is gone, and its close event tells the hub.
    fn send(&self, conn: ConnId, text: String) {
        if let Some((ws, _)) = self.sockets.borrow().get(&conn) {
            let _ = ws.send_with_str(text);
        }
    }

    fn forget(&self, conn: ConnId) {
        if let Some((_, address)) = self.sockets.borrow_mut().remove(&conn) {
            self.addresses.borrow_mut().close(&address);
        }
    }

    /// One timer for `next_wakeup()`: in memory when soon, an alarm otherwise.
    fn arm(self: &Rc<Self>, now: UnixMillis) {
        let Some(at) = self.hub.borrow().next_wakeup() else {
            return;
        };
        if at <= now + SHORT_WAIT_MS {
            let (generation, armed) = self.timer.get();
            if armed.is_some_and(|armed| armed <= at) {
                return;
            }
            let generation = generation + 1;
            self.timer.set((generation, Some(at)));
            let runner = self.clone();
            wasm_bindgen_futures::spawn_local(async move {
                Delay::from(Duration::from_millis(at.saturating_sub(now))).await;
                if runner.timer.get().0 == generation {
                    runner.timer.set((generation, None));
                    runner.step(Input::Tick);
                }
            });
        } else if self
            .alarm_at
            .get()
            .is_none_or(|armed| armed > at || armed < now)
        {
            self.alarm_at.set(Some(at));
            let storage = self.state.storage();
            wasm_bindgen_futures::spawn_local(async move {
                let at = js_sys::Date::new(&JsValue::from_f64(at as f64));
                if let Err(e) = storage.set_alarm(ScheduledTime::new(at)).await {
                    console_warn!("alarm not set: {e}");
                }
            });
        }
    }

    /// A new socket: admitted by `vitrine_core::access` as on the local server, accepted
    /// for hibernation, and given to the hub.
    async fn accept(self: &Rc<Self>, req: &Request, side: Side) -> Result<Response> {
        let headers = req.headers();
        let address = headers.get(ADDRESS)?.unwrap_or_else(|| "unknown".into());
        let origin = headers.get("origin")?;
        if !self.addresses.borrow_mut().open(&address) {
            return refuse(access::TOO_MANY_SOCKETS);
        }
        let verdict = match side {
            Side::Visitor => match self.site().await {
                Ok(site) => access::admit_visitor(site.as_ref(), origin.as_deref()).map(|()| None),
                Err(()) => Err(access::STORE_DOWN),
            },
            Side::Agent => {
                let cookie = headers.get("cookie")?;
                let host = headers.get("host")?;
                let handshake = AgentHandshake {
                    cookie: cookie.as_deref(),
                    origin: origin.as_deref(),
                    host: host.as_deref(),
                };
                match access::authorize_agent(&*self.store, &self.site, handshake, now_ms()).await {
                    Ok(admitted) => {
                        self.fresh_site(admitted.site.clone());
                        Ok(Some(admitted))
                    }
                    Err(refusal) => Err(refusal),
                }
            }
        };
        let admitted = match verdict {
            Ok(admitted) => admitted,
            Err(refusal) => {
                self.addresses.borrow_mut().close(&address);
                return refuse(refusal);
            }
        };
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let conn = self.next_conn.get();
        self.next_conn.set(conn + 1);
        pair.server.serialize_attachment(Attachment {
            site: self.site.clone(),
            conn,
            agent: side == Side::Agent,
            state: None,
        })?;
        self.sockets
            .borrow_mut()
            .insert(conn, (pair.server, address.clone()));
        let input = match admitted {
            Some(admitted) => Input::AgentConnected {
                conn,
                agent: admitted.agent,
                session: admitted.session,
                available: req
                    .url()?
                    .query_pairs()
                    .find(|(k, _)| k == "available")
                    .is_none_or(|(_, v)| v != "0"),
            },
            None => {
                let mut nonce = [0u8; 16];
                getrandom::fill(&mut nonce).map_err(|e| Error::RustError(e.to_string()))?;
                Input::VisitorConnected {
                    conn,
                    location: Location {
                        country: headers.get(COUNTRY)?.filter(|c| c != "XX"),
                        city: headers.get(CITY)?,
                    },
                    address,
                    nonce,
                }
            }
        };
        self.step(input);
        Response::from_websocket(pair.client)
    }

    /// An admin's change, applied now: the site's settings read again; an agent's role
    /// (or removal) read again, failing closed; an ended session's sockets closed.
    async fn changed(self: &Rc<Self>, change: Changed) {
        let input = match change {
            Changed::Site { .. } => {
                self.reread_site().await;
                return;
            }
            Changed::Agent { agent_id, .. } => Input::AgentChanged {
                agent: access::agent_identity(&*self.store, &agent_id)
                    .await
                    .unwrap_or_else(|e| {
                        console_warn!(
                            "site {}: agent lookup failed; their sockets close: {e}",
                            self.site
                        );
                        None
                    }),
                agent_id,
            },
            Changed::Session {
                agent_id, session, ..
            } => Input::SessionEnded { agent_id, session },
        };
        self.step(input);
    }

    /// Reads the site and the people behind agent sockets again; what changed goes to the
    /// hub as a change notice would have.
    async fn recheck(self: &Rc<Self>) {
        self.reread_site().await;
        let connected = self.hub.borrow().agent_sessions();
        let now_secs = now_ms() / 1000;
        for input in access::recheck_agents(&*self.store, &connected, now_secs).await {
            self.step(input);
        }
    }

    /// The site's record read now, whatever the cache holds; it goes to the hub.
    async fn reread_site(self: &Rc<Self>) {
        self.site_record.replace(None);
        let _ = self.site().await;
    }

    /// The site's record, read at most every [`SITE_TTL_MS`]; a fresh read goes to the hub.
    async fn site(self: &Rc<Self>) -> std::result::Result<Option<SiteRecord>, ()> {
        if let Some((record, at)) = &*self.site_record.borrow() {
            if at + SITE_TTL_MS > now_ms() {
                return Ok(Some(record.clone()));
            }
        }
        let site = access::load_site(&*self.store, &self.site)
            .await
            .map_err(|e| console_warn!("site {}: lookup failed: {e}", self.site))?;
        if let Some(record) = &site {
            self.fresh_site(record.clone());
        }
        Ok(site)
    }

    fn fresh_site(self: &Rc<Self>, record: SiteRecord) {
        let settings = record.settings();
        self.site_record.replace(Some((record, now_ms())));
        self.step(Input::SiteSettings(settings));
    }
}

/// POSTs a command to the media node, signed with the media key; retried briefly.
async fn send_to_media_node(url: String, key: Vec<u8>, command: MediaCommand) {
    let body = serde_json::to_string(&command).expect("commands serialize");
    let signature = media_key::sign_body(&key, media_key::Purpose::MediaCommand, body.as_bytes());
    let send = || async {
        let headers = Headers::new();
        let _ = headers.set("content-type", "application/json");
        let _ = headers.set(media_key::SIGNATURE_HEADER, &signature);
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.clone().into()));
        let sent = match Request::new_with_init(&url, &init) {
            Ok(request) => Fetch::Request(request).send().await,
            Err(e) => Err(e),
        };
        sent.ok().map(|r| r.status_code())
    };
    match delivery::deliver(send, Delay::from).await {
        Delivery::Delivered => {}
        Delivery::Refused(status) => console_warn!("media node refused a command: {status}"),
        Delivery::GaveUp => {
            console_warn!("media node unreachable; a seat stays open until its token expires")
        }
    }
}
