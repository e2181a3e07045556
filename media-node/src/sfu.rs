//! The selective forwarding unit, sans-IO like str0m itself: rooms of participants, one
//! `str0m::Rtc` per participant, all on one UDP socket. The runtime feeds datagrams,
//! signaling frames and time in, and carries out what [`Sfu::poll`] returns.
//!
//! Negotiation: the client always offers. When the tracks a participant may receive
//! change, the node sends `tracks` and the client answers with a new offer holding one
//! recvonly transceiver per remote track (`receive` maps those mids to track ids).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use vitrine_core::clock::UnixMillis;
use vitrine_core::media_key::{CallClaims, CALL_TOKEN_TTL_MS};
use vitrine_core::protocol::media::*;
pub use vitrine_core::protocol::ConnId;

/// What the runtime must do.
#[derive(Debug)]
pub enum SfuOutput {
    Transmit {
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    Signal {
        conn: ConnId,
        frame: CallServerFrame,
    },
    /// Close the participant's signaling socket (after any `Signal` queued before it).
    Close {
        conn: ConnId,
    },
    Event(CallEvent),
}

#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// The address browsers reach the UDP socket at (the ICE-lite host candidate).
    pub candidate: SocketAddr,
    /// A participant whose ICE + DTLS is not up after this long is dropped.
    pub connect_timeout: Duration,
    /// Minimum time between two keyframe requests to one publisher track.
    pub keyframe_interval: Duration,
    /// How long a guest whose socket closed without `leave` stays in the call, so a page
    /// navigation (V8) can rejoin without anyone seeing them leave.
    pub rejoin_grace: Duration,
    /// Unique to this run of the node (event nonces start with it).
    pub instance: String,
}

/// Counters exposed on `/metrics`.
#[derive(Debug, Default, Clone)]
pub struct SfuStats {
    pub rooms: usize,
    pub participants: usize,
    pub forwarded_frames: u64,
    pub forwarded_bytes: u64,
    pub joins_refused: u64,
    pub connect_timeouts: u64,
}

struct Published {
    mid: Mid,
    source: TrackSource,
    kind: MediaKind,
    /// Simulcast layers seen from this track, best first once sorted.
    rids: Vec<Rid>,
    last_keyframe_request: Option<Instant>,
}

struct Subscription {
    mid: Mid,
    track: String,
    /// Layer the subscriber asked for (`layer` frame); none = the best one seen.
    wanted_rid: Option<Rid>,
    /// Layer currently forwarded, to notice switches (which need a keyframe).
    forwarding_rid: Option<Rid>,
}

struct Participant {
    room: String,
    claims: CallClaims,
    rtc: Rtc,
    joined_at: Instant,
    connected: bool,
    published: Vec<Published>,
    subscriptions: Vec<Subscription>,
    /// Tracks last announced to this participant, to only announce changes.
    announced: Vec<RemoteTrack>,
    next_timeout: Instant,
    /// Socket closed without `leave` at this time; still in the call until the grace ends.
    gone_since: Option<Instant>,
}

struct Room {
    site: String,
    /// The room's ID within its site (the call ID).
    name: String,
    started_at: UnixMillis,
    members: Vec<ConnId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    RoomFull,
    Draining,
    /// The seat was revoked (removed, declined, hung up): its tokens open nothing.
    Revoked,
    /// The call is over: no token opens its room again.
    Ended,
}

/// Rooms are keyed by site and room: one site's tokens never reach another site's room.
fn room_key(site: &str, room: &str) -> String {
    format!("{site}\u{1f}{room}")
}

pub struct Sfu {
    config: SfuConfig,
    /// Keyed by [`room_key`].
    rooms: HashMap<String, Room>,
    /// Seats (room key, participant) revoked by the platform, until their tokens expire.
    revoked: HashMap<(String, String), UnixMillis>,
    /// Rooms the platform ended, until any token for them expires.
    ended: HashMap<String, UnixMillis>,
    /// This node's run, so its event nonces differ from an earlier run's.
    instance: String,
    events_made: u64,
    participants: HashMap<ConnId, Participant>,
    /// Remote address → participant, learnt from the first datagram a participant accepts.
    by_addr: HashMap<SocketAddr, ConnId>,
    draining: bool,
    out: VecDeque<SfuOutput>,
    /// Participants whose Rtc has new output to poll.
    dirty: HashSet<ConnId>,
    stats: SfuStats,
}

fn track_id(participant: &str, source: TrackSource) -> String {
    let source = match source {
        TrackSource::Microphone => "microphone",
        TrackSource::Camera => "camera",
        TrackSource::Screen => "screen",
    };
    format!("{participant}/{source}")
}

/// Simulcast layer order, best first (Chromium's `f`/`h`/`q` convention, or `h`/`m`/`l`).
fn rid_rank(rid: &Rid) -> u8 {
    match &**rid {
        "f" | "h" => 0,
        "m" => 1,
        "q" | "l" => 2,
        _ => 3,
    }
}

impl Sfu {
    pub fn new(config: SfuConfig) -> Self {
        let instance = config.instance.clone();
        Self {
            config,
            rooms: HashMap::new(),
            revoked: HashMap::new(),
            ended: HashMap::new(),
            instance,
            events_made: 0,
            participants: HashMap::new(),
            by_addr: HashMap::new(),
            draining: false,
            out: VecDeque::new(),
            dirty: HashSet::new(),
            stats: SfuStats::default(),
        }
    }

