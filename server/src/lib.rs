//! The local all-in-one server. It composes the crates and adds nothing of its own but
//! wiring: the API router (`vitrine-lambdas`), the hub endpoints (`vitrine-edge`), the
//! store (`vitrine-store`), the embedded media node, static files, and the demo seed so a
//! newcomer can sign in; the demo shop (`demo`), on its own origin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

mod assets;
mod demo;
use axum::http::header;
use axum::response::Redirect;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use vitrine_core::hub::{CallConfig, HubConfig};
use vitrine_edge::native::{EdgeConfig, Hubs};
use vitrine_lambdas::{notify_edge, setup, ApiState, Changed};
use vitrine_store::{AnyBlobs, AnyStore, BlobConfig, StoreConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Dynamodb,
}

#[derive(Debug, Clone, clap::Parser)]
#[command(name = "vitrine", about = "Vitrine's local all-in-one server")]
pub struct Config {
    /// Address of the portal, API, WebSockets and widget.
    #[arg(long, env = "VITRINE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Address of the demo shop (a separate origin, like a real customer's site).
    #[arg(long, env = "VITRINE_DEMO_BIND", default_value = "127.0.0.1:8081")]
    pub demo_bind: SocketAddr,
    /// Where the embedded store keeps its file.
    #[arg(long, env = "VITRINE_DATA_DIR", default_value = ".vitrine-data")]
    pub data_dir: PathBuf,
    #[arg(long, env = "VITRINE_STORE", value_enum, default_value = "sqlite")]
    pub store: StoreKind,
    /// DynamoDB endpoint for a local DynamoDB-compatible server (with --store dynamodb).
    #[arg(long, env = "VITRINE_DYNAMODB_ENDPOINT")]
    pub dynamodb_endpoint: Option<String>,
    #[arg(long, env = "VITRINE_DYNAMODB_TABLE", default_value = "vitrine")]
    pub dynamodb_table: String,
    /// The built web assets (widget.js, portal/); `cargo xtask web` makes them.
    #[arg(long, env = "VITRINE_WEB_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist"))]
    pub web_dir: PathBuf,
    /// The demo shop's pages.
    #[arg(long, env = "VITRINE_DEMO_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/demo"))]
    pub demo_dir: PathBuf,
    /// URL at which browsers reach --bind (printed, and put in the demo shop's script tag).
    #[arg(long, env = "VITRINE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The first admin, created when missing.
    #[arg(long, env = "VITRINE_ADMIN_EMAIL", default_value = "admin@demo.shop")]
    pub admin_email: String,
    #[arg(long, env = "VITRINE_ADMIN_PASSWORD", default_value = "vitrine-demo")]
    pub admin_password: String,
    /// Site key of the demo shop, created when missing.
    #[arg(long, env = "VITRINE_DEMO_SITE_KEY", default_value = "demo-shop")]
    pub demo_site_key: String,
    /// Trust Cloudflare's geolocation headers (only behind a proxy that sets them).
    #[arg(long, env = "VITRINE_TRUST_GEO_HEADERS")]
    pub trust_geo_headers: bool,
    /// Mark session cookies Secure (when served over HTTPS).
    #[arg(long, env = "VITRINE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// The operator's listener: `/metrics` (keep it off the public network).
    #[arg(long, env = "VITRINE_METRICS_BIND", default_value = "127.0.0.1:0")]
    pub metrics_bind: SocketAddr,
    /// Signs visitor credentials; by default a random key kept in the store (set it to
    /// share one across installs reading the same store).
    #[arg(long, env = "VITRINE_VISITOR_KEY", hide_env_values = true)]
    pub visitor_key: Option<String>,
    /// Sockets one network address may hold open (widgets and portals).
    #[arg(long, env = "VITRINE_SOCKETS_PER_ADDRESS", default_value_t = 100)]
    pub sockets_per_address: usize,
    /// New conversations one network address may open at once (then one a minute).
    #[arg(long, env = "VITRINE_CONVERSATIONS_PER_ADDRESS", default_value_t = HubConfig::default().address_conversation_burst as u32)]
    pub conversations_per_address: u32,
    /// Keep chat images in this S3 bucket instead of the data directory.
    #[arg(long, env = "VITRINE_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// An S3-compatible server for --s3-bucket (local use and tests).
    #[arg(long, env = "VITRINE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The embedded media node's HTTP/WebSocket listener (calls); `--no-media` turns calls off.
    #[arg(long, env = "VITRINE_MEDIA_HTTP", default_value = "127.0.0.1:0")]
    pub media_http: SocketAddr,
    /// The embedded media node's UDP socket (all call media).
    #[arg(long, env = "VITRINE_MEDIA_UDP", default_value = "127.0.0.1:0")]
    pub media_udp: SocketAddr,
    #[arg(long)]
    pub no_media: bool,
    /// Secret shared with the media node (call tokens, call events); random if unset.
    #[arg(long, env = "VITRINE_CALL_KEY", hide_env_values = true)]
    pub call_key: Option<String>,
    /// A TURN relay for visitors whose network drops UDP (coturn with `use-auth-secret`):
    /// `turn:host:3478?transport=tcp`, repeatable (or comma-separated in the variable).
    #[arg(long = "turn-url", env = "VITRINE_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret`: each call token comes with a relay credential made
    /// from it (needed with --turn-url).
    #[arg(long, env = "VITRINE_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// The Worker whose site objects must hear what admins change (removed agents, ended
    /// sessions, site settings) when the hubs run at the edge; with --changes-key.
    #[arg(long, env = "VITRINE_EDGE_ORIGIN")]
    pub edge_origin: Option<String>,
    /// Signs change notices to --edge-origin (the Worker's VITRINE_CHANGES_KEY).
    #[arg(long, env = "VITRINE_CHANGES_KEY", hide_env_values = true)]
    pub changes_key: Option<String>,
    /// How long a visitor whose page closed stays shown before going offline.
    #[arg(long, env = "VITRINE_OFFLINE_GRACE_MS", default_value_t = HubConfig::default().offline_grace_ms)]
    pub offline_grace_ms: u64,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "VITRINE_LOG_JSON")]
    pub log_json: bool,
    #[command(flatten)]
    pub platform_mail: vitrine_lambdas::PlatformMailArgs,
    /// Let accounts' SMTP servers be on loopback or private addresses (a mail relay on the
    /// platform's own network; tests). Off: an admin could probe that network otherwise.
    #[arg(long, env = "VITRINE_MAIL_PRIVATE_HOSTS")]
    pub mail_private_hosts: bool,
}

