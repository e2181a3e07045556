//! Standard ingest and playback (B3): WHIP (RFC 9725) publishes into a room, WHEP lets a
//! showroom's audience watch its host. One HTTP exchange each: the client POSTs its SDP
//! offer with a call token as bearer, gets the answer and a `Location` to DELETE when
//! done. Behind it the participant is an ordinary one of the SFU, without a signaling
//! socket; its media connection timing out or a DELETE ends it.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use vitrine_core::clock::now_ms as unix_now;
use vitrine_core::media_key::verify_call_token;
use vitrine_core::protocol::media::*;

use crate::{busy, Command, Outgoing, Shared};

/// How long the SFU may take to answer an offer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Whip,
    Whep,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Whip => "whip",
            Kind::Whep => "whep",
        }
    }
}

pub(crate) async fn whip(
    state: State<Shared>,
    room: Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    session(state, room, headers, body, Kind::Whip).await
}

pub(crate) async fn whep(
    state: State<Shared>,
    room: Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    session(state, room, headers, body, Kind::Whep).await
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        why.to_string(),
    )
        .into_response()
}

fn unauthorized(why: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, "Bearer"),
            (header::CONTENT_TYPE, "text/plain"),
        ],
        why.to_string(),
    )
        .into_response()
}

async fn session(
    State(shared): State<Shared>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
    kind: Kind,
) -> Response {
    let is_sdp = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/sdp"));
    if !is_sdp {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send an SDP offer as application/sdp",
        );
    }
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return unauthorized("a call token is needed: Authorization: Bearer <token>");
    };
    let mut claims = match verify_call_token(&shared.key, token.trim(), &room, unix_now()) {
        Ok(claims) => claims,
        Err(e) => return unauthorized(&e.to_string()),
    };
    let allowed = match kind {
        Kind::Whip => matches!(claims.role, CallRole::Host | CallRole::Guest),
        Kind::Whep => claims.role == CallRole::Viewer,
    };
    if !allowed {
        return refuse(
            StatusCode::FORBIDDEN,
            match kind {
                Kind::Whip => "this token may not publish (WHIP takes a host or guest seat)",
                Kind::Whep => "this token is not a viewer's (WHEP takes a viewer token)",
            },
        );
    }
    let Ok(sdp) = String::from_utf8(body.to_vec()) else {
        return refuse(StatusCode::BAD_REQUEST, "the offer is not UTF-8");
    };
    let Ok(slot) = shared.connections.clone().try_acquire_owned() else {
        return busy("the media node is at its connection limit");
    };
    let conn = shared
        .next_conn
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if kind == Kind::Whep {
        // One viewer token serves a whole audience: each viewer is its own participant.
        claims.participant = format!("{}~{conn}", claims.participant);
    }
    let (sources, receive) = match kind {
        Kind::Whip => (
            crate::sdp::sources_by_section(&sdp).into_iter().collect(),
            Default::default(),
        ),
        Kind::Whep => (Default::default(), Default::default()),
    };
    let (outbox, mut outgoing) = mpsc::channel::<Outgoing>(256);
    let sent = shared
        .commands
        .send(Command::Join {
            conn,
            claims,
            outbox,
        })
        .is_ok()
        && shared
            .commands
            .send(Command::Frame {
                conn,
                frame: CallClientFrame::Offer {
                    sdp,
                    sources,
                    receive,
                },
            })
            .is_ok();
    if !sent {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the media node is stopping",
        );
    }
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, async {
        while let Some(out) = outgoing.recv().await {
            match out {
                Outgoing::Frame(CallServerFrame::Answer { sdp }) => return Ok(sdp),
                Outgoing::Frame(CallServerFrame::Error { code, message }) => {
                    return Err((code, message))
                }
                Outgoing::Frame(_) => {}
                Outgoing::Close => break,
            }
        }
        Err((MediaErrorCode::CallEnded, "the call is over".to_string()))
    })
    .await;
    let answer = match answer {
        Ok(Ok(answer)) => answer,
        failed => {
            let _ = shared.commands.send(Command::Gone { conn });
            let (code, message) = match failed {
                Ok(Err(refused)) => refused,
                _ => (
                    MediaErrorCode::Draining,
                    "the media node did not answer in time".into(),
                ),
            };
            let status = match code {
                MediaErrorCode::BadSdp => StatusCode::BAD_REQUEST,
                MediaErrorCode::RoomFull | MediaErrorCode::Draining => {
                    return busy(if code == MediaErrorCode::RoomFull {
                        "the room is full"
                    } else {
                        "the media node is stopping"
                    })
                }
                MediaErrorCode::NotFound => StatusCode::CONFLICT,
                _ => StatusCode::FORBIDDEN,
            };
            return refuse(status, &message);
        }
    };
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).expect("the OS's random numbers");
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    shared
        .sessions
        .lock()
        .expect("sessions")
        .insert(id.clone(), conn);
    // The session lives until the SFU closes it (DELETE, timeout, the room ending).
    let sessions = shared.sessions.clone();
    let commands = shared.commands.clone();
    let session_id = id.clone();
    tokio::spawn(async move {
        let _slot = slot;
        while let Some(out) = outgoing.recv().await {
            if matches!(out, Outgoing::Close) {
                break;
            }
        }
        sessions.lock().expect("sessions").remove(&session_id);
        let _ = commands.send(Command::Gone { conn });
    });
    let location = format!("/{}/{room}/{id}", kind.path());
    (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_string()),
            (header::LOCATION, location),
        ],
        answer,
    )
        .into_response()
}

/// `DELETE` on a session's `Location`: it leaves the room.
pub(crate) async fn stop(
    State(shared): State<Shared>,
    Path((_room, resource)): Path<(String, String)>,
) -> StatusCode {
    let conn = shared.sessions.lock().expect("sessions").remove(&resource);
    match conn {
        Some(conn) => {
            let _ = shared.commands.send(Command::Frame {
                conn,
                frame: CallClientFrame::Leave {},
            });
            StatusCode::OK
        }
        None => StatusCode::NOT_FOUND,
    }
}

/// Trickle ICE and ICE restarts are optional in WHIP/WHEP; the answer carries the node's
/// one candidate and clients send theirs in the offer.
pub(crate) async fn no_trickle() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "DELETE")],
        "trickle ICE is not supported: put your candidates in the offer",
    )
        .into_response()
}