    pub fn stats(&self) -> SfuStats {
        SfuStats {
            rooms: self.rooms.len(),
            participants: self.participants.len(),
            ..self.stats.clone()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// No new rooms or participants from now on; running calls continue.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Ends every room (shutdown after the drain period).
    pub fn end_all(&mut self, reason: &str, now: Instant, unix_now: UnixMillis) {
        let rooms: Vec<String> = self.rooms.keys().cloned().collect();
        for room in rooms {
            self.end_room(&room, reason, now, unix_now);
        }
    }

    /// The platform's word on a room of a site (signature and freshness already checked):
    /// a revoked seat leaves now and its tokens open nothing until they expire; an ended
    /// room closes for everyone and cannot be opened again.
    pub fn command(&mut self, command: MediaCommand, now: Instant, unix_now: UnixMillis) {
        let key = room_key(&command.site, &command.room);
        let until = unix_now + CALL_TOKEN_TTL_MS;
        match command.kind {
            MediaCommandKind::Revoke { participant } => {
                let seated = self.rooms.get(&key).and_then(|room| {
                    room.members.iter().copied().find(|c| {
                        self.participants
                            .get(c)
                            .is_some_and(|p| p.claims.participant == participant)
                    })
                });
                self.revoked.insert((key, participant), until);
                if let Some(conn) = seated {
                    self.out.push_back(SfuOutput::Signal {
                        conn,
                        frame: CallServerFrame::Removed {},
                    });
                    self.out.push_back(SfuOutput::Close { conn });
                    self.remove_participant(conn, true, now, unix_now);
                }
            }
            MediaCommandKind::End => {
                self.ended.insert(key.clone(), until);
                self.end_room(&key, "the call ended", now, unix_now);
            }
        }
    }

    fn forget_expired(&mut self, unix_now: UnixMillis) {
        self.revoked.retain(|_, until| *until > unix_now);
        self.ended.retain(|_, until| *until > unix_now);
    }

    /// A participant with a verified token. Another connection of the same participant
    /// in the same room (a page navigation rejoining, V8) replaces the old one.
    pub fn join(
        &mut self,
        conn: ConnId,
        claims: CallClaims,
        now: Instant,
        unix_now: UnixMillis,
    ) -> Result<(), JoinError> {
        let key = room_key(&claims.site, &claims.room);
        if self.draining {
            self.stats.joins_refused += 1;
            return Err(JoinError::Draining);
        }
        self.forget_expired(unix_now);
        if self.ended.contains_key(&key) {
            self.stats.joins_refused += 1;
            return Err(JoinError::Ended);
        }
        if self
            .revoked
            .contains_key(&(key.clone(), claims.participant.clone()))
        {
            self.stats.joins_refused += 1;
            return Err(JoinError::Revoked);
        }
        let room_exists = self.rooms.contains_key(&key);
        let previous = self.rooms.get(&key).and_then(|room| {
            room.members.iter().copied().find(|c| {
                self.participants
                    .get(c)
                    .is_some_and(|p| p.claims.participant == claims.participant)
            })
        });
        if let Some(previous) = previous {
            // Quietly: the participant is still in the call, on a new connection.
            self.remove_participant(previous, false, now, unix_now);
            self.out.push_back(SfuOutput::Close { conn: previous });
        } else if let Some(room) = self.rooms.get(&key) {
            let count = |role: fn(CallRole) -> bool| {
                room.members
                    .iter()
                    .filter(|c| {
                        self.participants
                            .get(c)
                            .is_some_and(|p| role(p.claims.role))
                    })
                    .count()
            };
            let full = match claims.role {
                CallRole::Preview => count(|r| r == CallRole::Preview) >= MAX_ROOM_PARTICIPANTS - 1,
                CallRole::Viewer => count(|r| r == CallRole::Viewer) >= MAX_ROOM_VIEWERS,
                _ => count(|r| !r.watches_only()) >= MAX_ROOM_PARTICIPANTS,
            };
            if full {
                self.stats.joins_refused += 1;
                return Err(JoinError::RoomFull);
            }
        }

        if !self.rooms.contains_key(&key) {
            self.rooms.insert(
                key.clone(),
                Room {
                    site: claims.site.clone(),
                    name: claims.room.clone(),
                    started_at: unix_now,
                    members: Vec::new(),
                },
            );
            if !room_exists || previous.is_none() {
                self.event(&key, CallEventKind::RoomStarted, unix_now);
            }
        }

        let mut rtc = Rtc::builder().set_ice_lite(true).build(now);
        let candidate = Candidate::host(self.config.candidate, "udp").expect("host candidate");
        rtc.add_local_candidate(candidate);

        let peers: Vec<CallPeer> = self.visible_peers(&key, &claims);
        for member in &self.rooms[&key].members {
            let member_role = self.participants[member].claims.role;
            // Everyone sees who joins, except that previews see only the host (who may
            // join after them: the visitor's invitation can ring first).
            let visible = !claims.role.watches_only()
                && (claims.role == CallRole::Host || !member_role.watches_only());
            if visible {
                self.out.push_back(SfuOutput::Signal {
                    conn: *member,
                    frame: CallServerFrame::PeerJoined {
                        peer: CallPeer {
                            participant: claims.participant.clone(),
                            name: claims.name.clone(),
                            role: claims.role,
                        },
                    },
                });
            }
        }
        self.out.push_back(SfuOutput::Signal {
            conn,
            frame: CallServerFrame::Joined {
                participant: claims.participant.clone(),
                peers,
            },
        });
        if !claims.role.watches_only() && previous.is_none() {
            self.event(
                &key,
                CallEventKind::ParticipantJoined {
                    participant: claims.participant.clone(),
                    role: claims.role,
                },
                unix_now,
            );
        }
        let room = key;
        self.rooms.get_mut(&room).unwrap().members.push(conn);
        self.participants.insert(
            conn,
            Participant {
                room: room.clone(),
                claims,
                rtc,
                joined_at: now,
                connected: false,
                published: Vec::new(),
                subscriptions: Vec::new(),
                announced: Vec::new(),
                next_timeout: now,
                gone_since: None,
            },
        );
        self.announce_tracks(&room);
        Ok(())
    }

    fn visible_peers(&self, room: &str, to: &CallClaims) -> Vec<CallPeer> {
        let Some(room) = self.rooms.get(room) else {
            return Vec::new();
        };
        room.members
            .iter()
            .filter_map(|c| self.participants.get(c))
            .filter(|p| !p.claims.role.watches_only())
            .filter(|p| !to.role.watches_only() || p.claims.role == CallRole::Host)
            .map(|p| CallPeer {
                participant: p.claims.participant.clone(),
                name: p.claims.name.clone(),
                role: p.claims.role,
            })
            .collect()
    }

    /// The tracks `conn` may receive: every other member's published tracks, except that
    /// previews get only the host's, and nobody gets a preview's.
    fn receivable_tracks(&self, conn: ConnId) -> Vec<RemoteTrack> {
        let me = &self.participants[&conn];
        let room = &self.rooms[&me.room];
        let mut tracks = Vec::new();
        for other in room.members.iter().filter(|c| **c != conn) {
            let other = &self.participants[other];
            if other.claims.role.watches_only()
                || (me.claims.role.watches_only() && other.claims.role != CallRole::Host)
            {
                continue;
            }
            for published in &other.published {
                tracks.push(RemoteTrack {
                    id: track_id(&other.claims.participant, published.source),
                    participant: other.claims.participant.clone(),
                    source: published.source,
                    kind: match published.kind {
                        MediaKind::Audio => "audio".into(),
                        MediaKind::Video => "video".into(),
                    },
                });
            }
        }
        tracks.sort_by(|a, b| a.id.cmp(&b.id));
        tracks
    }

    fn announce_tracks(&mut self, room: &str) {
        let Some(members) = self.rooms.get(room).map(|r| r.members.clone()) else {
            return;
        };
        for conn in members {
            let tracks = self.receivable_tracks(conn);
            let me = self.participants.get_mut(&conn).unwrap();
            if me.announced != tracks {
                me.announced = tracks.clone();
                self.out.push_back(SfuOutput::Signal {
                    conn,
                    frame: CallServerFrame::Tracks { tracks },
                });
            }
        }
    }

    /// A signaling frame from a joined participant (`join` is handled by the runtime).
    pub fn frame(
        &mut self,
        conn: ConnId,
        frame: CallClientFrame,
        now: Instant,
        unix_now: UnixMillis,
    ) {
        if !self.participants.contains_key(&conn) {
            return;
        }
        match frame {
            CallClientFrame::Join { .. } => {
                self.error(conn, MediaErrorCode::AlreadyJoined, "already joined")
            }
            CallClientFrame::Offer {
                sdp,
                sources,
                receive,
            } => self.offer(conn, &sdp, sources, receive, now),
            CallClientFrame::Layer { track, rid } => {
                let me = self.participants.get_mut(&conn).unwrap();
                if let Some(sub) = me.subscriptions.iter_mut().find(|s| s.track == track) {
                    sub.wanted_rid = Some(Rid::from(rid.as_str()));
                }
            }
            CallClientFrame::Remove { participant } => {
                if self.require_host(conn) {
                    let room = self.participants[&conn].room.clone();
                    let target = self.rooms[&room].members.iter().copied().find(|c| {
                        self.participants[c].claims.participant == participant && *c != conn
                    });
                    match target {
                        Some(target) => {
                            self.out.push_back(SfuOutput::Signal {
                                conn: target,
                                frame: CallServerFrame::Removed {},
                            });
                            self.out.push_back(SfuOutput::Close { conn: target });
                            self.remove_participant(target, true, now, unix_now);
                        }
                        None => self.error(conn, MediaErrorCode::NotFound, "no such participant"),
                    }
                }
            }
            CallClientFrame::End {} => {
                if self.require_host(conn) {
                    let room = self.participants[&conn].room.clone();
                    self.end_room(&room, "ended by host", now, unix_now);
                }
            }
            CallClientFrame::Leave {} => {
                self.out.push_back(SfuOutput::Close { conn });
                self.left(conn, now, unix_now);
            }
            CallClientFrame::Ping {} => self.out.push_back(SfuOutput::Signal {
                conn,
                frame: CallServerFrame::Pong {},
            }),
        }
    }

    fn require_host(&mut self, conn: ConnId) -> bool {
        let host = self.participants[&conn].claims.role == CallRole::Host;
        if !host {
            self.error(conn, MediaErrorCode::Forbidden, "only the host may do this");
        }
        host
    }

    fn error(&mut self, conn: ConnId, code: MediaErrorCode, message: &str) {
        self.out.push_back(SfuOutput::Signal {
            conn,
            frame: CallServerFrame::Error {
                code,
                message: message.into(),
            },
        });
    }

    fn offer(
        &mut self,
        conn: ConnId,
        sdp: &str,
        sources: std::collections::BTreeMap<String, TrackSource>,
        receive: std::collections::BTreeMap<String, String>,
        now: Instant,
    ) {
        // A WHEP viewer cannot name tracks: it gets the host's, by its sections' kinds.
        let mut receive = receive;
        if self.participants[&conn].claims.role == CallRole::Viewer && receive.is_empty() {
            let room = &self.rooms[&self.participants[&conn].room];
            let host = room
                .members
                .iter()
                .map(|c| &self.participants[c].claims)
                .find(|c| c.role == CallRole::Host)
                .map(|c| c.participant.clone());
            let Some(host) = host else {
                return self.error(
                    conn,
                    MediaErrorCode::NotFound,
                    "nobody is presenting in this room yet",
                );
            };
            receive = crate::sdp::sources_by_section(sdp)
                .into_iter()
                .map(|(mid, source)| (mid, track_id(&host, source)))
                .collect();
        }
        let offer = match SdpOffer::from_sdp_string(sdp) {
            Ok(offer) => offer,
            Err(e) => {
                return self.error(
                    conn,
                    MediaErrorCode::BadSdp,
                    &format!("offer not parsed: {e}"),
                )
            }
        };
        let me = self.participants.get_mut(&conn).unwrap();
        let answer = match me.rtc.sdp_api().accept_offer(offer) {
            Ok(answer) => answer,
            Err(e) => {
                return self.error(conn, MediaErrorCode::BadSdp, &format!("offer refused: {e}"))
            }
        };
        // What the client sends: mids it declared, if the negotiated direction lets us
        // receive on them. Previews publish nothing.
        let mut published = Vec::new();
        if !me.claims.role.watches_only() {
            for (mid, source) in &sources {
                let mid = Mid::from(mid.as_str());
                let Some(media) = me.rtc.media(mid) else {
                    continue;
                };
                if !media.direction().is_receiving() {
                    continue;
                }
                let previous = me.published.iter().position(|p| p.mid == mid);
                let entry = match previous {
                    Some(i) => me.published.swap_remove(i),
                    None => Published {
                        mid,
                        source: *source,
                        kind: media.kind(),
                        rids: Vec::new(),
                        last_keyframe_request: None,
                    },
                };
                published.push(entry);
            }
        }
        published.sort_by_key(|p| p.source);
        me.published = published;
        let mut subscriptions = Vec::new();
        let mut new_subscriptions = Vec::new();
        for (mid, track) in receive {
            let mid = Mid::from(mid.as_str());
            if me
                .rtc
                .media(mid)
                .is_none_or(|m| !m.direction().is_sending())
            {
                continue;
            }
            let previous = me.subscriptions.iter().position(|s| s.mid == mid);
            let sub = match previous {
                Some(i) if me.subscriptions[i].track == track => me.subscriptions.swap_remove(i),
                _ => {
                    new_subscriptions.push(track.clone());
                    Subscription {
                        mid,
                        track,
                        wanted_rid: None,
                        forwarding_rid: None,
                    }
                }
            };
            subscriptions.push(sub);
        }
        me.subscriptions = subscriptions;
        let room = me.room.clone();
        self.out.push_back(SfuOutput::Signal {
            conn,
            frame: CallServerFrame::Answer {
                sdp: crate::sdp::candidates_in_every_bundled_section(&answer.to_sdp_string()),
            },
        });
        self.dirty.insert(conn);
        // A new subscriber should see video at once: ask the publishers for a keyframe.
        // Before ICE + DTLS complete it could not receive one: then it is asked for on
        // `Connected` instead.
        if me.connected {
            for track in new_subscriptions {
                self.request_keyframe_for(&room, &track, None, false, now);
            }
        }
        self.announce_tracks(&room);
    }

    /// Asks the publisher of `track` for a keyframe, at most once per keyframe interval
    /// unless `force` (a subscriber that just connected, once).
    fn request_keyframe_for(
        &mut self,
        room: &str,
        track: &str,
        rid: Option<Rid>,
        force: bool,
        now: Instant,
    ) {
        let Some(members) = self.rooms.get(room).map(|r| r.members.clone()) else {
            return;
        };
        let interval = self.config.keyframe_interval;
        for conn in members {
            let p = self.participants.get_mut(&conn).unwrap();
            let participant = p.claims.participant.clone();
            let Some(published) = p
                .published
                .iter_mut()
                .find(|pb| track_id(&participant, pb.source) == track)
            else {
                continue;
            };
            if published.kind != MediaKind::Video {
                return;
            }
            if !force
                && published
                    .last_keyframe_request
                    .is_some_and(|at| now.saturating_duration_since(at) < interval)
            {
                return;
            }
            published.last_keyframe_request = Some(now);
            let rid = rid.or_else(|| published.rids.first().copied());
            let mid = published.mid;
            if let Some(mut writer) = p.rtc.writer(mid) {
                let _ = writer.request_keyframe(rid, KeyframeRequestKind::Pli);
            }
            self.dirty.insert(conn);
            return;
        }
    }

    /// The signaling socket closed without a `leave`: a guest may be navigating to
    /// another page of the shop and rejoin (V8), so they stay in the call, silently, for
    /// the rejoin grace; the host and previews leave at once.
    pub fn socket_closed(&mut self, conn: ConnId, now: Instant, unix_now: UnixMillis) {
        let Some(p) = self.participants.get_mut(&conn) else {
            return;
        };
        if p.claims.role != CallRole::Guest {
            self.left(conn, now, unix_now);
            return;
        }
        p.gone_since = Some(now);
    }

    /// The participant leaves now.
    pub fn left(&mut self, conn: ConnId, now: Instant, unix_now: UnixMillis) {
        let Some(p) = self.participants.get(&conn) else {
            return;
        };
        if p.claims.role == CallRole::Host {
            // The agent hanging up ends the call for everyone.
            let room = p.room.clone();
            self.end_room(&room, "the agent left the call", now, unix_now);
        } else {
            self.remove_participant(conn, true, now, unix_now);
        }
    }

    fn remove_participant(
        &mut self,
        conn: ConnId,
        report: bool,
        now: Instant,
        unix_now: UnixMillis,
    ) {
        let _ = now;
        let Some(mut p) = self.participants.remove(&conn) else {
            return;
        };
        p.rtc.disconnect();
        self.by_addr.retain(|_, c| *c != conn);
        self.dirty.remove(&conn);
        let room_id = p.room.clone();
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        room.members.retain(|c| *c != conn);
        let members = room.members.clone();
        if !p.claims.role.watches_only() {
            for member in &members {
                self.out.push_back(SfuOutput::Signal {
                    conn: *member,
                    frame: CallServerFrame::PeerLeft {
                        participant: p.claims.participant.clone(),
                    },
                });
            }
            if report {
                self.event(
                    &room_id,
                    CallEventKind::ParticipantLeft {
                        participant: p.claims.participant.clone(),
                        role: p.claims.role,
                    },
                    unix_now,
                );
            }
        }
        let only_previews = members
            .iter()
            .all(|c| self.participants[c].claims.role.watches_only());
        if p.claims.role.watches_only() {
            // A preview leaving (the visitor declined, or answered) never ends the
            // call: the agent's portal may simply not have joined yet. An emptied room
            // is dropped quietly; the hub still owns the call.
            if members.is_empty() {
                self.rooms.remove(&room_id);
            }
        } else if report && only_previews {
            self.end_room(&room_id, "everyone left", now, unix_now);
        } else {
            self.announce_tracks(&room_id);
        }
    }

    fn end_room(&mut self, room_id: &str, reason: &str, now: Instant, unix_now: UnixMillis) {
        let Some(room) = self.rooms.remove(room_id) else {
            return;
        };
        for conn in &room.members {
            if let Some(mut p) = self.participants.remove(conn) {
                p.rtc.disconnect();
                self.dirty.remove(conn);
                if !p.claims.role.watches_only() {
                    let kind = CallEventKind::ParticipantLeft {
                        participant: p.claims.participant.clone(),
                        role: p.claims.role,
                    };
                    self.event_of(&room, kind, unix_now);
                }
            }
            self.out.push_back(SfuOutput::Signal {
                conn: *conn,
                frame: CallServerFrame::Ended {
                    reason: reason.into(),
                },
            });
            self.out.push_back(SfuOutput::Close { conn: *conn });
        }
        self.by_addr.retain(|_, c| !room.members.contains(c));
        let kind = CallEventKind::RoomEnded {
            duration_ms: unix_now.saturating_sub(room.started_at),
        };
        self.event_of(&room, kind, unix_now);
        let _ = now;
    }

    fn event(&mut self, room: &str, kind: CallEventKind, unix_now: UnixMillis) {
        let Some(room) = self.rooms.get(room) else {
            return;
        };
        let (site, name) = (room.site.clone(), room.name.clone());
        self.push_event(site, name, kind, unix_now);
    }

    fn event_of(&mut self, room: &Room, kind: CallEventKind, unix_now: UnixMillis) {
        self.push_event(room.site.clone(), room.name.clone(), kind, unix_now);
    }

    /// A call event for the platform, with a nonce no other event of this node has.
    fn push_event(
        &mut self,
        site: String,
        room: String,
        kind: CallEventKind,
        unix_now: UnixMillis,
    ) {
        self.events_made += 1;
        self.out.push_back(SfuOutput::Event(CallEvent {
            site,
            room,
            at: unix_now,
            nonce: format!("{}-{}", self.instance, self.events_made),
            kind,
        }));
    }

    /// A datagram on the UDP socket. Unknown senders (no participant accepts the
    /// STUN request) are ignored.
    /// Feeds one datagram to the participant it belongs to and polls that participant
    /// at once (str0m wants every input followed by polling its output). Participants
    /// it forwarded media to are only marked dirty: `poll` drains them, once per batch
    /// of datagrams rather than once per datagram.
    pub fn datagram(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
        now: Instant,
        unix_now: UnixMillis,
    ) {
        let Ok(contents) = contents.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        let conn = match self.by_addr.get(&source) {
            Some(conn) if self.participants[conn].rtc.accepts(&input) => *conn,
            _ => {
                let Some(conn) = self
                    .participants
                    .iter()
                    .find(|(_, p)| p.rtc.accepts(&input))
                    .map(|(c, _)| *c)
                else {
                    return;
                };
                self.by_addr.insert(source, conn);
                conn
            }
        };
        let p = self.participants.get_mut(&conn).unwrap();
        if p.rtc.handle_input(input).is_err() {
            p.rtc.disconnect();
        }
        self.dirty.remove(&conn);
        self.poll_participant(conn, now, unix_now);
    }

    /// Earliest time any participant needs `timeout`: str0m's timers, a seat's connect
    /// deadline, a closed socket's rejoin grace. Every deadline is here: the run loop
    /// sleeps until this, so one missing would only be checked when something else wakes it.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.participants
            .values()
            .map(|p| match p.gone_since {
                Some(at) => at + self.config.rejoin_grace,
                None if !p.connected => p
                    .next_timeout
                    .min(p.joined_at + self.config.connect_timeout),
                None => p.next_timeout,
            })
            .min()
    }

    /// Drives time: str0m timers, and the connect timeout for clients that never finish
    /// ICE + DTLS.
    pub fn timeout(&mut self, now: Instant, unix_now: UnixMillis) {
        let grace = self.config.rejoin_grace;
        let expired: Vec<ConnId> = self
            .participants
            .iter()
            .filter(|(_, p)| p.gone_since.is_some_and(|at| now >= at + grace))
            .map(|(c, _)| *c)
            .collect();
        for conn in expired {
            self.left(conn, now, unix_now);
        }
        let due: Vec<ConnId> = self
            .participants
            .iter()
            .filter(|(_, p)| p.gone_since.is_none() && p.next_timeout <= now)
            .map(|(c, _)| *c)
            .collect();
        for conn in due {
            let p = self.participants.get_mut(&conn).unwrap();
            if p.rtc.handle_input(Input::Timeout(now)).is_err() {
                p.rtc.disconnect();
            }
            self.dirty.insert(conn);
        }
        let stalled: Vec<ConnId> = self
            .participants
            .iter()
            .filter(|(_, p)| {
                !p.connected
                    && p.gone_since.is_none()
                    && now.saturating_duration_since(p.joined_at) >= self.config.connect_timeout
            })
            .map(|(c, _)| *c)
            .collect();
        for conn in stalled {
            self.stats.connect_timeouts += 1;
            self.error(
                conn,
                MediaErrorCode::ConnectTimeout,
                "media connection (ICE/DTLS) did not come up",
            );
            self.out.push_back(SfuOutput::Close { conn });
            self.left(conn, now, unix_now);
        }
        self.poll(now, unix_now);
    }

    /// Polls every participant with new work until each is waiting on a timeout;
    /// forwards media between them as it comes out. Call after every input.
    /// Polls every participant with pending output until str0m has nothing more.
    pub fn poll(&mut self, now: Instant, unix_now: UnixMillis) {
        while let Some(conn) = self.dirty.iter().next().copied() {
            self.dirty.remove(&conn);
            self.poll_participant(conn, now, unix_now);
        }
    }

    fn poll_participant(&mut self, conn: ConnId, now: Instant, unix_now: UnixMillis) {
        loop {
            let Some(p) = self.participants.get_mut(&conn) else {
                return;
            };
            if p.gone_since.is_some() {
                return;
            }
            if !p.rtc.is_alive() {
                p.next_timeout = now;
                self.left(conn, now, unix_now);
                self.out.push_back(SfuOutput::Close { conn });
                return;
            }
            match p.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    p.next_timeout = at;
                    return;
                }
                Ok(Output::Transmit(t)) => self.out.push_back(SfuOutput::Transmit {
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(Output::Event(event)) => self.rtc_event(conn, event, now),
                Err(_) => p.rtc.disconnect(),
            }
        }
    }

    fn rtc_event(&mut self, conn: ConnId, event: Event, now: Instant) {
        match event {
            Event::Connected => {
                let p = self.participants.get_mut(&conn).unwrap();
                p.connected = true;
                // Media is only forwarded to connected participants, so the keyframes
                // of everything it subscribed to are asked for now (else the first
                // picture waits for the browser's own PLI and the throttle).
                let room = p.room.clone();
                let tracks: Vec<(String, Option<Rid>)> = p
                    .subscriptions
                    .iter()
                    .map(|s| (s.track.clone(), s.forwarding_rid))
                    .collect();
                for (track, rid) in tracks {
                    self.request_keyframe_for(&room, &track, rid, true, now);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.participants.get_mut(&conn).unwrap().rtc.disconnect();
            }
            Event::MediaData(data) => self.forward(conn, data, now),
            Event::KeyframeRequest(req) => {
                let p = &self.participants[&conn];
                let Some(sub) = p.subscriptions.iter().find(|s| s.mid == req.mid) else {
                    return;
                };
                let (room, track, rid) = (p.room.clone(), sub.track.clone(), sub.forwarding_rid);
                self.request_keyframe_for(&room, &track, rid, false, now);
            }
            _ => {}
        }
    }

    fn forward(&mut self, from: ConnId, data: MediaData, now: Instant) {
        let p = self.participants.get_mut(&from).unwrap();
        if p.claims.role.watches_only() {
            return;
        }
        let Some(published) = p.published.iter_mut().find(|pb| pb.mid == data.mid) else {
            return;
        };
        if let Some(rid) = data.rid {
            if !published.rids.contains(&rid) {
                published.rids.push(rid);
                published.rids.sort_by_key(rid_rank);
            }
        }
        let available_rids = published.rids.clone();
        let track = track_id(&p.claims.participant, published.source);
        let room = p.room.clone();
        let members = self.rooms[&room].members.clone();
        let mut switched = Vec::new();
        for to in members.into_iter().filter(|c| *c != from) {
            let q = self.participants.get_mut(&to).unwrap();
            if !q.connected || q.gone_since.is_some() {
                continue;
            }
            let Some(sub) = q.subscriptions.iter_mut().find(|s| s.track == track) else {
                continue;
            };
            if data.rid.is_some() {
                // The asked-for layer while the publisher sends it, else the best one.
                let wanted = sub
                    .wanted_rid
                    .filter(|w| available_rids.contains(w))
                    .or(available_rids.first().copied());
                if data.rid != wanted {
                    continue;
                }
                if sub.forwarding_rid != data.rid {
                    sub.forwarding_rid = data.rid;
                    switched.push(data.rid);
                }
            }
            let mid = sub.mid;
            let q = self.participants.get_mut(&to).unwrap();
            let Some(writer) = q.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            if writer
                .write(pt, data.network_time, data.time, data.data.clone())
                .is_ok()
            {
                self.stats.forwarded_frames += 1;
                self.stats.forwarded_bytes += data.data.len() as u64;
                self.dirty.insert(to);
            }
        }
        for rid in switched {
            self.request_keyframe_for(&room, &track, rid, false, now);
        }
    }

    pub fn drain_outputs(&mut self) -> impl Iterator<Item = SfuOutput> + '_ {
        self.out.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sfu() -> Sfu {
        str0m::crypto::from_feature_flags().install_process_default();
        Sfu::new(SfuConfig {
            candidate: "127.0.0.1:40000".parse().unwrap(),
            connect_timeout: Duration::from_secs(15),
            keyframe_interval: Duration::from_millis(500),
            rejoin_grace: Duration::from_secs(10),
            instance: "test".into(),
        })
    }

    fn claims(participant: &str, role: CallRole) -> CallClaims {
        CallClaims {
            site: "s".into(),
            room: "r".into(),
            participant: participant.into(),
            name: participant.into(),
            role,
            expires_at: u64::MAX,
        }
    }

    /// A node with a host (conn 1) and a guest (conn 2) in room "r", outputs drained.
    fn host_and_guest() -> (Sfu, Instant) {
        let mut sfu = sfu();
        let t0 = Instant::now();
        sfu.join(1, claims("host", CallRole::Host), t0, 0).unwrap();
        sfu.join(2, claims("guest", CallRole::Guest), t0, 0)
            .unwrap();
        outputs(&mut sfu);
        (sfu, t0)
    }

    fn outputs(sfu: &mut Sfu) -> Vec<SfuOutput> {
        sfu.drain_outputs().collect()
    }

    #[test]
    fn a_client_that_never_completes_ice_and_dtls_is_dropped_after_the_timeout() {
        let (mut sfu, t0) = host_and_guest();
        sfu.timeout(t0 + Duration::from_secs(14), 14_000);
        assert!(!outputs(&mut sfu)
            .iter()
            .any(|o| matches!(o, SfuOutput::Close { .. })));
        sfu.timeout(t0 + Duration::from_secs(15), 15_000);
        let out = outputs(&mut sfu);
        assert!(out.iter().any(|o| matches!(o,
            SfuOutput::Signal { frame: CallServerFrame::Error { code, .. }, .. } if *code == MediaErrorCode::ConnectTimeout)));
        assert!(out.iter().any(|o| matches!(
            o,
            SfuOutput::Event(CallEvent {
                kind: CallEventKind::RoomEnded {
                    duration_ms: 15_000
                },
                ..
            })
        )));
        assert!(sfu.is_empty());
        assert_eq!(sfu.stats().connect_timeouts, 2);
    }

    /// Drives the node as its run loop does: only at the times it asks to be woken.
    fn run_until(sfu: &mut Sfu, t0: Instant, end: Instant) -> Vec<SfuOutput> {
        let mut out = Vec::new();
        while let Some(at) = sfu.next_timeout().filter(|at| *at <= end) {
            sfu.timeout(at, at.duration_since(t0).as_millis() as u64);
            out.extend(outputs(sfu));
        }
        out
    }

    /// A node with one guest (conn 1) in room "r", who never does ICE.
    fn lone_guest() -> (Sfu, Instant) {
        let mut sfu = sfu();
        let t0 = Instant::now();
        sfu.join(1, claims("guest", CallRole::Guest), t0, 0)
            .unwrap();
        outputs(&mut sfu);
        (sfu, t0)
    }

    #[test]
    fn a_lone_participant_who_never_connects_is_woken_for_and_dropped_at_the_deadline() {
        let (mut sfu, t0) = lone_guest();
        let wake = sfu.next_timeout().unwrap();
        assert!(wake <= t0 + Duration::from_secs(15), "{:?}", wake - t0);
        let out = run_until(&mut sfu, t0, t0 + Duration::from_secs(60));
        assert!(out
            .iter()
            .any(|o| matches!(o, SfuOutput::Close { conn: 1 })));
        assert!(sfu.is_empty(), "the seat was freed");
        assert_eq!(sfu.stats().connect_timeouts, 1);
        assert_eq!(sfu.next_timeout(), None);
    }

    #[test]
    fn a_closed_socket_is_woken_for_when_its_rejoin_grace_ends() {
        let (mut sfu, t0) = lone_guest();
        sfu.socket_closed(1, t0 + Duration::from_secs(1), 1_000);
        outputs(&mut sfu);
        assert_eq!(sfu.next_timeout(), Some(t0 + Duration::from_secs(11)));
        run_until(&mut sfu, t0, t0 + Duration::from_secs(60));
        assert!(sfu.is_empty());
    }

    #[test]
    fn a_rejoin_replaces_the_old_connection_without_leaving_the_call() {
        let (mut sfu, t0) = host_and_guest();
        // The visitor navigated: same participant, new connection (V8).
        sfu.join(3, claims("guest", CallRole::Guest), t0, 1_000)
            .unwrap();
        let out = outputs(&mut sfu);
        assert!(out
            .iter()
            .any(|o| matches!(o, SfuOutput::Close { conn: 2 })));
        assert!(
            !out.iter().any(|o| matches!(o, SfuOutput::Event(_))),
            "{out:?}"
        );
        assert_eq!(sfu.stats().participants, 2);
        // The old socket closing afterwards changes nothing.
        sfu.left(2, t0, 2_000);
        assert_eq!(sfu.stats().participants, 2);
    }

    #[test]
    fn a_preview_that_rings_before_the_host_joins_sees_the_host_arrive_and_nobody_else() {
        let mut sfu = sfu();
        let t0 = Instant::now();
        // The visitor's invitation opens its preview before the agent's portal has joined.
        sfu.join(1, claims("visitor", CallRole::Preview), t0, 0)
            .unwrap();
        sfu.join(2, claims("other", CallRole::Guest), t0, 0)
            .unwrap();
        sfu.join(3, claims("host", CallRole::Host), t0, 0).unwrap();
        let joined_for_preview: Vec<String> = outputs(&mut sfu)
            .into_iter()
            .filter_map(|o| match o {
                SfuOutput::Signal {
                    conn: 1,
                    frame: CallServerFrame::PeerJoined { peer },
                } => Some(peer.participant),
                _ => None,
            })
            .collect();
        assert_eq!(joined_for_preview, ["host"]);
    }

    #[test]
    fn a_visitor_who_declines_before_the_host_joins_does_not_end_the_call() {
        let mut sfu = sfu();
        let t0 = Instant::now();
        sfu.join(1, claims("visitor", CallRole::Preview), t0, 0)
            .unwrap();
        sfu.left(1, t0, 1_000);
        let out = outputs(&mut sfu);
        assert!(
            !out.iter().any(|o| matches!(
                o,
                SfuOutput::Event(CallEvent {
                    kind: CallEventKind::RoomEnded { .. },
                    ..
                })
            )),
            "a preview's leave ended the room"
        );
        assert!(sfu.is_empty());
        // The agent's portal then joins the same room as usual.
        sfu.join(2, claims("host", CallRole::Host), t0, 2_000)
            .unwrap();
        assert_eq!(sfu.stats().participants, 1);
    }

    fn left_events(out: &[SfuOutput]) -> usize {
        out.iter()
            .filter(|o| {
                matches!(
                    o,
                    SfuOutput::Event(CallEvent {
                        kind: CallEventKind::ParticipantLeft { .. },
                        ..
                    }) | SfuOutput::Signal {
                        frame: CallServerFrame::PeerLeft { .. },
                        ..
                    }
                )
            })
            .count()
    }

    #[test]
    fn a_guest_whose_page_navigates_keeps_their_place_for_the_rejoin_grace() {
        let (mut sfu, t0) = host_and_guest();

        // (All within the 15 s connect timeout: these clients never do ICE.)
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // The page unloads (socket closed, no `leave`): nobody sees them go…
        sfu.socket_closed(2, at(1_000), 1_000);
        sfu.timeout(at(2_000), 2_000);
        assert_eq!(left_events(&outputs(&mut sfu)), 0);
        // …and the next page rejoins quietly.
        sfu.join(3, claims("guest", CallRole::Guest), at(2_000), 2_000)
            .unwrap();
        let out = outputs(&mut sfu);
        assert!(
            !out.iter().any(|o| matches!(o, SfuOutput::Event(_))),
            "{out:?}"
        );
        sfu.timeout(at(11_500), 11_500);
        assert_eq!(sfu.stats().participants, 2);

        // A tab that is closed for good leaves when the grace is over.
        sfu.socket_closed(3, at(3_000), 3_000);
        sfu.timeout(at(12_999), 12_999);
        assert_eq!(left_events(&outputs(&mut sfu)), 0);
        sfu.timeout(at(13_000), 13_000);
        let out = outputs(&mut sfu);
        assert_eq!(
            left_events(&out),
            2,
            "PeerLeft to the host + ParticipantLeft: {out:?}"
        );
        assert_eq!(sfu.stats().participants, 1);
    }

    #[test]
    fn a_showroom_audience_takes_no_seats_is_seen_by_nobody_and_reports_nothing() {
        let (mut sfu, t0) = host_and_guest();
        for i in 0..(MAX_ROOM_PARTICIPANTS as u64 + 5) {
            let viewer = format!("audience~{i}");
            sfu.join(10 + i, claims(&viewer, CallRole::Viewer), t0, 0)
                .unwrap();
        }
        let out = outputs(&mut sfu);
        assert!(
            !out.iter().any(|o| matches!(
                o,
                SfuOutput::Event(_)
                    | SfuOutput::Signal {
                        conn: 1 | 2,
                        frame: CallServerFrame::PeerJoined { .. }
                    }
            )),
            "{out:?}"
        );
        // Seats are still there for the call's own participants.
        sfu.join(3, claims("guest-2", CallRole::Guest), t0, 0)
            .unwrap();
        // Viewers leaving never end the call.
        for i in 0..(MAX_ROOM_PARTICIPANTS as u64 + 5) {
            sfu.left(10 + i, t0, 1);
        }
        assert_eq!(sfu.stats().rooms, 1);
        assert_eq!(sfu.stats().participants, 3);
    }

    #[test]
    fn the_host_leaving_ends_the_room_for_everyone() {
        let (mut sfu, t0) = host_and_guest();
        sfu.left(1, t0, 5_000);
        let out = outputs(&mut sfu);
        assert!(out.iter().any(|o| matches!(
            o,
            SfuOutput::Signal {
                conn: 2,
                frame: CallServerFrame::Ended { .. }
            }
        )));
        assert!(sfu.is_empty());
    }
}