impl Config {
    /// Defaults, as if started with no flags (tests adjust fields).
    pub fn defaults() -> Self {
        <Self as clap::Parser>::parse_from(["vitrine"])
    }

    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string()
    }
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub demo_addr: SocketAddr,
    /// The operator's listener (`/metrics`).
    pub metrics_addr: SocketAddr,
    /// The embedded media node's HTTP address (none with `--no-media`).
    pub media_addr: Option<SocketAddr>,
    /// Runs as long as this value lives.
    pub media: Option<vitrine_media_node::RunningNode>,
    pub public_url: String,
    pub store: AnyStore,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn demo_url(&self) -> String {
        format!("http://{}", self.demo_addr)
    }

    /// Stops accepting and drops every connection (tests use this to simulate a crash).
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

impl Config {
    /// The store this configuration names.
    pub fn store_config(&self) -> StoreConfig {
        match self.store {
            StoreKind::Sqlite => StoreConfig::Sqlite {
                data_dir: self.data_dir.clone(),
            },
            StoreKind::Dynamodb => StoreConfig::Dynamodb {
                table: self.dynamodb_table.clone(),
                endpoint: self.dynamodb_endpoint.clone(),
                create: true,
            },
        }
    }

    /// Where chat images go: an S3-compatible bucket if configured, else the data directory.
    pub fn blob_config(&self) -> BlobConfig {
        match &self.s3_bucket {
            Some(bucket) => BlobConfig::S3 {
                bucket: bucket.clone(),
                prefix: "blobs/".into(),
                endpoint: self.s3_endpoint.clone(),
            },
            None => BlobConfig::Dir(self.data_dir.join("blobs")),
        }
    }
}

