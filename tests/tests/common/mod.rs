//! Starting what an integration test talks to, on either target (one suite, two targets):
//!
//! - **local** (default): the local server in process — API and hub — on SQLite in a fresh
//!   data directory.
//! - **edge** (`VITRINE_EDGE_URL` set, as `cargo xtask test` does): the hub is the Worker
//!   in workerd (`wrangler dev --local`), on DynamoDB Local; the API is the local server
//!   on the same table. Every test gets its own site and admin there (tenants side by
//!   side in one table, as in production), since the Worker outlives the test.
//!
//! Both use the test visitor key, so a test can play a widget the hub gave a credential to.

#![allow(dead_code)]

use std::path::PathBuf;

use anyhow::{Context, Result};
use vitrine_server::{start, Config, Running, StoreKind};
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
    // aiosmtpd listens on 127.0.0.1.
    config.mail_private_hosts = true;
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

/// The Worker under test, if the suite runs against the edge.
pub struct Edge {
    pub url: String,
    pub operator_token: String,
}

pub fn edge() -> Option<Edge> {
    let url = std::env::var("VITRINE_EDGE_URL").ok()?;
    Some(Edge {
        url: url.trim_end_matches('/').to_string(),
        operator_token: std::env::var("VITRINE_EDGE_OPERATOR_TOKEN").unwrap_or_default(),
    })
}

/// What a test talks to: the API (`api`), the hub's sockets (`hub`), its site and admin.
pub struct Stack {
    pub server: Running,
    pub api: String,
    pub hub: String,
    pub site: String,
    pub admin: (String, String),
    config: Config,
}

pub async fn stack() -> Result<Stack> {
    stack_with(|_| {}).await
}

/// A stack on the target under test; `adjust` changes the local server's configuration
/// (the Worker's is fixed when it starts: `cargo xtask test` gives it the same grace period).
pub async fn stack_with(adjust: impl FnOnce(&mut Config)) -> Result<Stack> {
    let mut config = config(temp_data_dir());
    adjust(&mut config);
    if edge().is_some() {
        let id = &uuid::Uuid::new_v4().simple().to_string()[..12];
        config.store = StoreKind::Dynamodb;
        config.dynamodb_endpoint = Some(
            std::env::var("VITRINE_DYNAMODB_ENDPOINT")
                .context("the edge target needs VITRINE_DYNAMODB_ENDPOINT")?,
        );
        config.dynamodb_table =
            std::env::var("VITRINE_EDGE_TABLE").unwrap_or_else(|_| "vitrine".into());
        config.demo_site_key = format!("site-{id}");
        config.admin_email = format!("admin-{id}@demo.shop");
        // What admins change reaches the Worker's objects (signed with its key).
        config.edge_origin = edge().map(|e| e.url);
        config.changes_key = Some(
            std::env::var("VITRINE_EDGE_CHANGES_KEY")
                .context("the edge target needs VITRINE_EDGE_CHANGES_KEY")?,
        );
    }
    Stack::start(config).await
}

impl Stack {
    async fn start(config: Config) -> Result<Self> {
        let server = start(config.clone()).await?;
        let api = format!("http://{}", server.addr);
        let hub = edge().map_or_else(|| api.clone(), |e| e.url);
        Ok(Self {
            server,
            api,
            hub,
            site: config.demo_site_key.clone(),
            admin: (config.admin_email.clone(), config.admin_password.clone()),
            config,
        })
    }

    /// The DynamoDB table of this stack (with `--store dynamodb`).
    pub fn table(&self) -> &str {
        &self.config.dynamodb_table
    }

    pub fn is_edge(&self) -> bool {
        edge().is_some()
    }

    /// The hub loses its memory: locally the whole server dies and starts again on the
    /// same store (every socket drops); at the edge the site's Durable Object is evicted
    /// (its sockets stay open with the runtime, and the next event rebuilds the hub).
    pub async fn restart(self) -> Result<Self> {
        match edge() {
            None => {
                self.server.abort();
                Self::start(self.config).await
            }
            Some(edge) => {
                let res = reqwest::Client::new()
                    .post(format!("{}/internal/evict?site={}", edge.url, self.site))
                    .bearer_auth(&edge.operator_token)
                    .send()
                    .await?;
                anyhow::ensure!(res.status().is_success(), "evict: {}", res.status());
                Ok(self)
            }
        }
    }

    /// The Worker's counters for this test's site (edge only).
    pub async fn edge_stats(&self) -> Result<serde_json::Value> {
        let edge = edge().context("edge target only")?;
        let res = reqwest::Client::new()
            .get(format!("{}/internal/stats?site={}", edge.url, self.site))
            .bearer_auth(&edge.operator_token)
            .send()
            .await?;
        Ok(res.json().await?)
    }
}

