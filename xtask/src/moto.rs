//! An S3-compatible server for the blob store tests: moto's server mode (PyPI), installed
//! once into a virtualenv under ~/.cache, started on a free loopback port.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::children::{free_port, Children};

const PACKAGE: &str = "moto[server]==5.2.5";

/// Starts moto's S3 server and returns its endpoint URL.
pub fn start(cache: &Path, children: &mut Children) -> Result<String> {
    let server = crate::venv::tools(cache, "vitrine-moto-5.2.5", &[PACKAGE], "moto_server")?
        .join("moto_server");
    let port = free_port()?;
    children.spawn(
        Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            eprintln!("moto (S3) is up on 127.0.0.1:{port}");
            return Ok(format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("moto did not answer within 60 s")
}
