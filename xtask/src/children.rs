//! Processes the test and bench commands start, stopped by PID (never by name) when done,
//! even when a step fails.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

#[derive(Default)]
pub struct Children(Vec<Child>);

impl Children {
    /// Starts a process and returns its PID.
    pub fn spawn(&mut self, cmd: &mut Command) -> Result<u32> {
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        let pid = child.id();
        self.0.push(child);
        Ok(pid)
    }

    pub fn stop_all(&mut self) {
        for mut child in self.0.drain(..) {
            // SIGTERM first so servers can flush; then make sure.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop_all();
    }
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn wait_for_port(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing listened on 127.0.0.1:{port} within 60 s")
}
