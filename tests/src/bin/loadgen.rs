//! The presence benchmark's load generator (`cargo xtask bench presence` runs it against a
//! release server). N simulated visitors over real WebSockets send page views (mean one
//! per 30 s), heartbeats (every 25 s) and activity changes; one agent watches. Reports the
//! page view → agent latency, the server's memory per visitor (local server) and what the
//! window cost the store (and at the edge: DynamoDB requests, and how often the runtime had
//! to run the site's Durable Object).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Parser;
use serde_json::json;
use vitrine_tests::bench::{percentile, Counter, Rng};
use vitrine_tests::{hello, login, page_view, Client};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    server: String,
    /// The server's operator listener (its `/metrics`), http://host:port.
    #[arg(long)]
    metrics: Option<String>,
    /// `--server` is the Worker: its counters are read with this operator token.
    #[arg(long)]
    operator_token: Option<String>,
    /// The local server's process (its memory is measured).
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value_t = 1000)]
    visitors: usize,
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    #[arg(long, default_value = "demo-shop")]
    site: String,
    #[arg(long, default_value = "admin@demo.shop")]
    email: String,
    #[arg(long, default_value = "vitrine-demo")]
    password: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let epoch = Instant::now();
    let counter = Counter::new(
        args.metrics.as_deref(),
        &args.server,
        &args.site,
        args.operator_token.as_deref(),
    );
    let base_rss = args
        .server_pid
        .map(vitrine_tests::bench::rss_kib)
        .transpose()?;

    let cookie = login(&args.server, &args.email, &args.password).await?;
    let mut agent = Client::agent(&args.server, &args.site, &cookie).await?;
    agent.next().await?; // snapshot

    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let agent_task = {
        let (latencies, measuring) = (latencies.clone(), measuring.clone());
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            while let Ok(frame) = agent.next_forever().await {
                let now = epoch.elapsed().as_secs_f64() * 1000.0;
                let Some(rows) = frame["upserts"].as_array() else {
                    continue;
                };
                for r in rows {
                    let title = r["page"]["title"].as_str().unwrap_or("");
                    let Some(sent) = title
                        .strip_prefix("bench ")
                        .and_then(|t| t.parse::<f64>().ok())
                    else {
                        continue;
                    };
                    let key = (
                        r["visitor_id"].as_str().unwrap_or("").to_string(),
                        r["page_views_this_visit"].as_u64(),
                    );
                    if seen.insert(key) && measuring.load(Ordering::Relaxed) {
                        latencies.lock().unwrap().push(now - sent);
                    }
                }
            }
        })
    };

    // Connect everyone (a few hundred at a time, as a real crowd would trickle in).
    let page_views = Arc::new(AtomicU64::new(0));
    let heartbeats = Arc::new(AtomicU64::new(0));
    let connected = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let stop_at = Arc::new(Mutex::new(None::<Instant>));
    let mut tasks = Vec::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    for i in 0..args.visitors {
        let (server, site) = (args.server.clone(), args.site.clone());
        let (page_views, heartbeats, connected, retried, stop_at, gate) = (
            page_views.clone(),
            heartbeats.clone(),
            connected.clone(),
            retried.clone(),
            stop_at.clone(),
            gate.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let mut rng = Rng(0x9E3779B97F4A7C15 ^ (i as u64 + 1));
            let visitor_id = format!("bench-visitor-{i:06}");
            let mut seq = 1;
            // As the widget does: a socket that fails or brings no welcome (a site object
            // still starting) is opened again a moment later.
            let mut tries = 0;
            let mut client = loop {
                let joined = async {
                    let mut client = Client::visitor(&server, &site).await?;
                    client.send(&hello(&site, &visitor_id, &format!("bench-visit-{i:06}"), seq, "https://shop.example/", "bench 0")).await?;
                    client.next().await?; // welcome
                    anyhow::Ok(client)
                };
                match joined.await {
                    Ok(client) => break client,
                    Err(_) if tries < 10 => {
                        tries += 1;
                        retried.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => return Err(e),
                }
            };
            page_views.fetch_add(1, Ordering::Relaxed);
            connected.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            let mut next_nav = Instant::now() + Duration::from_millis(rng.between(1_000, 60_000));
            let mut next_ping = Instant::now() + Duration::from_millis(rng.between(0, 25_000));
            let mut next_activity = Instant::now() + Duration::from_millis(rng.between(30_000, 240_000));
            let mut idle = false;
            loop {
                let stop = *stop_at.lock().unwrap();
                if stop.is_some_and(|s| Instant::now() >= s) {
                    break;
                }
                let wake = next_nav.min(next_ping).min(next_activity).min(stop.unwrap_or(next_nav));
                tokio::time::sleep_until(wake.into()).await;
                let now = Instant::now();
                if now >= next_nav {
                    seq += 1;
                    let sent = epoch.elapsed().as_secs_f64() * 1000.0;
                    client.send(&page_view(seq, &format!("https://shop.example/p/{seq}"), &format!("bench {sent:.3}"))).await?;
                    page_views.fetch_add(1, Ordering::Relaxed);
                    next_nav = now + Duration::from_millis(rng.between(10_000, 50_000));
                }
                if now >= next_ping {
                    client.send(&json!({"type": "ping"})).await?;
                    heartbeats.fetch_add(1, Ordering::Relaxed);
                    next_ping = now + Duration::from_secs(25);
                }
                if now >= next_activity {
                    idle = !idle;
                    client.send(&json!({"type": "activity", "state": if idle { "idle" } else { "active" }})).await?;
                    next_activity = now + Duration::from_millis(rng.between(30_000, 240_000));
                }
            }
            anyhow::Ok(client)
        }));
    }
    let connect_started = Instant::now();
    while connected.load(Ordering::Relaxed) < args.visitors as u64 {
        if connect_started.elapsed() > Duration::from_secs(300) {
            anyhow::bail!(
                "only {} of {} visitors connected",
                connected.load(Ordering::Relaxed),
                args.visitors
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let loaded_rss = args
        .server_pid
        .map(vitrine_tests::bench::rss_kib)
        .transpose()?;
    let counts_before = counter.read().await?;
    let views_before = page_views.load(Ordering::Relaxed);
    let beats_before = heartbeats.load(Ordering::Relaxed);
    measuring.store(true, Ordering::Relaxed);
    *stop_at.lock().unwrap() = Some(Instant::now() + Duration::from_secs(args.seconds));

    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await??);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    measuring.store(false, Ordering::Relaxed);
    let counts = counter.read().await? - counts_before;
    let writes = counts.store_requests;
    let views = page_views.load(Ordering::Relaxed) - views_before;
    let beats = heartbeats.load(Ordering::Relaxed) - beats_before;
    agent_task.abort();

    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = args.visitors as f64;
    let hours = args.seconds as f64 / 3600.0;
    let per_visitor_kib = match (base_rss, loaded_rss) {
        (Some(base), Some(loaded)) => {
            println!("server RSS: {base} KiB idle -> {loaded} KiB loaded");
            loaded.saturating_sub(base) as f64 / n
        }
        _ => f64::NAN,
    };
    println!(
        "visitors: {}  (all connected in {connect_secs:.1} s; {} sockets opened again)",
        args.visitors,
        retried.load(Ordering::Relaxed)
    );
    println!(
        "steady window: {} s, {} page views, {} heartbeats",
        args.seconds, views, beats
    );
    println!(
        "page view -> agent: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "store writes in window: {writes} ({:.1} per visitor-hour; page views {:.1} per visitor-hour; heartbeats cost {})",
        writes as f64 / n / hours,
        views as f64 / n / hours,
        writes.saturating_sub(views)
    );
    if counter.is_edge() {
        println!(
            "DynamoDB requests in window: {} ({:.2} per visitor-hour); object runs (frames + alarms): {} ({:.1} per visitor-hour)",
            counts.dynamodb_requests,
            counts.dynamodb_requests as f64 / n / hours,
            counts.object_events,
            counts.object_events as f64 / n / hours,
        );
        println!(
            "| visitors | p50 (ms) | p99 (ms) | max (ms) | hub store requests /visitor-h | DynamoDB requests /visitor-h | object runs /visitor-h | page views /visitor-h | heartbeats /visitor-h |"
        );
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            args.visitors,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN),
            writes as f64 / n / hours,
            counts.dynamodb_requests as f64 / n / hours,
            counts.object_events as f64 / n / hours,
            views as f64 / n / hours,
            beats as f64 / n / hours,
        );
    } else {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} |",
            args.visitors,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN),
            per_visitor_kib,
            writes as f64 / n / hours,
            views as f64 / n / hours
        );
    }
    for client in clients {
        let _ = client.close().await;
    }
    Ok(())
}
