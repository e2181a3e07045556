//! Processes the test and bench commands start, stopped by PID (never by name) when done,
//! even when a step fails.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Each child, and whether it leads a process group of its own (stopped as a group).
#[derive(Default)]
pub struct Children(Vec<(Child, bool)>);

impl Children {
    /// Starts a process and returns its PID.
    pub fn spawn(&mut self, cmd: &mut Command) -> Result<u32> {
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        let pid = child.id();
        self.0.push((child, false));
        Ok(pid)
    }

    /// Starts a process that starts its own (wrangler: node, esbuild, workerd) in a new
    /// process group, so that stopping it stops all of them and nothing else.
    pub fn spawn_group(&mut self, cmd: &mut Command) -> Result<u32> {
        use std::os::unix::process::CommandExt;
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        let pid = child.id();
        self.0.push((child, true));
        Ok(pid)
    }

    /// Whether the child `pid` has exited (it is then no longer stopped by `stop_all`).
    pub fn exited(&mut self, pid: u32) -> Result<bool> {
        let Some(index) = self.0.iter().position(|(c, _)| c.id() == pid) else {
            bail!("{pid} is not a child of this command");
        };
        let exited = self.0[index].0.try_wait()?.is_some();
        if exited {
            self.0.remove(index);
        }
        Ok(exited)
    }

    pub fn stop_all(&mut self) {
        for (mut child, group) in self.0.drain(..).rev() {
            // SIGTERM first so servers can flush; then make sure.
            let target = match group {
                true => format!("-{}", child.id()),
                false => child.id().to_string(),
            };
            let _ = Command::new("kill").arg("--").arg(&target).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if group {
                let _ = Command::new("kill").args(["-KILL", "--", &target]).status();
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
