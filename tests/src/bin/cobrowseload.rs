//! The co-browsing benchmark's load generator for the hub (`cargo xtask bench cobrowse`
//! runs it after the Chromium measurement, against a release server pinned to its own
//! core). N visitors over real WebSockets each accept an agent's view and stream page
//! events as the widget does (a snapshot in 6,000-character chunks, then a batch every
//! 100 ms); agents (one connection per 10 sessions) view them. For each streaming rate it
//! reports the server's CPU (from /proc, as a share of one core) next to the same sessions
//! idle, the relayed bytes, and the visitor → agent delay of each batch.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::{json, Value};
use vitrine_tests::bench::percentile;
use vitrine_tests::{hello, login, Client};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    server: String,
    /// The server's process, whose CPU time is read from /proc.
    #[arg(long)]
    server_pid: u32,
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    /// Bytes of events per second each viewed page streams, one window per value.
    #[arg(long, default_value = "2048,32768")]
    rates: String,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value = "demo-shop")]
    site: String,
}

const PER_AGENT: usize = 10;
const BATCH_MS: u64 = 100;
const CHUNK_CHARS: usize = 6000;
/// A demo-shop page's first snapshot is about this large.
const SNAPSHOT_CHARS: usize = 60_000;

/// The server's CPU time so far (user + system), in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').context("bad stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()?;
    let hz: f64 = String::from_utf8(hz.stdout)?.trim().parse()?;
    Ok(ticks / hz)
}

/// Events as a widget batches them: JSON whose first event carries the send time.
fn batch(epoch: Instant, chars: usize) -> String {
    let t = epoch.elapsed().as_secs_f64() * 1000.0;
    let head = format!("[{{\"type\":3,\"timestamp\":{t:.3},\"data\":{{\"pad\":\"");
    let pad = chars.saturating_sub(head.len() + 4).max(1);
    format!("{head}{}\"}}}}]", "x".repeat(pad))
}

fn sent_at(chunk: &str) -> Option<f64> {
    let rest = chunk.strip_prefix("[{\"type\":3,\"timestamp\":")?;
    rest[..rest.find(',')?].parse().ok()
}

struct Shared {
    epoch: Instant,
    /// Bytes per second each page streams now (0: idle).
    rate: AtomicU64,
    stop: AtomicBool,
    viewing: AtomicUsize,
    measuring: AtomicBool,
    delays: Mutex<Vec<f64>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    degraded: AtomicU64,
}

async fn visitor(shared: Arc<Shared>, server: String, site: String, i: usize) -> Result<()> {
    let mut client = Client::visitor(&server, &site).await?;
    let id = format!("bench-cobrowse-{i:05}");
    client
        .send(&hello(
            &site,
            &id,
            &format!("{id}-visit"),
            1,
            "https://shop.example/",
            "Shop",
        ))
        .await?;
    let mut recording = false;
    let mut seq = 0u64;
    let mut next = Instant::now() + Duration::from_millis(BATCH_MS);
    let send = |seq: &mut u64, json: String| {
        let chunks: Vec<String> = json
            .as_bytes()
            .chunks(CHUNK_CHARS)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let n = chunks.len();
        chunks
            .into_iter()
            .enumerate()
            .map(|(k, chunk)| {
                *seq += 1;
                json!({"type": "cobrowse_events", "seq": *seq, "chunk": chunk, "last": k + 1 == n})
            })
            .collect::<Vec<_>>()
    };
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let frame = tokio::select! {
            f = client.next_forever() => Some(f?),
            _ = tokio::time::sleep_until(next.into()) => None,
        };
        let out = match frame {
            Some(f) => match f["type"].as_str() {
                Some("cobrowse_request") => {
                    vec![json!({"type": "cobrowse_consent", "accept": true})]
                }
                Some("cobrowse_start") | Some("cobrowse_snapshot") => {
                    recording = true;
                    send(&mut seq, batch(shared.epoch, SNAPSHOT_CHARS))
                }
                Some("cobrowse_end") => {
                    recording = false;
                    vec![]
                }
                _ => vec![],
            },
            None => {
                next += Duration::from_millis(BATCH_MS);
                let chars = (shared.rate.load(Ordering::Relaxed) * BATCH_MS / 1000) as usize;
                if !recording || chars == 0 {
                    continue;
                }
                send(&mut seq, batch(shared.epoch, chars))
            }
        };
        for frame in out {
            if shared.measuring.load(Ordering::Relaxed) {
                shared.bytes_in.fetch_add(
                    frame["chunk"].as_str().map_or(0, str::len) as u64,
                    Ordering::Relaxed,
                );
            }
            client.send(&frame).await?;
        }
    }
}

