//! The chat benchmark's load generator (`cargo xtask bench chat` runs it against a release
//! server). N visitors over real WebSockets each open a conversation; agents (one per 50
//! conversations, invited through the admin API) take them; then for a steady window each
//! visitor writes every ~5 s and each agent answers each of its conversations every ~10 s.
//! Reports visitor → agent and agent → visitor delivery latency (send → frame received,
//! which includes the store write the hub waits for) and store writes per message.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Parser;
use serde_json::{json, Value};
use vitrine_tests::bench::{percentile, Counter, Rng};
use vitrine_tests::{agent_message, hello, visitor_message, Api, Client};

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
    /// The local server's process: its memory is reported after the window.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value_t = 1000)]
    conversations: usize,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    #[arg(long, default_value = "demo-shop")]
    site: String,
}

const PER_AGENT: usize = 50;

fn stamp(epoch: Instant) -> String {
    format!("t={:.3}", epoch.elapsed().as_secs_f64() * 1000.0)
}

fn sent_at(frame: &Value) -> Option<f64> {
    frame["message"]["body"]["text"]
        .as_str()?
        .strip_prefix("t=")?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let epoch = Instant::now();
    let n = args.conversations;
    let agents = n.div_ceil(PER_AGENT);
    let admin = Api::login(&args.server, "admin@demo.shop", "vitrine-demo").await?;

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let to_agent = Arc::new(Mutex::new(Vec::<f64>::new()));
    let to_visitor = Arc::new(Mutex::new(Vec::<f64>::new()));
    let messages = Arc::new(AtomicU64::new(0));
    let taken = Arc::new(AtomicU64::new(0));

    // Agents: admins of the account, so they need no assignment.
    let mut agent_tasks = Vec::new();
    for k in 0..agents {
        let email = format!("bench-{k}-{}@bench.example", std::process::id());
        let (api, _) = admin
            .invite_and_accept(
                &email,
                &format!("Bench {k}"),
                "admin",
                "bench agent password",
            )
            .await?;
        let mut client = Client::agent(&args.server, &args.site, &api.cookie).await?;
        client.next().await?; // snapshot
        let (measuring, stop, to_agent, messages, taken) = (
            measuring.clone(),
            stop.clone(),
            to_agent.clone(),
            messages.clone(),
            taken.clone(),
        );
        agent_tasks.push(tokio::spawn(async move {
            let mut mine: Vec<String> = Vec::new();
            // Takes sent but not confirmed: the hub may refuse some (`rate_limited`, the
            // per-socket frame budget), and an agent retries, as the portal does.
            let mut to_take: Vec<String> = Vec::new();
            let mut retry_at: Option<Instant> = None;
            let mut rng = Rng(0xA5A5_5A5A ^ (k as u64 + 1));
            let mut next_send = Instant::now() + Duration::from_secs(3600);
            let mut sent = 0u64;
            loop {
                if stop.load(Ordering::Relaxed) {
                    return anyhow::Ok(client);
                }
                if retry_at.is_some_and(|at| at <= Instant::now()) {
                    retry_at = None;
                    // Within the refilled budget (10 frames a second); the rest next time.
                    for id in to_take.iter().take(8) {
                        client
                            .send(&json!({"type": "take", "conversation_id": id}))
                            .await?;
                    }
                    if !to_take.is_empty() {
                        retry_at = Some(Instant::now() + Duration::from_secs(1));
                    }
                }
                let wake = retry_at.map_or(next_send, |at| at.min(next_send));
                let frame = tokio::select! {
                    f = client.next_forever() => Some(f?),
                    _ = tokio::time::sleep_until(wake.into()) => None,
                };
                if frame.is_none() && Instant::now() < next_send {
                    continue; // a retry is due, not a message
                }
                let Some(frame) = frame else {
                    // Answer one of my conversations (each about every 10 s).
                    if !mine.is_empty() && measuring.load(Ordering::Relaxed) {
                        let id = &mine[(rng.next_u64() as usize) % mine.len()];
                        sent += 1;
                        client
                            .send(&agent_message(
                                id,
                                &format!("bench-a{k}-{sent:08}"),
                                &stamp(epoch),
                            ))
                            .await?;
                        messages.fetch_add(1, Ordering::Relaxed);
                    }
                    next_send =
                        Instant::now() + Duration::from_millis(10_000 / mine.len().max(1) as u64);
                    continue;
                };
                match frame["type"].as_str() {
                    Some("conversation_changed") => {
                        let c = &frame["conversation"];
                        let index: Option<usize> = c["visitor_id"]
                            .as_str()
                            .and_then(|v| v.strip_prefix("bench-chat-"))
                            .and_then(|i| i.parse().ok());
                        let id = c["conversation_id"].as_str().unwrap_or("").to_string();
                        if c["status"] == "pending"
                            && index.is_some_and(|i| i % agents == k)
                            && !to_take.contains(&id)
                        {
                            client
                                .send(&json!({"type": "take", "conversation_id": id}))
                                .await?;
                            to_take.push(id.clone());
                        }
                        // Shown as active: it is this agent's (others get its ID alone).
                        if c["status"] == "active" && !mine.contains(&id) {
                            to_take.retain(|t| *t != id);
                            mine.push(id);
                            taken.fetch_add(1, Ordering::Relaxed);
                            next_send =
                                Instant::now() + Duration::from_millis(rng.between(0, 10_000));
                        }
                    }
                    Some("message") if frame["message"]["author"]["kind"] == "visitor" => {
                        if let Some(t) = sent_at(&frame) {
                            if measuring.load(Ordering::Relaxed) {
                                to_agent
                                    .lock()
                                    .unwrap()
                                    .push(epoch.elapsed().as_secs_f64() * 1000.0 - t);
                            }
                        }
                    }
                    Some("error") if frame["code"] == "rate_limited" => {
                        retry_at.get_or_insert(Instant::now() + Duration::from_secs(1));
                    }
                    _ => {}
                }
            }
        }));
    }

    // Visitors, each opening a conversation.
    let mut visitor_tasks = Vec::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    for i in 0..n {
        let (server, site, gate) = (args.server.clone(), args.site.clone(), gate.clone());
        let (measuring, stop, to_visitor, messages) = (
            measuring.clone(),
            stop.clone(),
            to_visitor.clone(),
            messages.clone(),
        );
        visitor_tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await?;
            let mut rng = Rng(0x9E37_79B9 ^ (i as u64 + 1));
            let mut client = Client::visitor(&server, &site).await?;
            client
                .send(&hello(
                    &site,
                    &format!("bench-chat-{i:06}"),
                    &format!("bench-visit-{i:06}"),
                    1,
                    "https://shop.example/",
                    "bench",
                ))
                .await?;
            client
                .send(&visitor_message(
                    &format!("bench-v{i:06}-00000000"),
                    "hello",
                ))
                .await?;
            // A crowd arrives over seconds, not all in one instant.
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(permit);
            let mut sent = 0u64;
            let mut next_send = Instant::now() + Duration::from_millis(rng.between(0, 5_000));
            loop {
                if stop.load(Ordering::Relaxed) {
                    return anyhow::Ok(client);
                }
                let frame = tokio::select! {
                    f = client.next_forever() => Some(f?),
                    _ = tokio::time::sleep_until(next_send.into()) => None,
                };
                match frame {
                    None => {
                        if measuring.load(Ordering::Relaxed) {
                            sent += 1;
                            client
                                .send(&visitor_message(
                                    &format!("bench-v{i:06}-{sent:08}"),
                                    &stamp(epoch),
                                ))
                                .await?;
                            messages.fetch_add(1, Ordering::Relaxed);
                        }
                        next_send =
                            Instant::now() + Duration::from_millis(rng.between(4_000, 6_000));
                    }
                    Some(f)
                        if f["type"] == "message" && f["message"]["author"]["kind"] == "agent" =>
                    {
                        if let Some(t) = sent_at(&f) {
                            if measuring.load(Ordering::Relaxed) {
                                to_visitor
                                    .lock()
                                    .unwrap()
                                    .push(epoch.elapsed().as_secs_f64() * 1000.0 - t);
                            }
                        }
                    }
                    Some(_) => {}
                }
            }
        }));
    }

    let started = Instant::now();
    while taken.load(Ordering::Relaxed) < n as u64 {
        if started.elapsed() > Duration::from_secs(300) {
            bail!(
                "only {} of {n} conversations were taken",
                taken.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let setup_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counter = Counter::new(
        args.metrics.as_deref(),
        &args.server,
        &args.site,
        args.operator_token.as_deref(),
    );
    let counts_before = counter.read().await?;
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let sent = messages.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1000)).await; // let the last ones land
    let counts = counter.read().await? - counts_before;
    let writes = counts.store_requests;
    stop.store(true, Ordering::Relaxed);

    let sorted = |v: &Mutex<Vec<f64>>| {
        let mut v = v.lock().unwrap().clone();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    };
    let (va, av) = (sorted(&to_agent), sorted(&to_visitor));
    println!("conversations: {n} active, {agents} agents (set up in {setup_secs:.1} s)");
    for (name, lat) in [("visitor -> agent", &va), ("agent -> visitor", &av)] {
        println!(
            "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
            lat.len(),
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN)
        );
    }
    println!(
        "messages sent in window: {sent}; store writes: {writes} ({:.2} per message)",
        writes as f64 / sent.max(1) as f64
    );
    if counter.is_edge() {
        println!(
            "DynamoDB requests: {} ({:.2} per message)",
            counts.dynamodb_requests,
            counts.dynamodb_requests as f64 / sent.max(1) as f64
        );
    }
    if let Some(pid) = args.server_pid {
        println!(
            "server memory: {:.1} MiB",
            vitrine_tests::bench::rss_kib(pid)? as f64 / 1024.0
        );
    }
    println!(
        "| {n} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
        percentile(&va, 0.5),
        percentile(&va, 0.99),
        percentile(&av, 0.5),
        percentile(&av, 0.99),
        writes as f64 / sent.max(1) as f64,
        if counter.is_edge() {
            format!(
                "{:.2}",
                counts.dynamodb_requests as f64 / sent.max(1) as f64
            )
        } else {
            "–".into()
        }
    );
    std::process::exit(0);
}
