//! The media node's wire: the signaling frames between a participant and the node on
//! `/ws/call`, and the call events the node reports to the platform (C14). How a
//! participant proves it may join is [`crate::media_key`]'s job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::clock::UnixMillis;

/// Most participants in one room: an agent and ten visitors (V4).
pub const MAX_ROOM_PARTICIPANTS: usize = 11;
/// A showroom's audience (WHEP viewers) per room; they take no seat.
pub const MAX_ROOM_VIEWERS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallRole {
    /// The agent: may remove participants and end the room.
    Host,
    /// A visitor who accepted.
    Guest,
    /// A visitor who has not answered yet: receives the host's camera only (V1), sends
    /// nothing, is invisible to the others.
    Preview,
    /// One of a showroom's audience (WHEP, B3): receives the host's tracks, sends
    /// nothing, is invisible, and takes no seat (rooms hold many).
    Viewer,
}

impl CallRole {
    /// Receives the host only, sends nothing, and is seen by nobody.
    pub fn watches_only(self) -> bool {
        matches!(self, CallRole::Preview | CallRole::Viewer)
    }
}

/// What a published track carries; the subscriber's UI places it accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Microphone,
    Camera,
    Screen,
}

impl TrackSource {
    /// The media stream id a subscriber sees: camera and microphone of one participant
    /// share a stream (lip sync), the screen has its own.
    pub fn stream_id(self, participant: &str) -> String {
        match self {
            TrackSource::Screen => format!("{participant}~screen"),
            _ => participant.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallPeer {
    pub participant: String,
    pub name: String,
    pub role: CallRole,
}

/// Browser (or any WebRTC client) → media node, on `/ws/call`.
///
/// The client always makes the offers (it is the only side adding transceivers the node
/// forwards into), so there is no offer glare: the node asks for a new offer with
/// `tracks` when other participants' tracks appear or go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CallClientFrame {
    /// First frame. `room` must match the token's room.
    Join {
        room: String,
        token: String,
    },
    /// An SDP offer. `sources` says what each sending mid carries; `receive` maps
    /// recvonly mids to the remote track ids (from `tracks`) they should receive.
    Offer {
        sdp: String,
        #[ts(type = "Record<string, TrackSource>")]
        sources: BTreeMap<String, TrackSource>,
        #[ts(type = "Record<string, string>")]
        receive: BTreeMap<String, String>,
    },
    /// Simulcast: which layer (rid) of a remote track this client wants.
    Layer {
        track: String,
        rid: String,
    },
    /// Host only: remove a participant from the room.
    Remove {
        participant: String,
    },
    /// Host only: end the room for everyone.
    End {},
    Leave {},
    Ping {},
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RemoteTrack {
    /// Stable id of the forwarded track (`participant/source`).
    pub id: String,
    pub participant: String,
    pub source: TrackSource,
    /// `audio` or `video`.
    pub kind: String,
}

/// Media node → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallServerFrame {
    Joined {
        participant: String,
        peers: Vec<CallPeer>,
    },
    Answer {
        sdp: String,
    },
    /// The set of remote tracks changed: make a new offer with one recvonly transceiver
    /// per track (reusing inactive ones).
    Tracks {
        tracks: Vec<RemoteTrack>,
    },
    PeerJoined {
        peer: CallPeer,
    },
    PeerLeft {
        participant: String,
    },
    /// This participant was removed by the host (V5).
    Removed {},
    /// The room ended (host ended it, or the node is shutting down).
    Ended {
        reason: String,
    },
    Error {
        code: MediaErrorCode,
        message: String,
    },
    Pong {},
}

/// Why the media node refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MediaErrorCode {
    /// The first frame was not `join`.
    JoinExpected,
    /// Not JSON, or not a frame the node knows.
    BadFrame,
    TokenMalformed,
    /// The token's signature does not match (not signed by the platform).
    TokenForged,
    TokenExpired,
    /// The token is for another room than the `join` names.
    TokenWrongRoom,
    /// The seat was given up (declined, removed, hung up): its tokens open nothing.
    TokenRevoked,
    /// The call is over: no token opens its room again.
    CallEnded,
    AlreadyJoined,
    RoomFull,
    /// The node is shutting down and takes no new participants.
    Draining,
    BadSdp,
    /// The media connection (ICE + DTLS) did not come up in time.
    ConnectTimeout,
    /// A host-only action from a participant who is not the host.
    Forbidden,
    NotFound,
    /// More signaling frames than a client ever needs: the socket is closed.
    RateLimited,
}

/// Media node → platform: what happened in a room (C14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallEventKind {
    RoomStarted,
    ParticipantJoined { participant: String, role: CallRole },
    ParticipantLeft { participant: String, role: CallRole },
    RoomEnded { duration_ms: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub site: String,
    pub room: String,
    /// When it happened (node clock); also what makes an old copy stale.
    pub at: UnixMillis,
    /// Unique per event: the hub refuses a second copy (a replay).
    pub nonce: String,
    #[serde(flatten)]
    pub kind: CallEventKind,
}

/// Platform → media node: seats that are no longer anyone's (POSTed to `/control`, signed
/// with the media key like call events, with a timestamp and a nonce).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaCommand {
    pub site: String,
    pub room: String,
    pub at: UnixMillis,
    pub nonce: String,
    #[serde(flatten)]
    pub kind: MediaCommandKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum MediaCommandKind {
    /// The participant was removed, declined or hung up: out of the room now, and their
    /// tokens refused until they expire.
    Revoke { participant: String },
    /// The call is over: everyone out, and no token may open the room again.
    End,
}