async fn agent(shared: Arc<Shared>, mut client: Client, first: usize, n: usize) -> Result<()> {
    for i in first..first + n {
        client
            .send(
                &json!({"type": "cobrowse_start", "visitor_id": format!("bench-cobrowse-{i:05}")}),
            )
            .await?;
    }
    while !shared.stop.load(Ordering::Relaxed) {
        let frame: Value = tokio::select! {
            f = client.next_forever() => f?,
            _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
        };
        match frame["type"].as_str() {
            Some("cobrowse") if frame["state"] == "viewing" => {
                shared.viewing.fetch_add(1, Ordering::Relaxed);
            }
            Some("cobrowse") if frame["state"] == "degraded" => {
                shared.degraded.fetch_add(1, Ordering::Relaxed);
            }
            Some("cobrowse_events") if shared.measuring.load(Ordering::Relaxed) => {
                let chunk = frame["chunk"].as_str().unwrap_or("");
                shared
                    .bytes_out
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if let Some(t) = sent_at(chunk) {
                    let now = shared.epoch.elapsed().as_secs_f64() * 1000.0;
                    shared.delays.lock().unwrap().push(now - t);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The server's CPU share of one core over `seconds`, and what was relayed meanwhile.
async fn window(shared: &Shared, pid: u32, seconds: u64) -> Result<(f64, u64, u64, Vec<f64>)> {
    shared.delays.lock().unwrap().clear();
    shared.bytes_in.store(0, Ordering::Relaxed);
    shared.bytes_out.store(0, Ordering::Relaxed);
    let (cpu, wall) = (cpu_seconds(pid)?, Instant::now());
    shared.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let share = (cpu_seconds(pid)? - cpu) / wall.elapsed().as_secs_f64();
    let mut delays = shared.delays.lock().unwrap().clone();
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok((
        share,
        shared.bytes_in.load(Ordering::Relaxed),
        shared.bytes_out.load(Ordering::Relaxed),
        delays,
    ))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let rates: Vec<u64> = args
        .rates
        .split(',')
        .map(|r| {
            r.trim()
                .parse()
                .context("--rates: bytes per second, comma-separated")
        })
        .collect::<Result<_>>()?;
    let n = args.sessions;
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        rate: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        viewing: AtomicUsize::new(0),
        measuring: AtomicBool::new(false),
        delays: Mutex::new(Vec::new()),
        bytes_in: AtomicU64::new(0),
        bytes_out: AtomicU64::new(0),
        degraded: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    for i in 0..n {
        tasks.push(tokio::spawn(visitor(
            shared.clone(),
            args.server.clone(),
            args.site.clone(),
            i,
        )));
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // every visitor is in the hub's list
    let cookie = login(&args.server, "admin@demo.shop", "vitrine-demo").await?;
    for first in (0..n).step_by(PER_AGENT) {
        let mut client = Client::agent(&args.server, &args.site, &cookie).await?;
        client.next().await?; // snapshot
        tasks.push(tokio::spawn(agent(
            shared.clone(),
            client,
            first,
            PER_AGENT.min(n - first),
        )));
    }
    let started = Instant::now();
    while shared.viewing.load(Ordering::Relaxed) < n {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "only {} of {n} sessions are viewing",
                shared.viewing.load(Ordering::Relaxed)
            );
        }
        if let Some(failed) = tasks.iter().position(|t| t.is_finished()) {
            bail!("a load task ended early: {:?}", tasks.remove(failed).await?);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // the snapshots are through

    println!(
        "{n} viewing sessions ({} agent connections), {} s per window, server on its own core",
        n.div_ceil(PER_AGENT),
        args.seconds
    );
    let (idle, ..) = window(&shared, args.server_pid, args.seconds).await?;
    println!(
        "idle (viewing, nothing changes): server CPU {:.1} % of a core",
        idle * 100.0
    );
    println!("| bytes/s per page | relayed KiB/s (all) | server CPU % of a core | CPU ms per relayed MiB | delay p50 ms | delay p99 ms | degraded |");
    for rate in rates {
        shared.rate.store(rate, Ordering::Relaxed);
        let degraded = shared.degraded.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (cpu, bytes_in, bytes_out, delays) =
            window(&shared, args.server_pid, args.seconds).await?;
        let secs = args.seconds as f64;
        let mib = bytes_out as f64 / 1_048_576.0;
        println!(
            "| {rate} | in {:.0} / out {:.0} | {:.1} | {:.1} | {:.2} | {:.2} | {} |",
            bytes_in as f64 / 1024.0 / secs,
            bytes_out as f64 / 1024.0 / secs,
            cpu * 100.0,
            (cpu - idle) * secs * 1000.0 / mib.max(f64::MIN_POSITIVE),
            percentile(&delays, 0.5),
            percentile(&delays, 0.99),
            shared.degraded.load(Ordering::Relaxed) - degraded,
        );
    }
    shared.stop.store(true, Ordering::Relaxed);
    std::process::exit(0);
}
