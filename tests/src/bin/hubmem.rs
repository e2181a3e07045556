//! Hub memory per connected visitor (`cargo xtask bench memory`): one hub, configured as a
//! Durable Object runs it, fills with N visitors who said hello and viewed a few pages,
//! with one agent watching the live list. A counting global allocator gives the bytes the
//! hub holds (live heap after minus before), so the figure is the hub's own, not the
//! sockets' or the runtime's — what must fit a Durable Object's 128 MB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use anyhow::{bail, Result};
use clap::Parser;
use vitrine_core::hub::storage::Answer;
use vitrine_core::hub::{AgentIdentity, Hub, HubConfig, Input, Output, StoreOp, StoreReply};
use vitrine_core::protocol::{
    Activity, AgentFrame, Location, PageView, VisitorFrame, PROTOCOL_VERSION,
};
use vitrine_core::store::agents::Role;
use vitrine_core::store::conversations::Restored;
use vitrine_tests::bench::Rng;

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Live allocations: each costs the real allocator a little more than its size.
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Parser)]
struct Args {
    /// Visitor counts to measure, one fresh hub each.
    #[arg(long, value_delimiter = ',', default_value = "10000,50000")]
    visitors: Vec<u32>,
    /// Page views per visitor after its first page.
    #[arg(long, default_value_t = 3)]
    pages: u32,
}

const T0: u64 = 1_800_000_000_000;

/// Answers every store request at once, as a healthy store would.
fn settle(hub: &mut Hub, mut out: Vec<Output>, now: u64) {
    while let Some(output) = out.pop() {
        if let Output::Store(request) = output {
            let answer = match request.op {
                StoreOp::Restore => Answer::Restored(Restored::default()),
                StoreOp::Visit { .. } => Answer::VisitCount(1),
                _ => Answer::Done,
            };
            let reply = StoreReply {
                id: request.id,
                result: Ok(answer),
            };
            out.extend(hub.handle(Input::Stored(reply), now));
        }
    }
}

fn page(seq: u32, rng: &mut Rng) -> PageView {
    let product = rng.between(1, 100_000);
    PageView {
        seq,
        url: format!("https://shop.example/products/item-{product}?utm_source=newsletter"),
        title: format!("Item {product} — Example Shop"),
        referrer: Some("https://www.google.com/".into()),
        opened_ms_ago: 0,
    }
}

/// The live heap, in bytes, a hub with `n` visitors holds beyond an empty one.
fn measure(n: u32, pages: u32) -> (isize, isize, usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut now = T0;
    let config = HubConfig {
        visitor_key: b"bench-visitor-key".to_vec(),
        // As a Durable Object runs it.
        remember: true,
        ..HubConfig::default()
    };
    let mut hub = Hub::new("bench-site", config);
    let out = hub.handle(Input::Tick, now);
    settle(&mut hub, out, now);
    let out = hub.handle(
        Input::AgentConnected {
            conn: 0,
            agent: AgentIdentity {
                agent_id: "agent-1".into(),
                name: "Agent".into(),
                role: Role::Admin,
            },
            session: "session-1".into(),
            available: true,
        },
        now,
    );
    settle(&mut hub, out, now);
    let (before, blocks_before) = (LIVE.load(Ordering::Relaxed), BLOCKS.load(Ordering::Relaxed));
    for i in 1..=u64::from(n) {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        nonce[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        let out = hub.handle(
            Input::VisitorConnected {
                conn: i,
                location: Location {
                    country: Some("DE".into()),
                    city: Some("Berlin".into()),
                },
                address: format!("198.51.{}.{}", (i >> 8) & 255, i & 255),
                nonce,
            },
            now,
        );
        settle(&mut hub, out, now);
        let hello = VisitorFrame::Hello {
            v: PROTOCOL_VERSION,
            credential: None,
            visit_id: format!("{:016x}", rng.next_u64()),
            visit_age_ms: 0,
            page: page(1, &mut rng),
            activity: Activity::Active,
            chat_after_seq: 0,
        };
        let out = hub.handle(
            Input::FromVisitor {
                conn: i,
                frame: hello,
            },
            now,
        );
        settle(&mut hub, out, now);
    }
    for seq in 2..=pages + 1 {
        now += 30_000;
        let out = hub.handle(
            Input::FromAgent {
                conn: 0,
                frame: AgentFrame::Ping {},
            },
            now,
        );
        settle(&mut hub, out, now);
        for i in 1..=u64::from(n) {
            let frame = VisitorFrame::PageView(page(seq, &mut rng));
            let out = hub.handle(Input::FromVisitor { conn: i, frame }, now);
            settle(&mut hub, out, now);
            if i % 1000 == 0 {
                // Pings keep everyone alive across the simulated minutes.
                let out = hub.handle(Input::Tick, now);
                settle(&mut hub, out, now);
            }
        }
    }
    // The agent's batched list update goes out; nothing is left waiting.
    now += 1_000;
    let out = hub.handle(Input::Tick, now);
    settle(&mut hub, out, now);
    let held = LIVE.load(Ordering::Relaxed) - before;
    let blocks = BLOCKS.load(Ordering::Relaxed) - blocks_before;
    // Every visitor still connected and listed (the agent is the one more connection).
    let online = hub.visitor_count().min(hub.connection_count() - 1);
    drop(hub);
    (held, blocks, online)
}

fn main() -> Result<()> {
    let args = Args::parse();
    println!("| visitors | hub heap (MiB) | per visitor (bytes) | allocations per visitor |");
    println!("|---:|---:|---:|---:|");
    for n in args.visitors {
        let (held, blocks, online) = measure(n, args.pages);
        if online != n as usize {
            bail!("{online} of {n} visitors are online at the end; the run is not valid");
        }
        println!(
            "| {n} | {:.1} | {} | {:.1} |",
            held as f64 / (1024.0 * 1024.0),
            held / n as isize,
            blocks as f64 / f64::from(n)
        );
    }
    Ok(())
}
