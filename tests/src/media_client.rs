//! A WebRTC participant built on str0m (an implementation independent of Chromium's):
//! joins a room on the media node over its signaling WebSocket, publishes synthetic audio
//! (50 frames/s) and video (30 frames/s) and counts what it receives. Each payload starts
//! with its send time, so receivers measure the node's forwarding delay.
//!
//! Used by the media integration tests (interop, removal, tokens) and the media load
//! generator (`cargo xtask bench media`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use vitrine_core::protocol::media::{
    CallClientFrame, CallServerFrame, MediaErrorCode, RemoteTrack, TrackSource,
};

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub ws_url: String,
    pub room: String,
    pub token: String,
    /// Send audio + video (false: receive only).
    pub publish: bool,
    /// Bytes per video frame (≈ bitrate / 8 / 30).
    pub video_frame_bytes: usize,
    /// Keep delay samples (load generator).
    pub sample_delays: bool,
}

/// What a client saw, shared with its owner.
#[derive(Debug, Default)]
pub struct ClientState {
    pub joined: bool,
    pub connected: bool,
    pub errors: Vec<(MediaErrorCode, String)>,
    pub ended: Option<String>,
    pub removed: bool,
    pub socket_closed: Option<u16>,
    /// Remote track id → frames received.
    pub frames: HashMap<String, u64>,
    pub frames_sent: u64,
    pub bytes_received: u64,
    /// Forwarding delays in microseconds (send → receive through the node).
    pub delays_us: Vec<u32>,
}

pub struct MediaClient {
    pub state: Arc<Mutex<ClientState>>,
    commands: mpsc::UnboundedSender<CallClientFrame>,
    task: tokio::task::JoinHandle<()>,
}

impl MediaClient {
    pub async fn join(options: ClientOptions) -> Result<Self> {
        str0m::crypto::from_feature_flags().install_process_default();
        let (ws, _) = tokio_tungstenite::connect_async(&options.ws_url)
            .await
            .context("connect to the media node")?;
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let state = Arc::new(Mutex::new(ClientState::default()));
        let (commands, command_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(options, ws, socket, state.clone(), command_rx));
        Ok(Self {
            state,
            commands,
            task,
        })
    }

    /// Sends a raw signaling frame (host actions, or deliberately wrong ones).
    pub fn send(&self, frame: CallClientFrame) {
        let _ = self.commands.send(frame);
    }

    pub fn frames_from(&self, track: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .frames
            .get(track)
            .copied()
            .unwrap_or(0)
    }

