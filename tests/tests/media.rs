//! The media node over real sockets: signaling WebSocket, UDP media with str0m clients,
//! call tokens, malformed frames, removal, capacity, drain and call events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use vitrine_core::clock::now_ms as unix_now;
use vitrine_core::media_key::{
    sign_body, sign_call_token, verify_body, CallClaims, Purpose, SIGNATURE_HEADER,
};
use vitrine_core::protocol::media::*;
use vitrine_media_node::{start, NodeConfig, RunningNode};
use vitrine_tests::media_client::{ClientOptions, MediaClient};

const KEY: &[u8] = b"integration-test-call-key";
const WAIT: Duration = Duration::from_secs(10);

async fn node(config: impl FnOnce(&mut NodeConfig)) -> RunningNode {
    let mut c = NodeConfig::new(KEY.to_vec());
    // Tests end with calls still running: a second's drain, not the default half minute.
    c.drain_timeout = Duration::from_secs(1);
    config(&mut c);
    start(
        c,
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn token(room: &str, participant: &str, role: CallRole) -> String {
    site_token("demo-shop", room, participant, role)
}

fn site_token(site: &str, room: &str, participant: &str, role: CallRole) -> String {
    sign_call_token(
        KEY,
        &CallClaims {
            site: site.into(),
            room: room.into(),
            participant: participant.into(),
            name: participant.into(),
            role,
            expires_at: unix_now() + 60_000,
        },
    )
}

fn ws_url(node: &RunningNode) -> String {
    format!("ws://{}/ws/call", node.http_addr)
}

async fn client(node: &RunningNode, room: &str, who: &str, role: CallRole) -> MediaClient {
    site_client(node, "demo-shop", room, who, role).await
}

async fn site_client(
    node: &RunningNode,
    site: &str,
    room: &str,
    who: &str,
    role: CallRole,
) -> MediaClient {
    MediaClient::join(ClientOptions {
        ws_url: ws_url(node),
        room: room.into(),
        token: site_token(site, room, who, role),
        publish: role != CallRole::Preview,
        video_frame_bytes: 1_200,
        sample_delays: false,
    })
    .await
    .unwrap()
}

/// Opens a raw signaling socket, sends `frames`, returns every server frame and the close code.
async fn raw_session(
    node: &RunningNode,
    frames: Vec<Message>,
) -> (Vec<CallServerFrame>, Option<u16>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(node))
        .await
        .unwrap();
    for frame in frames {
        ws.send(frame).await.unwrap();
    }
    let mut got = Vec::new();
    let mut close = None;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(3), ws.next()).await
    {
        match message {
            Message::Text(text) => got.push(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => {
                close = Some(frame.map(|f| u16::from(f.code)).unwrap_or(1005));
                break;
            }
            _ => {}
        }
    }
    (got, close)
}

fn json(frame: &CallClientFrame) -> Message {
    Message::Text(serde_json::to_string(frame).unwrap().into())
}

fn error_code(frames: &[CallServerFrame]) -> Option<MediaErrorCode> {
    frames.iter().find_map(|f| match f {
        CallServerFrame::Error { code, .. } => Some(*code),
        _ => None,
    })
}

#[tokio::test]
async fn two_str0m_clients_exchange_audio_and_video_through_the_node() {
    let node = node(|_| {}).await;
    let a = client(&node, "r1", "agent", CallRole::Host).await;
    let b = client(&node, "r1", "visitor", CallRole::Guest).await;
    for (me, other) in [(&a, "visitor"), (&b, "agent")] {
        me.wait_until("media from the other side", WAIT, |s| {
            s.frames
                .get(&format!("{other}/camera"))
                .copied()
                .unwrap_or(0)
                > 10
                && s.frames
                    .get(&format!("{other}/microphone"))
                    .copied()
                    .unwrap_or(0)
                    > 10
        })
        .await
        .unwrap();
    }
    node.shutdown().await;
}

#[tokio::test]
async fn expired_forged_wrong_room_and_garbage_tokens_are_refused() {
    let node = node(|_| {}).await;
    let expired = sign_call_token(
        KEY,
        &CallClaims {
            site: "demo-shop".into(),
            room: "r".into(),
            participant: "p".into(),
            name: "p".into(),
            role: CallRole::Host,
            expires_at: unix_now() - 1,
        },
    );
    let forged = sign_call_token(
        b"not the node's key",
        &CallClaims {
            site: "demo-shop".into(),
            room: "r".into(),
            participant: "p".into(),
            name: "p".into(),
            role: CallRole::Host,
            expires_at: unix_now() + 60_000,
        },
    );
    let cases = [
        (expired, "r", MediaErrorCode::TokenExpired),
        (forged, "r", MediaErrorCode::TokenForged),
        (
            token("other-room", "p", CallRole::Host),
            "r",
            MediaErrorCode::TokenWrongRoom,
        ),
        ("garbage".to_string(), "r", MediaErrorCode::TokenMalformed),
    ];
    for (token, room, code) in cases {
        let (frames, close) = raw_session(
            &node,
            vec![json(&CallClientFrame::Join {
                room: room.into(),
                token,
            })],
        )
        .await;
        assert_eq!(error_code(&frames), Some(code));
        assert_eq!(close, Some(4401), "{code:?}");
        assert!(!frames
            .iter()
            .any(|f| matches!(f, CallServerFrame::Joined { .. })));
    }
    node.shutdown().await;
}

#[tokio::test]
async fn malformed_signaling_is_answered_and_bounded() {
    let node = node(|_| {}).await;
    // Anything but join first.
    let (frames, close) = raw_session(&node, vec![json(&CallClientFrame::Leave {})]).await;
    assert_eq!(error_code(&frames), Some(MediaErrorCode::JoinExpected));
    assert_eq!(close, Some(4400));
    let (_, close) = raw_session(&node, vec![Message::Text("{not json".into())]).await;
    assert_eq!(close, Some(4400));

    let join = json(&CallClientFrame::Join {
        room: "r".into(),
        token: token("r", "p", CallRole::Guest),
    });
    // After join: a bad SDP and unknown frames get errors; five bad frames close.
    let bad_sdp = json(&CallClientFrame::Offer {
        sdp: "v=0 nonsense".into(),
        sources: Default::default(),
        receive: Default::default(),
    });
    let (got, _) = raw_session(
        &node,
        vec![join.clone(), bad_sdp, json(&CallClientFrame::Leave {})],
    )
    .await;
    assert!(got
        .iter()
        .any(|f| matches!(f, CallServerFrame::Joined { .. })));
    assert_eq!(error_code(&got), Some(MediaErrorCode::BadSdp));
    let mut frames = vec![join.clone()];
    frames.extend((0..5).map(|_| Message::Text(r#"{"type":"shout"}"#.into())));
    let (got, close) = raw_session(&node, frames).await;
    assert_eq!(error_code(&got), Some(MediaErrorCode::BadFrame));
    assert_eq!(close, Some(4400));

    // A guest may not remove people or end the room.
    let (got, _) = raw_session(
        &node,
        vec![
            join.clone(),
            json(&CallClientFrame::Remove {
                participant: "x".into(),
            }),
        ],
    )
    .await;
    assert_eq!(error_code(&got), Some(MediaErrorCode::Forbidden));
    // Binary frames are refused.
    let (_, close) = raw_session(&node, vec![join, Message::Binary(vec![1, 2, 3].into())]).await;
    assert_eq!(close, Some(1003));
    node.shutdown().await;
}

#[tokio::test]
async fn a_removed_participant_stops_receiving_and_is_no_longer_forwarded() {
    let node = node(|_| {}).await;
    let host = client(&node, "r2", "host", CallRole::Host).await;
    let kept = client(&node, "r2", "kept", CallRole::Guest).await;
    let removed = client(&node, "r2", "gone", CallRole::Guest).await;
    removed
        .wait_until("the removed one receives first", WAIT, |s| {
            s.frames.get("host/camera").copied().unwrap_or(0) > 10
        })
        .await
        .unwrap();
    kept.wait_until("media from the one to be removed", WAIT, |s| {
        s.frames.get("gone/camera").copied().unwrap_or(0) > 10
    })
    .await
    .unwrap();

    host.send(CallClientFrame::Remove {
        participant: "gone".into(),
    });
    removed
        .wait_until("told it was removed", WAIT, |s| s.removed)
        .await
        .unwrap();
    // It keeps sending (a misbehaving client), but nothing flows either way any more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (received, forwarded) = (
        removed.frames_from("host/camera"),
        kept.frames_from("gone/camera"),
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(removed.frames_from("host/camera"), received);
    assert_eq!(kept.frames_from("gone/camera"), forwarded);
    // The others still talk.
    let before = kept.frames_from("host/camera");
    kept.wait_until("host media continues", WAIT, |s| {
        s.frames.get("host/camera").copied().unwrap_or(0) > before + 10
    })
    .await
    .unwrap();
    node.shutdown().await;
}

#[tokio::test]
async fn a_room_holds_eleven_and_previews_see_only_the_host() {
    let node = node(|_| {}).await;
    let url = ws_url(&node);
    let join = |who: &str, role| {
        json(&CallClientFrame::Join {
            room: "big".into(),
            token: token("big", who, role),
        })
    };
    let mut sockets = Vec::new();
    for i in 0..11 {
        let role = if i == 0 {
            CallRole::Host
        } else {
            CallRole::Guest
        };
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        ws.send(join(&format!("p{i}"), role)).await.unwrap();
        let first = ws.next().await.unwrap().unwrap();
        assert!(first.to_text().unwrap().contains("\"joined\""), "{first:?}");
        sockets.push(ws);
    }
    let (frames, close) = raw_session(&node, vec![join("p11", CallRole::Guest)]).await;
    assert_eq!(error_code(&frames), Some(MediaErrorCode::RoomFull));
    assert!(close.is_some());
    // A preview still fits, and its peer list holds only the host.
    let (frames, _) = raw_session(&node, vec![join("watcher", CallRole::Preview)]).await;
    let peers = frames.iter().find_map(|f| match f {
        CallServerFrame::Joined { peers, .. } => Some(peers.clone()),
        _ => None,
    });
    assert_eq!(
        peers
            .unwrap()
            .iter()
            .map(|p| p.participant.as_str())
            .collect::<Vec<_>>(),
        vec!["p0"]
    );
    drop(sockets);
    node.shutdown().await;
}

#[tokio::test]
async fn call_events_are_reported_signed_and_drain_ends_calls_clearly() {
    // A tiny platform endpoint that checks the signature and keeps the events.
    let events: Arc<Mutex<Vec<CallEvent>>> = Arc::default();
    let sink = events.clone();
    let app = axum::Router::new().route(
        "/internal/call-events",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let signature = headers
                    .get("x-vitrine-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !verify_body(KEY, Purpose::CallEvent, &body, signature) {
                    return StatusCode::UNAUTHORIZED;
                }
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let platform = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let node = node(|c| {
        c.events_url = Some(format!("http://{platform}/internal/call-events"));
        c.drain_timeout = Duration::from_millis(500);
    })
    .await;
    let http = format!("http://{}", node.http_addr);
    let host = client(&node, "r3", "host", CallRole::Host).await;
    let guest = client(&node, "r3", "guest", CallRole::Guest).await;
    guest
        .wait_until("media", WAIT, |s| {
            s.frames.get("host/camera").copied().unwrap_or(0) > 5
        })
        .await
        .unwrap();
    assert_eq!(
        reqwest::get(format!("{http}/health"))
            .await
            .unwrap()
            .status(),
        200
    );

    node.shutdown().await;
    for c in [&host, &guest] {
        c.wait_until("ended by the shutdown", WAIT, |s| s.ended.is_some())
            .await
            .unwrap();
        assert!(c
            .state
            .lock()
            .unwrap()
            .ended
            .as_deref()
            .unwrap()
            .contains("shutting down"));
    }
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let kinds: Vec<CallEventKind> = events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.kind.clone())
            .collect();
        if kinds
            .iter()
            .any(|k| matches!(k, CallEventKind::RoomEnded { .. }))
        {
            assert_eq!(kinds[0], CallEventKind::RoomStarted);
            assert!(kinds.contains(&CallEventKind::ParticipantJoined {
                participant: "guest".into(),
                role: CallRole::Guest
            }));
            assert!(kinds.contains(&CallEventKind::ParticipantLeft {
                participant: "host".into(),
                role: CallRole::Host
            }));
            let CallEventKind::RoomEnded { duration_ms } = kinds.last().unwrap() else {
                panic!("room end is the last event: {kinds:?}");
            };
            assert!(*duration_ms > 0);
            assert!(events
                .lock()
                .unwrap()
                .iter()
                .all(|e| e.site == "demo-shop" && e.room == "r3"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no room end: {kinds:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_draining_node_refuses_new_joins() {
    let node = node(|c| c.drain_timeout = Duration::from_secs(2)).await;
    let url = ws_url(&node);
    let http = format!("http://{}", node.http_addr);
    // A running call keeps the node draining (not stopped) for a while.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(json(&CallClientFrame::Join {
        room: "r".into(),
        token: token("r", "host", CallRole::Host),
    }))
    .await
    .unwrap();
    ws.next().await.unwrap().unwrap();
    let stopping = tokio::spawn(node.shutdown());
    let deadline = std::time::Instant::now() + WAIT;
    while reqwest::get(format!("{http}/health"))
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(503)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never reported draining"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut late, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    late.send(json(&CallClientFrame::Join {
        room: "new".into(),
        token: token("new", "host", CallRole::Host),
    }))
    .await
    .unwrap();
    let answer = late.next().await.unwrap().unwrap();
    assert!(answer.to_text().unwrap().contains("draining"), "{answer:?}");
    stopping.await.unwrap();
}

/// POSTs a command to the node's `/control`, signed with `key`; the answer's status.
async fn control(node: &RunningNode, key: &[u8], command: &MediaCommand) -> u16 {
    let body = serde_json::to_vec(command).unwrap();
    reqwest::Client::new()
        .post(format!("http://{}/control", node.http_addr))
        .header(
            SIGNATURE_HEADER,
            sign_body(key, Purpose::MediaCommand, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn command(site: &str, room: &str, nonce: &str, kind: MediaCommandKind) -> MediaCommand {
    MediaCommand {
        site: site.into(),
        room: room.into(),
        at: unix_now(),
        nonce: nonce.into(),
        kind,
    }
}

/// Joins with a token over a raw socket; the error the node answers with, if any.
async fn join_error(
    node: &RunningNode,
    site: &str,
    room: &str,
    who: &str,
) -> Option<MediaErrorCode> {
    let join = json(&CallClientFrame::Join {
        room: room.into(),
        token: site_token(site, room, who, CallRole::Guest),
    });
    error_code(&raw_session(node, vec![join]).await.0)
}

#[tokio::test]
async fn control_commands_must_be_signed_fresh_and_never_seen_before() {
    let node = node(|_| {}).await;
    let revoke = |nonce: &str| {
        command(
            "demo-shop",
            "r9",
            nonce,
            MediaCommandKind::Revoke {
                participant: "guest".into(),
            },
        )
    };
    assert_eq!(control(&node, b"some other key", &revoke("n1")).await, 401);
    let unsigned = reqwest::Client::new()
        .post(format!("http://{}/control", node.http_addr))
        .body(serde_json::to_vec(&revoke("n1")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    let garbage = reqwest::Client::new()
        .post(format!("http://{}/control", node.http_addr))
        .header(
            SIGNATURE_HEADER,
            sign_body(KEY, Purpose::MediaCommand, b"{not json"),
        )
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let mut stale = revoke("n2");
    stale.at -= 60 * 60 * 1000;
    assert_eq!(control(&node, KEY, &stale).await, 409, "an hour old");
    assert_eq!(control(&node, KEY, &revoke("n3")).await, 204);
    assert_eq!(control(&node, KEY, &revoke("n3")).await, 409, "replayed");
    node.shutdown().await;
}

#[tokio::test]
async fn a_revoked_seat_leaves_at_once_and_its_token_opens_nothing() {
    let node = node(|_| {}).await;
    let host = client(&node, "r10", "host", CallRole::Host).await;
    let guest = client(&node, "r10", "guest-1", CallRole::Guest).await;
    guest
        .wait_until("media", WAIT, |s| {
            s.frames.get("host/camera").copied().unwrap_or(0) > 5
        })
        .await
        .unwrap();

    let revoke = MediaCommandKind::Revoke {
        participant: "guest-1".into(),
    };
    assert_eq!(
        control(&node, KEY, &command("demo-shop", "r10", "c1", revoke)).await,
        204
    );
    guest
        .wait_until("removed", WAIT, |s| s.removed)
        .await
        .unwrap();
    assert_eq!(
        join_error(&node, "demo-shop", "r10", "guest-1").await,
        Some(MediaErrorCode::TokenRevoked),
        "a fresh token for the revoked seat"
    );
    // The host stays, and another seat may still join.
    assert!(!host.state.lock().unwrap().removed);
    let next = client(&node, "r10", "guest-2", CallRole::Guest).await;
    next.wait_until("media for the next guest", WAIT, |s| {
        s.frames.get("host/camera").copied().unwrap_or(0) > 5
    })
    .await
    .unwrap();
    node.shutdown().await;
}

#[tokio::test]
async fn an_ended_call_closes_for_everyone_and_cannot_be_reopened() {
    let node = node(|_| {}).await;
    let host = client(&node, "r11", "host", CallRole::Host).await;
    let guest = client(&node, "r11", "guest-1", CallRole::Guest).await;
    assert_eq!(
        control(
            &node,
            KEY,
            &command("demo-shop", "r11", "e1", MediaCommandKind::End)
        )
        .await,
        204
    );
    for c in [&host, &guest] {
        c.wait_until("ended", WAIT, |s| s.ended.is_some())
            .await
            .unwrap();
    }
    for who in ["host", "guest-1", "guest-7"] {
        assert_eq!(
            join_error(&node, "demo-shop", "r11", who).await,
            Some(MediaErrorCode::CallEnded),
            "{who}"
        );
    }
    node.shutdown().await;
}

#[tokio::test]
async fn the_same_room_name_on_two_sites_is_two_rooms() {
    let node = node(|_| {}).await;
    let shop_host = site_client(&node, "shop-a", "r12", "host", CallRole::Host).await;
    let shop_guest = site_client(&node, "shop-a", "r12", "guest-1", CallRole::Guest).await;
    let other_host = site_client(&node, "shop-b", "r12", "host", CallRole::Host).await;
    let other_guest = site_client(&node, "shop-b", "r12", "guest-1", CallRole::Guest).await;
    let _other_only = site_client(&node, "shop-b", "r12", "guest-2", CallRole::Guest).await;
    for c in [&shop_guest, &other_guest] {
        c.wait_until("media from its own host", WAIT, |s| {
            s.frames.get("host/camera").copied().unwrap_or(0) > 5
        })
        .await
        .unwrap();
    }
    other_host
        .wait_until("media from shop-b's second guest", WAIT, |s| {
            s.frames.get("guest-2/camera").copied().unwrap_or(0) > 5
        })
        .await
        .unwrap();
    // Same-named participants of the other site replaced nobody, and shop-a never hears
    // shop-b's second guest.
    for c in [&shop_host, &shop_guest] {
        let state = c.state.lock().unwrap();
        assert!(!state.removed && state.ended.is_none() && state.socket_closed.is_none());
        assert!(
            !state.frames.keys().any(|t| t.starts_with("guest-2/")),
            "{:?}",
            state.frames
        );
    }
    // Ending one site's room leaves the other's running.
    assert_eq!(
        control(
            &node,
            KEY,
            &command("shop-b", "r12", "x1", MediaCommandKind::End)
        )
        .await,
        204
    );
    other_guest
        .wait_until("ended", WAIT, |s| s.ended.is_some())
        .await
        .unwrap();
    let before = shop_guest.frames_from("host/camera");
    shop_guest
        .wait_until("shop-a's call goes on", WAIT, |s| {
            s.frames.get("host/camera").copied().unwrap_or(0) > before + 10
        })
        .await
        .unwrap();
    assert_eq!(
        join_error(&node, "shop-b", "r12", "guest-2").await,
        Some(MediaErrorCode::CallEnded)
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_client_that_keeps_talking_still_reads_why_it_was_closed() {
    // The node must not drop the connection with the client's frames unread: the kernel
    // would reset it and the client could lose the `ended` sent just before.
    let node = node(|_| {}).await;
    let (ws, _) = tokio_tungstenite::connect_async(ws_url(&node))
        .await
        .unwrap();
    let (mut sink, mut stream) = ws.split();
    sink.send(json(&CallClientFrame::Join {
        room: "r13".into(),
        token: token("r13", "guest-1", CallRole::Guest),
    }))
    .await
    .unwrap();
    let first = tokio::time::timeout(WAIT, stream.next()).await.unwrap();
    let Some(Ok(Message::Text(text))) = first else {
        panic!("{first:?}")
    };
    assert!(matches!(
        serde_json::from_str(&text).unwrap(),
        CallServerFrame::Joined { .. }
    ));
    let chatter = tokio::spawn(async move {
        while sink.send(json(&CallClientFrame::Ping {})).await.is_ok() {
            // As fast as the node allows (20 frames a second).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        control(
            &node,
            KEY,
            &command("demo-shop", "r13", "t1", MediaCommandKind::End)
        )
        .await,
        204
    );
    let mut ended = None;
    while let Ok(Some(message)) = tokio::time::timeout(WAIT, stream.next()).await {
        match message {
            Ok(Message::Text(text)) => {
                if let Ok(CallServerFrame::Ended { reason }) = serde_json::from_str(&text) {
                    ended = Some(reason);
                }
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(e) => panic!("the connection broke instead of closing: {e} (ended: {ended:?})"),
        }
    }
    assert_eq!(ended.as_deref(), Some("the call ended"));
    chatter.abort();
    node.shutdown().await;
}

/// Tries to open a signaling socket; the HTTP status it was refused with, if refused
/// (and checks a refusal says when to come back).
async fn refused_with(node: &RunningNode) -> Option<u16> {
    match tokio_tungstenite::connect_async(ws_url(node)).await {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.headers()["retry-after"], "5");
            Some(response.status().as_u16())
        }
        Err(e) => panic!("neither opened nor refused: {e}"),
    }
}

#[tokio::test]
async fn floods_and_oversize_input_are_refused_clearly_and_the_node_stays_up() {
    let node = node(|c| {
        c.max_connections = 8;
        c.max_unjoined = 4;
    })
    .await;
    let http = format!("http://{}", node.http_addr);

    // Sockets that never join: the fifth waits its turn with a 503 and Retry-After.
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(
            tokio_tungstenite::connect_async(ws_url(&node))
                .await
                .unwrap()
                .0,
        );
    }
    assert_eq!(refused_with(&node).await, Some(503));
    // Joined participants free their unjoined slot, up to the connection limit.
    for ws in &mut silent {
        ws.send(json(&CallClientFrame::Join {
            room: "r".into(),
            token: token("r", "guest", CallRole::Guest),
        }))
        .await
        .unwrap();
        ws.next().await.unwrap().unwrap();
    }
    let mut more = Vec::new();
    for _ in 0..4 {
        more.push(
            tokio_tungstenite::connect_async(ws_url(&node))
                .await
                .unwrap()
                .0,
        );
    }
    assert_eq!(
        refused_with(&node).await,
        Some(503),
        "over the connection limit"
    );
    drop(silent);
    drop(more);
    let deadline = std::time::Instant::now() + WAIT;
    while refused_with(&node).await.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "slots never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A frame flood: the sender is told why and closed; others are unaffected.
    let join = json(&CallClientFrame::Join {
        room: "r".into(),
        token: token("r", "flooder", CallRole::Guest),
    });
    let mut frames = vec![join];
    frames.extend((0..200).map(|_| json(&CallClientFrame::Ping {})));
    let (got, close) = raw_session(&node, frames).await;
    assert_eq!(error_code(&got), Some(MediaErrorCode::RateLimited));
    assert_eq!(close, Some(4429));
    let pongs = got
        .iter()
        .filter(|f| matches!(f, CallServerFrame::Pong {}))
        .count();
    // At most the burst is served (some answers may be cut by the close).
    assert!(pongs <= 60, "served beyond the burst: {pongs}");

    // An oversize frame, before or after joining, closes the socket (1009), not the node.
    for joined in [false, true] {
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&node))
            .await
            .unwrap();
        if joined {
            ws.send(json(&CallClientFrame::Join {
                room: "r".into(),
                token: token("r", "big", CallRole::Guest),
            }))
            .await
            .unwrap();
            ws.next().await.unwrap().unwrap();
        }
        let _ = ws.send(Message::Text("x".repeat(200 * 1024).into())).await;
        let closed = loop {
            match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
                Some(Ok(Message::Text(_))) => continue,
                other => break other,
            }
        };
        match closed {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1009, "{}", frame.reason)
            }
            other => panic!("expected a 1009 close (joined: {joined}), got {other:?}"),
        }
    }
    // An oversize control body is refused before its signature is even read.
    let big = reqwest::Client::new()
        .post(format!("{http}/control"))
        .body(vec![b'{'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let ok = client(&node, "r2", "host", CallRole::Host).await;
    drop(ok);
    assert_eq!(
        reqwest::get(format!("{http}/health"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    node.shutdown().await;
}
