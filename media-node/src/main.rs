//! `vitrine-media-node`: runs the SFU until SIGINT/SIGTERM, then drains gracefully.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use vitrine_core::clock::now_ms;
use vitrine_core::media_key::{sign_call_token, CallClaims};
use vitrine_core::protocol::media::CallRole;
use vitrine_media_node::{start, NodeConfig};

#[derive(Parser)]
#[command(about = "Vitrine media node: str0m SFU + call signaling")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// HTTP listener: `/ws/call`, `/health`, `/metrics`.
    #[arg(long, env = "VITRINE_MEDIA_HTTP", default_value = "127.0.0.1:7070")]
    http: SocketAddr,
    /// UDP socket for all media.
    #[arg(long, env = "VITRINE_MEDIA_UDP", default_value = "127.0.0.1:7071")]
    udp: SocketAddr,
    /// Address advertised as the ICE host candidate (the VM's public IP); defaults to
    /// the UDP bind address.
    #[arg(long, env = "VITRINE_MEDIA_PUBLIC_IP")]
    public_ip: Option<IpAddr>,
    /// Shared secret with the platform (call tokens, call events).
    #[arg(long, env = "VITRINE_CALL_KEY", hide_env_values = true)]
    key: String,
    /// Where call events are POSTed, e.g. http://127.0.0.1:8080/internal/call-events.
    #[arg(long, env = "VITRINE_CALL_EVENTS_URL")]
    events_url: Option<String>,
    /// Seconds running calls may continue after a shutdown signal.
    #[arg(long, default_value_t = 30)]
    drain_seconds: u64,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Prints a call token signed with the key (for operators and tests).
    SignToken {
        #[arg(long)]
        site: String,
        #[arg(long)]
        room: String,
        #[arg(long)]
        participant: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["host", "guest", "preview", "viewer"])]
        role: String,
        /// Validity from now, in seconds (negative: already expired).
        #[arg(long, default_value_t = 120, allow_negative_numbers = true)]
        ttl_seconds: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,str0m=warn".into()),
        )
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        args.key.len() >= 16,
        "the call key must be at least 16 bytes"
    );
    if let Some(Command::SignToken {
        site,
        room,
        participant,
        name,
        role,
        ttl_seconds,
    }) = args.command
    {
        let role = match role.as_str() {
            "host" => CallRole::Host,
            "guest" => CallRole::Guest,
            "viewer" => CallRole::Viewer,
            _ => CallRole::Preview,
        };
        let expires_at = (now_ms() as i64 + ttl_seconds * 1000).max(0) as u64;
        let claims = CallClaims {
            site,
            room,
            participant,
            name,
            role,
            expires_at,
        };
        println!("{}", sign_call_token(args.key.as_bytes(), &claims));
        return Ok(());
    }
    let mut config = NodeConfig::new(args.key.into_bytes());
    config.events_url = args.events_url;
    config.public_ip = args.public_ip;
    config.drain_timeout = Duration::from_secs(args.drain_seconds);
    // Listening for SIGTERM before saying "listening": a supervisor (or a test) may stop
    // the node as soon as it reads that line, and a signal before the handler is lost
    // under qemu-user (seen: an arm64 node that never drained).
    let stop = shutdown_signal()?;
    let node = start(config, args.http, args.udp).await?;
    tracing::info!(http = %node.http_addr, udp = %node.udp_addr, "media node listening");
    println!("media node http://{} udp {}", node.http_addr, node.udp_addr);
    stop.await;
    tracing::info!("draining");
    node.shutdown().await;
    Ok(())
}

/// SIGTERM (systemd, tests) or SIGINT (a terminal): both handlers are installed at once.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
