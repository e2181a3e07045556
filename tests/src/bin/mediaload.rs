//! `vitrine-mediaload`: many str0m participants in one process against a media node.
//! Each room has `--per-room` participants that all publish audio (50 fps) and video
//! (30 fps) and receive everyone else's. Prints one JSON line: frames sent, frames
//! received vs expected (loss), forwarding delay percentiles, per-track counts.
//!
//! Also the "second, independent WebRTC client" of the interop test: `--rooms 1
//! --per-room 1 --room X --name rust` joins a room a Chromium page is in.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use serde_json::json;
use vitrine_core::media_key::{sign_call_token, CallClaims};
use vitrine_core::protocol::media::CallRole;
use vitrine_tests::bench::percentile;
use vitrine_tests::media_client::{ClientOptions, MediaClient};

#[derive(Parser)]
struct Args {
    /// The node's signaling URL, ws://host:port/ws/call.
    #[arg(long)]
    ws: String,
    /// The node's call key (the load generator signs its own tokens).
    #[arg(long, env = "VITRINE_CALL_KEY")]
    key: String,
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    #[arg(long, default_value_t = 2)]
    per_room: usize,
    /// Join this room (single room) instead of generated ones.
    #[arg(long)]
    room: Option<String>,
    /// The site the rooms belong to (rooms are per site on the node).
    #[arg(long, default_value = "demo-shop")]
    site: String,
    /// Participant id/name when `--room` is given.
    #[arg(long, default_value = "loadgen")]
    name: String,
    /// Measure for this long once everyone is connected.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Bytes per video frame: 2,000 ≈ 480 kbit/s at 30 fps.
    #[arg(long, default_value_t = 2_000)]
    video_bytes: usize,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let now = vitrine_core::clock::now_ms();
    let mut clients = Vec::new();
    for r in 0..args.rooms {
        let room = args.room.clone().unwrap_or_else(|| format!("load-{r}"));
        for p in 0..args.per_room {
            let participant = if args.room.is_some() {
                args.name.clone()
            } else {
                format!("r{r}p{p}")
            };
            let role = if p == 0 && args.room.is_none() {
                CallRole::Host
            } else {
                CallRole::Guest
            };
            let token = sign_call_token(
                args.key.as_bytes(),
                &CallClaims {
                    site: args.site.clone(),
                    room: room.clone(),
                    participant: participant.clone(),
                    name: participant.clone(),
                    role,
                    expires_at: now + 600_000,
                },
            );
            let client = MediaClient::join(ClientOptions {
                ws_url: args.ws.clone(),
                room: room.clone(),
                token,
                publish: true,
                video_frame_bytes: args.video_bytes,
                sample_delays: true,
            })
            .await?;
            clients.push(client);
        }
    }
    // Everyone connected and receiving from everyone before measuring.
    let others = args.per_room.saturating_sub(1);
    let setup_deadline = std::time::Instant::now() + Duration::from_secs(60);
    for c in &clients {
        let remaining = setup_deadline.saturating_duration_since(std::time::Instant::now());
        c.wait_until("everyone's media", remaining, |s| {
            s.connected && s.frames.values().filter(|n| **n > 0).count() >= 2 * others
        })
        .await?;
    }
    let snapshot = |clients: &[MediaClient]| -> (u64, u64) {
        clients.iter().fold((0, 0), |(sent, recv), c| {
            let s = c.state.lock().unwrap();
            (sent + s.frames_sent, recv + s.frames.values().sum::<u64>())
        })
    };
    for c in &clients {
        c.state.lock().unwrap().delays_us.clear();
    }
    let (sent0, recv0) = snapshot(&clients);
    // Marks the start of the steady state for whoever watches the node (xtask bench).
    // On stderr: stdout carries only the JSON report.
    eprintln!("measuring");
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let (sent1, recv1) = snapshot(&clients);
    let sent = sent1 - sent0;
    let received = recv1 - recv0;
    let expected = sent * others as u64;
    let mut delays_ms: Vec<f64> = clients
        .iter()
        .flat_map(|c| c.state.lock().unwrap().delays_us.clone())
        .map(|us| us as f64 / 1000.0)
        .collect();
    delays_ms.sort_by(f64::total_cmp);
    let mut tracks: HashMap<String, u64> = HashMap::new();
    for c in &clients {
        for (track, n) in &c.state.lock().unwrap().frames {
            *tracks.entry(track.clone()).or_default() += n;
        }
    }
    let consumer_streams = args.rooms * args.per_room * others * 2;
    println!(
        "{}",
        json!({
            "participants": clients.len(),
            "consumer_streams": consumer_streams,
            "seconds": args.seconds,
            "frames_sent": sent,
            "frames_received": received,
            "frames_expected": expected,
            "loss": if expected == 0 { 0.0 } else { 1.0 - received as f64 / expected as f64 },
            "delay_p50_ms": percentile(&delays_ms, 0.50),
            "delay_p99_ms": percentile(&delays_ms, 0.99),
            "tracks": tracks,
        })
    );
    for c in clients {
        c.stop();
    }
    Ok(())
}