    /// Waits (polling its state) until `check` holds, or fails after `timeout`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&ClientState) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let state = self.state.lock().unwrap();
                if check(&state) {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    anyhow::bail!("timed out waiting for {what}: {state:?}");
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

struct Negotiation {
    pending: Option<SdpPendingOffer>,
    again: bool,
    sources: BTreeMap<String, TrackSource>,
    /// Our recvonly mid → remote track id.
    receive: BTreeMap<String, String>,
    wanted: Vec<RemoteTrack>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn run(
    options: ClientOptions,
    ws: Ws,
    socket: UdpSocket,
    state: Arc<Mutex<ClientState>>,
    mut commands: mpsc::UnboundedReceiver<CallClientFrame>,
) {
    let local = socket.local_addr().expect("bound");
    let (mut sink, mut stream) = ws.split();
    let send_frame = |frame: &CallClientFrame| {
        Message::Text(serde_json::to_string(frame).expect("serializes").into())
    };
    let _ = sink
        .send(send_frame(&CallClientFrame::Join {
            room: options.room.clone(),
            token: options.token.clone(),
        }))
        .await;

    let mut rtc = Rtc::builder().build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let mut neg = Negotiation {
        pending: None,
        again: false,
        sources: BTreeMap::new(),
        receive: BTreeMap::new(),
        wanted: Vec::new(),
    };
    let mut audio_mid: Option<Mid> = None;
    let mut video_mid: Option<Mid> = None;
    let mut outgoing: Vec<CallClientFrame> = Vec::new();
    if options.publish {
        let mut change = rtc.sdp_api();
        let a = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let v = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().expect("changes");
        neg.sources.insert(a.to_string(), TrackSource::Microphone);
        neg.sources.insert(v.to_string(), TrackSource::Camera);
        neg.pending = Some(pending);
        audio_mid = Some(a);
        video_mid = Some(v);
        outgoing.push(CallClientFrame::Offer {
            sdp: offer.to_sdp_string(),
            sources: neg.sources.clone(),
            receive: neg.receive.clone(),
        });
    }
    let started = Instant::now();
    let mut next_audio = started;
    let mut next_video = started;
    let mut buf = vec![0u8; 2048];
    let mut mid_tracks: HashMap<Mid, String> = HashMap::new();
    let mut ws_open = true;

    loop {
        for frame in outgoing.drain(..) {
            if ws_open && sink.send(send_frame(&frame)).await.is_err() {
                ws_open = false;
            }
        }
        // Drain str0m's output.
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(event)) => {
                    let mut s = state.lock().unwrap();
                    match event {
                        Event::Connected => s.connected = true,
                        Event::MediaData(data) => {
                            if let Some(track) = mid_tracks.get(&data.mid) {
                                *s.frames.entry(track.clone()).or_default() += 1;
                            }
                            s.bytes_received += data.data.len() as u64;
                            if options.sample_delays && data.data.len() >= 8 {
                                let sent = u64::from_be_bytes(data.data[..8].try_into().unwrap());
                                let delay = unix_micros().saturating_sub(sent);
                                s.delays_us.push(delay.min(u32::MAX as u64) as u32);
                            }
                        }
                        _ => {}
                    }
                }
                Err(_) => return,
            }
        };
        if !rtc.is_alive() {
            return;
        }
        let media_due = if options.publish && state.lock().unwrap().connected {
            next_audio.min(next_video)
        } else {
            Instant::now() + Duration::from_secs(3600)
        };
        let wake = timeout.min(media_due);
        tokio::select! {
            message = stream.next(), if ws_open => match message {
                Some(Ok(Message::Text(text))) => {
                    let Ok(frame) = serde_json::from_str::<CallServerFrame>(&text) else { continue };
                    let mut s = state.lock().unwrap();
                    match frame {
                        CallServerFrame::Joined { .. } => s.joined = true,
                        CallServerFrame::Answer { sdp } => {
                            if let (Some(pending), Ok(answer)) = (neg.pending.take(), SdpAnswer::from_sdp_string(&sdp)) {
                                let _ = rtc.sdp_api().accept_answer(pending, answer);
                                mid_tracks = neg.receive.iter().map(|(m, t)| (Mid::from(m.as_str()), t.clone())).collect();
                            }
                            if neg.again {
                                neg.again = false;
                                if let Some(offer) = renegotiate(&mut rtc, &mut neg) { outgoing.push(offer); }
                            }
                        }
                        CallServerFrame::Tracks { tracks } => {
                            neg.wanted = tracks;
                            if neg.pending.is_some() {
                                neg.again = true;
                            } else if let Some(offer) = renegotiate(&mut rtc, &mut neg) {
                                outgoing.push(offer);
                            }
                        }
                        CallServerFrame::Removed {} => s.removed = true,
                        CallServerFrame::Ended { reason } => s.ended = Some(reason),
                        CallServerFrame::Error { code, message } => s.errors.push((code, message)),
                        CallServerFrame::PeerJoined { .. } | CallServerFrame::PeerLeft { .. } | CallServerFrame::Pong {} => {}
                    }
                }
                Some(Ok(Message::Close(close))) => {
                    state.lock().unwrap().socket_closed = Some(close.map(|c| u16::from(c.code)).unwrap_or(1005));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    state.lock().unwrap().socket_closed.get_or_insert(1006);
                    // Keep running the Rtc: a removed client that ignores removal keeps
                    // sending, which is what the removal test wants to see refused.
                    ws_open = false;
                }
            },
            command = commands.recv() => {
                if let Some(frame) = command { outgoing.push(frame); }
            }
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    if let Ok(contents) = buf[..n].try_into() {
                        let input = Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: local, contents });
                        if rtc.handle_input(input).is_err() { return; }
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if rtc.handle_input(Input::Timeout(now)).is_err() { return; }
                if options.publish && state.lock().unwrap().connected {
                    if now >= next_audio {
                        next_audio += Duration::from_millis(20);
                        if write_media(&mut rtc, audio_mid, Codec::Opus, 48_000, started, now, 80) {
                            state.lock().unwrap().frames_sent += 1;
                        }
                    }
                    if now >= next_video {
                        next_video += Duration::from_millis(33);
                        if write_media(&mut rtc, video_mid, Codec::Vp8, 90_000, started, now, options.video_frame_bytes) {
                            state.lock().unwrap().frames_sent += 1;
                        }
                    }
                }
            }
        }
    }
}

/// Writes one synthetic frame: 8 bytes of send time, then filler.
fn write_media(
    rtc: &mut Rtc,
    mid: Option<Mid>,
    codec: Codec,
    clock: u64,
    started: Instant,
    now: Instant,
    bytes: usize,
) -> bool {
    let Some(writer) = mid.and_then(|m| rtc.writer(m)) else {
        return false;
    };
    let Some(pt) = writer
        .payload_params()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
    else {
        return false;
    };
    let mut data = vec![0x10u8; bytes.max(8)];
    data[..8].copy_from_slice(&unix_micros().to_be_bytes());
    let elapsed = now.duration_since(started);
    let rtp_time = MediaTime::new(
        (elapsed.as_micros() as u64) * clock / 1_000_000,
        Frequency::new(clock as u32).expect("non-zero clock"),
    );
    writer.write(pt, now, rtp_time, data).is_ok()
}

/// One recvonly transceiver per wanted remote track; transceivers of tracks that went
/// away are set inactive.
fn renegotiate(rtc: &mut Rtc, neg: &mut Negotiation) -> Option<CallClientFrame> {
    let mut change = rtc.sdp_api();
    let wanted: HashMap<&str, &RemoteTrack> =
        neg.wanted.iter().map(|t| (t.id.as_str(), t)).collect();
    let gone: Vec<String> = neg
        .receive
        .iter()
        .filter(|(_, t)| !wanted.contains_key(t.as_str()))
        .map(|(m, _)| m.clone())
        .collect();
    for mid in gone {
        change.set_direction(Mid::from(mid.as_str()), Direction::Inactive);
        neg.receive.remove(&mid);
    }
    for track in &neg.wanted {
        if neg.receive.values().any(|t| t == &track.id) {
            continue;
        }
        let kind = if track.kind == "audio" {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        let mid = change.add_media(kind, Direction::RecvOnly, None, None, None);
        neg.receive.insert(mid.to_string(), track.id.clone());
    }
    let (offer, pending) = change.apply()?;
    neg.pending = Some(pending);
    Some(CallClientFrame::Offer {
        sdp: offer.to_sdp_string(),
        sources: neg.sources.clone(),
        receive: neg.receive.clone(),
    })
}