/// A TCP proxy in front of a server that a test can take down (every connection cut,
/// new ones closed at once) and bring back: an outage of what is behind it.
pub struct Outage {
    pub url: String,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    live: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Outage {
    /// Proxies to `target` (`http://host:port`).
    pub async fn start(target: &str) -> Result<Self> {
        use std::sync::atomic::Ordering;
        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let live = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, conns) = (down.clone(), live.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().unwrap().push(task.abort_handle());
            }
        });
        Ok(Self {
            url,
            down,
            live,
            accept,
        })
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
        if down {
            for conn in self.live.lock().unwrap().drain(..) {
                conn.abort();
            }
        }
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.accept.abort();
        self.set_down(true);
    }
}

/// A Worker of this test's own, in workerd (`edge/worker/serve.mjs`, built by
/// `cargo xtask worker`), with `vars`; stopped with its process group when dropped.
pub struct OwnWorker {
    pub url: String,
    child: std::process::Child,
}

impl OwnWorker {
    pub async fn start(vars: &[(&str, &str)]) -> Result<Self> {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../edge/worker");
        let child = std::process::Command::new("node")
            .arg("serve.mjs")
            .arg(port.to_string())
            .args(vars.iter().map(|(k, v)| format!("{k}={v}")))
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting serve.mjs")?;
        let worker = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let probe = format!("{}/internal/stats?site=probe", worker.url);
        for _ in 0..600 {
            if let Ok(res) = reqwest::get(&probe).await {
                if res.status() == 401 {
                    return Ok(worker);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        anyhow::bail!("the Worker did not answer within 120 s")
    }
}

impl Drop for OwnWorker {
    fn drop(&mut self) {
        // The whole group: node and the wrangler/workerd it started.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// A second account beside the demo one ("b-account"), with its site "b-shop" and its
/// admin, signed in: the stranger tenant-isolation tests play.
pub async fn second_account(server: &Running, base: &str) -> Result<vitrine_tests::Api> {
    use vitrine_core::store::accounts::{self, Account, Plan, Site};
    use vitrine_core::store::agents::{self, Agent, Role};
    accounts::put_account(
        &server.store,
        &Account {
            account_id: "b-account".into(),
            name: "Boutique B".into(),
            plan: Plan::default(),
        },
    )
    .await?;
    accounts::put_site(
        &server.store,
        &Site {
            site_key: "b-shop".into(),
            account_id: "b-account".into(),
            name: "B shop".into(),
            active: true,
            allowed_origins: vec![],
            consultants: vec![],
            calls_enabled: true,
            language: None,
            typing_preview: true,
            cobrowse_consent: true,
        },
    )
    .await?;
    let boss = Agent {
        agent_id: "agent-b-boss".into(),
        email: "boss@b.shop".into(),
        account_id: "b-account".into(),
        name: "Boss".into(),
        role: Role::Admin,
    };
    let hash = vitrine_lambdas::hash_password("boss-password");
    agents::create_agent(&server.store, &boss, Some(&hash)).await?;
    vitrine_tests::Api::login(base, "boss@b.shop", "boss-password").await
}

/// A real SMTP server (aiosmtpd, from VITRINE_AIOSMTPD) on a free loopback port, keeping
/// what arrives in its own maildir; stopped when dropped.
#[allow(dead_code)]
pub struct Smtp {
    pub port: u16,
    dir: PathBuf,
    child: std::process::Child,
}

#[allow(dead_code)]
impl Smtp {
    pub async fn start() -> Result<Self> {
        let bin = std::env::var("VITRINE_AIOSMTPD").expect(
            "VITRINE_AIOSMTPD is not set: run the tests with `cargo xtask test`, which installs aiosmtpd",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = temp_data_dir().join("maildir");
        let child = std::process::Command::new(bin)
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let smtp = Self { port, dir, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(smtp);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::bail!("aiosmtpd did not listen on {port}")
    }

    /// The settings an admin puts to send through it.
    pub fn settings(&self) -> serde_json::Value {
        serde_json::json!({"host": "127.0.0.1", "port": self.port, "security": "none",
            "username": null, "from": "Maison Demo <shop@demo.shop>"})
    }

    /// Every e-mail received so far, raw.
    pub fn received(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect()
    }

    /// Waits (10 s at most) for an e-mail that contains all of `parts`.
    pub async fn wait_for(&self, parts: &[&str]) -> Result<String> {
        for _ in 0..100 {
            if let Some(m) = self
                .received()
                .into_iter()
                .find(|m| parts.iter().all(|p| m.contains(p)))
            {
                return Ok(m);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::bail!(
            "no e-mail with {parts:?} arrived; got {:?}",
            self.received()
        )
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
