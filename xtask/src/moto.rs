//! An S3-compatible server for the blob store tests: moto's server mode (PyPI), installed
//! once into a virtualenv under ~/.cache, started on a free loopback port.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::children::{free_port, Children};
use crate::run;

const PACKAGE: &str = "moto[server]==5.2.5";

/// Starts moto's S3 server and returns its endpoint URL.
pub fn start(cache: &Path, children: &mut Children) -> Result<String> {
    let venv = cache.join("vitrine-moto-5.2.5");
    let server = venv.join("bin/moto_server");
    if !server.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PACKAGE,
        ]))?;
    }
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
