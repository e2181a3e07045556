//! Starting the real server for an integration test: free ports, a fresh data directory,
//! and the test visitor key (so a test can play a widget the hub gave a credential to).

#![allow(dead_code)]

use std::path::PathBuf;

use anyhow::Result;
use vitrine_server::{start, Config, Running};
use vitrine_tests::TEST_VISITOR_KEY;

pub fn temp_data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-it-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server's defaults on free loopback ports and `data_dir`.
pub fn config(data_dir: PathBuf) -> Config {
    let mut config = Config::defaults();
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.demo_bind = "127.0.0.1:0".parse().unwrap();
    config.metrics_bind = "127.0.0.1:0".parse().unwrap();
    config.data_dir = data_dir;
    config.visitor_key = Some(TEST_VISITOR_KEY.into());
    config
}

/// A started server and its base URL.
pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Result<(Running, String)> {
    let mut config = config(temp_data_dir());
    adjust(&mut config);
    let running = start(config).await?;
    let base = format!("http://{}", running.addr);
    Ok((running, base))
}