/// Binds the listeners and serves until aborted.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    anyhow::ensure!(
        config.edge_origin.is_some() == config.changes_key.is_some(),
        "--edge-origin and --changes-key go together"
    );
    if !config.web_dir.join("widget.js").exists() {
        tracing::warn!(
            "web assets not found in {}: build them with `cargo xtask web` (`cargo xtask dev` does)",
            config.web_dir.display()
        );
    }
    let store = config
        .store_config()
        .open()
        .await
        .context("opening the store")?;
    let blobs = config
        .blob_config()
        .open()
        .await
        .context("opening the blob store")?;

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let demo_listener = tokio::net::TcpListener::bind(config.demo_bind)
        .await
        .with_context(|| format!("binding {}", config.demo_bind))?;
    let metrics_listener = tokio::net::TcpListener::bind(config.metrics_bind)
        .await
        .with_context(|| format!("binding {}", config.metrics_bind))?;
    let addr = listener.local_addr()?;
    let demo_addr = demo_listener.local_addr()?;
    let metrics_addr = metrics_listener.local_addr()?;
    let public_url = config.public_url(addr);
    seed_demo(&store, &config, &format!("http://{demo_addr}")).await?;

    let call_key = config
        .call_key
        .clone()
        .map(String::into_bytes)
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_bytes().to_vec());
    let media = if config.no_media {
        None
    } else {
        let mut node = vitrine_media_node::NodeConfig::new(call_key.clone());
        node.events_url = Some(format!("http://{addr}/internal/call-events"));
        node.drain_timeout = std::time::Duration::from_secs(2);
        Some(
            vitrine_media_node::start(node, config.media_http, config.media_udp)
                .await
                .with_context(|| format!("starting the media node on {}", config.media_http))?,
        )
    };
    let visitor_key = match &config.visitor_key {
        Some(key) => key.clone().into_bytes(),
        None => setup::visitor_key(&store)
            .await
            .context("reading the visitor key")?,
    };
    let turn = match (config.turn_urls.is_empty(), &config.turn_secret) {
        (true, _) => None,
        (false, Some(secret)) => Some(vitrine_core::turn::TurnConfig::new(
            config.turn_urls.clone(),
            secret,
        )),
        (false, None) => {
            anyhow::bail!("--turn-url needs --turn-secret (coturn's static-auth-secret)")
        }
    };
    let hub = HubConfig {
        offline_grace_ms: config.offline_grace_ms,
        calls: media.as_ref().map(|m| CallConfig {
            media_url: format!("ws://{}/ws/call", m.http_addr),
            key: call_key.clone(),
            turn: turn.clone(),
        }),
        visitor_key,
        address_conversation_burst: config.conversations_per_address as f64,
        ..HubConfig::default()
    };
    let hubs = Hubs::new(
        store.clone(),
        EdgeConfig {
            hub,
            trust_geo_headers: config.trust_geo_headers,
            call_key: Some(call_key),
            media_control_url: media
                .as_ref()
                .map(|m| format!("http://{}/control", m.http_addr)),
            sockets_per_address: config.sockets_per_address,
        },
    );
    let app = app_router(&config, &store, blobs, &hubs, &public_url)?;
    let demo = demo::router(demo::DemoState {
        dir: config.demo_dir.clone(),
        widget_src: format!("{public_url}/widget.js"),
        site_key: config.demo_site_key.clone(),
        store: store.clone(),
    });
    let metrics = hubs.metrics.clone();
    let operator = Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    let mut tasks = Vec::new();
    for (listener, router, what) in [
        (listener, app, "server"),
        (demo_listener, demo, "demo server"),
        (metrics_listener, operator, "metrics server"),
    ] {
        tasks.push(tokio::spawn(async move {
            // The peer's address: per-address limits (sockets, sign-in attempts).
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            // Frames are small and latency-bound: without TCP_NODELAY a frame written
            // while an earlier one is unacknowledged waits for the peer's delayed ACK
            // (40 ms on Linux).
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::warn!(error = %e, "TCP_NODELAY not set");
                }
            });
            if let Err(e) = axum::serve(listener, service).await {
                tracing::error!(error = %e, "{what} stopped");
            }
        }));
    }
    let portal_url = config
        .platform_mail
        .portal_url
        .clone()
        .unwrap_or_else(|| public_url.clone());
    let mail = vitrine_mail::Mailer::new(Some(portal_url), config.mail_private_hosts);
    tasks.push(tokio::spawn(mailer(store.clone(), mail)));
    let media_addr = media.as_ref().map(|m| m.http_addr);
    Ok(Running {
        addr,
        demo_addr,
        metrics_addr,
        media_addr,
        media,
        public_url,
        store,
        tasks,
    })
}

