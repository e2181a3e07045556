//! The Worker in workerd (`edge/worker/serve.mjs`: `wrangler dev --local`, from npm), for
//! the test, bench and dev commands: built first, pointed at a DynamoDB endpoint, stopped
//! with everything it started.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::children::{free_port, Children};
use crate::{run, wasm};

/// The Worker's settings in tests (the integration suite starts its servers with the same).
pub const TEST_VISITOR_KEY: &str = "integration-tests-visitor-key";
pub const OPERATOR_TOKEN: &str = "local-operator-token";
/// Signs the API's change notices to the Worker.
pub const CHANGES_KEY: &str = "local-changes-key";
/// The longest offline grace any test expects (live_list.rs waits for offline that long).
pub const TEST_OFFLINE_GRACE_MS: &str = "2000";

pub struct Worker {
    pub url: String,
}

/// Which Worker: as deployed, or the test build (with the store contract's route).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Build {
    Deploy,
    Test,
}

/// Builds the Worker and starts it on a free port with `vars` (name, value).
pub fn start(
    root: &Path,
    cache: &Path,
    build: Build,
    children: &mut Children,
    vars: &[(&str, &str)],
) -> Result<Worker> {
    start_on(root, cache, build, false, children, free_port()?, vars)
}

/// `direct`: through Miniflare, without `wrangler dev`'s proxy (benchmarks).
pub fn start_on(
    root: &Path,
    cache: &Path,
    build: Build,
    direct: bool,
    children: &mut Children,
    port: u16,
    vars: &[(&str, &str)],
) -> Result<Worker> {
    prepare(root, cache, build)?;
    let dir = root.join("edge/worker");
    let mut cmd = Command::new("node");
    cmd.arg("serve.mjs")
        .args(direct.then_some("--direct"))
        .arg(port.to_string())
        .args(vars.iter().map(|(name, value)| format!("{name}={value}")))
        .current_dir(&dir)
        .stdin(std::process::Stdio::null());
    children.spawn_group(&mut cmd)?;
    let url = format!("http://127.0.0.1:{port}");
    // serve.mjs waits for the Worker itself; so does this (it may exit first on failure).
    let deadline = Instant::now() + Duration::from_secs(130);
    while Instant::now() < deadline {
        if status(port, "/internal/stats?site=probe").is_ok_and(|s| s == 401) {
            return Ok(Worker { url });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("the Worker did not answer within 130 s")
}

/// wrangler installed (npm) and the Worker built: what `serve.mjs` needs.
pub fn prepare(root: &Path, cache: &Path, build: Build) -> Result<()> {
    let dir = root.join("edge/worker");
    if !dir.join("node_modules/.bin/wrangler").exists() {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env("WRANGLER_SEND_METRICS", "false")
            .current_dir(&dir))?;
    }
    let features: &[&str] = match build {
        Build::Deploy => &[],
        Build::Test => &["contract"],
    };
    wasm::worker(root, cache, features)
}

/// The status of a GET to 127.0.0.1:`port` (std only: no HTTP client in xtask).
fn status(port: u16, path: &str) -> Result<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    Ok(std::str::from_utf8(&head[9..12])?.parse()?)
}
