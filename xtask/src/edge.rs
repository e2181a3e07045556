//! The Worker in workerd (`wrangler dev --local`, from npm, in edge/worker), for the test,
//! bench and dev commands: built first, pointed at a DynamoDB endpoint, stopped with
//! everything it started.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::children::{free_port, Children};
use crate::{run, wasm};

/// The Worker's settings in tests (the integration suite starts its servers with the same).
pub const TEST_VISITOR_KEY: &str = "integration-tests-visitor-key";
pub const OPERATOR_TOKEN: &str = "local-operator-token";
/// The longest offline grace any test expects (live_list.rs waits for offline that long).
pub const TEST_OFFLINE_GRACE_MS: &str = "2000";

pub struct Worker {
    pub url: String,
}

/// Builds the Worker and starts it on a free port with `vars` (name, value).
pub fn start(
    root: &Path,
    cache: &Path,
    children: &mut Children,
    vars: &[(&str, &str)],
) -> Result<Worker> {
    start_on(root, cache, children, free_port()?, vars)
}

pub fn start_on(
    root: &Path,
    cache: &Path,
    children: &mut Children,
    port: u16,
    vars: &[(&str, &str)],
) -> Result<Worker> {
    let dir = root.join("edge/worker");
    if !dir.join("node_modules/.bin/wrangler").exists() {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env("WRANGLER_SEND_METRICS", "false")
            .current_dir(&dir))?;
    }
    wasm::worker(root, cache)?;
    let mut cmd = Command::new(dir.join("node_modules/.bin/wrangler"));
    cmd.args([
        "dev",
        "--local",
        "--ip",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ])
    .args(["--inspector-port", &free_port()?.to_string()])
    .args([
        "--log-level",
        "warn",
        "--show-interactive-dev-session=false",
    ])
    .env("WRANGLER_SEND_METRICS", "false")
    .env("CI", "1")
    .current_dir(&dir)
    .stdin(std::process::Stdio::null());
    for (name, value) in vars {
        cmd.arg("--var").arg(format!("{name}:{value}"));
    }
    children.spawn_group(&mut cmd)?;
    let url = format!("http://127.0.0.1:{port}");
    // Up when the Worker itself answers (an operator path without a token: 401).
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if status(port, "/internal/stats?site=probe").is_ok_and(|s| s == 401) {
            eprintln!("the Worker is up in workerd at {url}");
            return Ok(Worker { url });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("the Worker did not answer within 120 s")
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