/// Sends what the hubs queued for e-mail (K3): a drain starts every second, whether or not
/// the last one is done (an account whose server hangs keeps its own lane busy, no other).
async fn mailer(store: AnyStore, mailer: vitrine_mail::Mailer) {
    let mailer = Arc::new(mailer);
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let (store, mailer) = (store.clone(), mailer.clone());
        tokio::spawn(async move {
            let now = vitrine_core::clock::now_ms();
            if let Err(e) = vitrine_mail::drain(&store, now, 50, &mailer).await {
                tracing::warn!(error = %e, "the mailer could not read the outbox");
            }
        });
    }
}

/// The demo shop's data, with its catalogue from `catalogue.json` beside its pages.
async fn seed_demo(store: &AnyStore, config: &Config, shop_url: &str) -> anyhow::Result<()> {
    let path = config.demo_dir.join("catalogue.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let demo = setup::Demo {
        site_key: config.demo_site_key.clone(),
        admin_email: config.admin_email.clone(),
        admin_password: config.admin_password.clone(),
        shop_url: shop_url.to_string(),
        products: serde_json::from_str(&text)
            .with_context(|| format!("reading {}", path.display()))?,
    };
    setup::seed_demo(store, &demo)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo: {}", e.message))
}

fn app_router(
    config: &Config,
    store: &AnyStore,
    blobs: AnyBlobs,
    hubs: &Arc<Hubs<AnyStore>>,
    public_url: &str,
) -> anyhow::Result<Router> {
    let mut state = ApiState::new(store.clone(), blobs, config.secure_cookies);
    state.mail_private_hosts = config.mail_private_hosts;
    config
        .platform_mail
        .apply(&mut state, Some(public_url.to_string()))
        .map_err(anyhow::Error::msg)?;
    state.client_address_key = config.changes_key.as_ref().map(|k| k.as_bytes().to_vec());
    let to_edge = match (&config.edge_origin, &config.changes_key) {
        (Some(origin), Some(key)) => Some(notify_edge(store.clone(), origin, key.as_bytes())),
        _ => None,
    };
    let local = hubs.clone();
    state.on_change = Some(Arc::new(move |change: Changed| {
        let (local, to_edge) = (local.clone(), to_edge.clone());
        Box::pin(async move {
            local.changed(&change).await;
            if let Some(to_edge) = to_edge {
                to_edge(change).await;
            }
        })
    }));
    let api = vitrine_lambdas::router(state);
    let headers = match std::fs::read_to_string(config.web_dir.join("_headers")) {
        Ok(text) => assets::HeaderRules::parse(&text)?,
        Err(_) => assets::HeaderRules::default(), // not built: warned at start
    };
    Ok(Router::new()
        .merge(api)
        .merge(hubs.routes())
        .merge(assets::routes(&config.web_dir))
        .route("/", get(|| async { Redirect::to("/portal/") }))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(headers),
            assets::apply_headers,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http()))
}
