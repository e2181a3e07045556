//! The local all-in-one server. It composes the crates and adds nothing of its own but
//! wiring: the API router (`vitrine-lambdas`), the hub endpoints (`vitrine-edge`), the
//! store (`vitrine-store`), static files, and a first-run seed so a newcomer can log in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use vitrine_core::accounts::{self, Account, Agent, Plan, Role, Site};
use vitrine_core::hub::{CallConfig, HubConfig};
use vitrine_core::store::{Store, StoreError};
use vitrine_edge::native::{EdgeConfig, Hubs};
use vitrine_lambdas::ApiState;
use vitrine_store::{AnyStore, DynamoStore, LocalBlobs, SqliteStore};

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
    /// How long a visitor whose page closed stays "active" before showing offline.
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
    #[arg(long, env = "VITRINE_OFFLINE_GRACE_MS", default_value_t = HubConfig::default().offline_grace_ms)]
    pub offline_grace_ms: u64,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "VITRINE_LOG_JSON")]
    pub log_json: bool,
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

pub async fn open_store(config: &Config) -> anyhow::Result<AnyStore> {
    Ok(match config.store {
        StoreKind::Sqlite => {
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("creating data directory {}", config.data_dir.display())
            })?;
            let path = config.data_dir.join("vitrine.sqlite3");
            AnyStore::Sqlite(
                SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?,
            )
        }
        StoreKind::Dynamodb => {
            let store = match &config.dynamodb_endpoint {
                Some(endpoint) => {
                    DynamoStore::connect_local(endpoint, &config.dynamodb_table).await
                }
                None => DynamoStore::connect(&config.dynamodb_table, None).await,
            };
            store
                .ensure_table()
                .await
                .context("preparing the DynamoDB table")?;
            AnyStore::Dynamo(store)
        }
    })
}

const DEMO_ACCOUNT: &str = "demo-account";

/// Creates the demo site, the first admin, a demo agent and expert (same password), and
/// the demo shop's catalogue, offers and canned responses, if they do not exist yet.
pub async fn seed<S: Store>(store: &S, config: &Config) -> anyhow::Result<()> {
    let account_id = DEMO_ACCOUNT;
    if accounts::get_account(store, account_id).await?.is_none() {
        // The demo account is on a plan with calls (V11); `vitrine plan` changes it.
        accounts::put_account(
            store,
            &Account {
                account_id: account_id.into(),
                name: "Demo shop".into(),
                plan: Plan { calls: true },
            },
        )
        .await?;
    }
    if accounts::get_site(store, &config.demo_site_key)
        .await?
        .is_none()
    {
        accounts::put_site(
            store,
            &Site {
                site_key: config.demo_site_key.clone(),
                account_id: account_id.into(),
                name: "Demo shop".into(),
                active: true,
                allowed_origins: vec![],
                consultants: vec![],
                calls_enabled: true,
            },
        )
        .await?;
    }
    if accounts::agent_by_email(store, &config.admin_email)
        .await?
        .is_none()
    {
        let agent = Agent {
            agent_id: uuid::Uuid::new_v4().to_string(),
            email: accounts::normalize_email(&config.admin_email),
            account_id: account_id.into(),
            name: "Demo admin".into(),
            role: Role::Admin,
            password_hash: vitrine_lambdas::hash_password(&config.admin_password),
        };
        match accounts::create_agent(store, &agent).await {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        // Colleagues to transfer to, assigned to the demo chat.
        let mut consultants = Vec::new();
        for (email, name, role) in [
            ("agent@demo.shop", "Demo agent", Role::Agent),
            ("expert@demo.shop", "Demo expert", Role::Expert),
        ] {
            let colleague = Agent {
                agent_id: uuid::Uuid::new_v4().to_string(),
                email: email.into(),
                account_id: account_id.into(),
                name: name.into(),
                role,
                password_hash: agent.password_hash.clone(),
            };
            match accounts::create_agent(store, &colleague).await {
                Ok(()) => consultants.push(colleague.agent_id),
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(mut site) = accounts::get_site(store, &config.demo_site_key).await? {
            site.consultants.extend(consultants);
            accounts::put_site(store, &site).await?;
        }
    }
    Ok(())
}

/// Puts an account on a plan (operators only: `vitrine plan`); creates the account's
/// record if it has none. Running servers apply it when they next read the account's
/// chats (within the site cache's 30 s, or at once after an admin edits a chat).
pub async fn set_plan<S: Store>(
    store: &S,
    account_id: &str,
    plan: Plan,
) -> anyhow::Result<Account> {
    let mut account = accounts::get_account(store, account_id)
        .await?
        .unwrap_or_else(|| Account {
            account_id: account_id.into(),
            name: account_id.into(),
            plan: Plan::default(),
        });
    account.plan = plan;
    accounts::put_account(store, &account).await?;
    Ok(account)
}

/// The demo shop's catalogue (from `catalogue.json` beside its pages), a demo offer and
/// canned responses, for an account that has none yet.
pub async fn seed_catalogue<S: Store>(
    store: &S,
    config: &Config,
    demo_url: &str,
) -> anyhow::Result<()> {
    use vitrine_core::catalog::{self, CannedResponse, Offer, Product};
    if catalog::list_items::<S, Product>(store, DEMO_ACCOUNT)
        .await?
        .is_empty()
    {
        let path = config.demo_dir.join("catalogue.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let products: Vec<Product> = serde_json::from_str(&text)?;
        for mut product in products {
            product.url = format!("{demo_url}{}", product.url);
            catalog::put_item(store, DEMO_ACCOUNT, &product).await?;
        }
    }
    if catalog::list_items::<S, Offer>(store, DEMO_ACCOUNT)
        .await?
        .is_empty()
    {
        let offer = Offer {
            offer_id: "winter-sale".into(),
            title: "Winter sale: 15% off lighting".into(),
            text: "Use code GLOW15 at checkout until Sunday.".into(),
            image_url: None,
            link_url: format!("{demo_url}/?category=Lighting"),
        };
        catalog::put_item(store, DEMO_ACCOUNT, &offer).await?;
    }
    if catalog::list_items::<S, CannedResponse>(store, DEMO_ACCOUNT)
        .await?
        .is_empty()
    {
        for (id, shortcut, text) in [
            ("hello", "hello", "Hello! How can I help you today?"),
            (
                "shipping",
                "shipping",
                "Delivery takes 2–4 working days and is free above €100.",
            ),
            (
                "returns",
                "returns",
                "You can return any item within 30 days, free of charge.",
            ),
        ] {
            let canned = CannedResponse {
                canned_id: id.into(),
                shortcut: shortcut.into(),
                text: text.into(),
            };
            catalog::put_item(store, DEMO_ACCOUNT, &canned).await?;
        }
    }
    Ok(())
}

#[derive(Clone)]
struct DemoState {
    dir: PathBuf,
    widget_src: String,
    site_key: String,
}

/// Binds both listeners and serves until aborted.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    if !config.web_dir.join("widget.js").exists() {
        tracing::warn!(
            "web assets not found in {}: build them with `cargo xtask web` (`cargo xtask dev` does)",
            config.web_dir.display()
        );
    }
    let store = open_store(&config).await?;
    seed(&store, &config).await?;

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let demo_listener = tokio::net::TcpListener::bind(config.demo_bind)
        .await
        .with_context(|| format!("binding {}", config.demo_bind))?;
    let addr = listener.local_addr()?;
    let demo_addr = demo_listener.local_addr()?;
    let public_url = config.public_url(addr);
    seed_catalogue(&store, &config, &format!("http://{demo_addr}")).await?;

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
    let hub = HubConfig {
        offline_grace_ms: config.offline_grace_ms,
        calls: media.as_ref().map(|m| CallConfig {
            media_url: format!("ws://{}/ws/call", m.http_addr),
            key: call_key.clone(),
            site: String::new(),
        }),
        ..HubConfig::default()
    };
    let hubs = Hubs::new(
        store.clone(),
        EdgeConfig {
            hub,
            trust_geo_headers: config.trust_geo_headers,
        },
    );
    let app = app_router(&config, &store, &hubs).merge(call_events_router(&hubs, call_key));
    let demo = demo_router(DemoState {
        dir: config.demo_dir.clone(),
        widget_src: format!("{public_url}/widget.js"),
        site_key: config.demo_site_key.clone(),
    });

    let serve_app = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    let serve_demo = tokio::spawn(async move {
        if let Err(e) = axum::serve(demo_listener, demo).await {
            tracing::error!(error = %e, "demo server stopped");
        }
    });
    let media_addr = media.as_ref().map(|m| m.http_addr);
    Ok(Running {
        addr,
        demo_addr,
        media_addr,
        media,
        public_url,
        store,
        tasks: vec![serve_app, serve_demo],
    })
}

/// `POST /internal/call-events`: the media node's signed reports, into the site's hub (C14).
fn call_events_router(hubs: &Arc<Hubs<AnyStore>>, key: Vec<u8>) -> Router {
    let hubs = hubs.clone();
    let key = Arc::new(key);
    Router::new().route(
        "/internal/call-events",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (hubs, key) = (hubs.clone(), key.clone());
                async move {
                    let signature = headers
                        .get("x-vitrine-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !vitrine_core::call::verify_body(&key, &body, signature) {
                        return axum::http::StatusCode::UNAUTHORIZED;
                    }
                    match serde_json::from_slice::<vitrine_core::call::CallEvent>(&body) {
                        Ok(event) => {
                            hubs.call_event(event);
                            axum::http::StatusCode::NO_CONTENT
                        }
                        Err(_) => axum::http::StatusCode::BAD_REQUEST,
                    }
                }
            },
        ),
    )
}

fn app_router(config: &Config, store: &AnyStore, hubs: &Arc<Hubs<AnyStore>>) -> Router {
    let mut state = ApiState::new(
        store.clone(),
        LocalBlobs::new(config.data_dir.join("blobs")),
        config.secure_cookies,
    );
    let edge = hubs.clone();
    state.on_site_changed = Some(Arc::new(move |site: String| {
        let edge = edge.clone();
        Box::pin(async move { edge.site_changed(&site).await })
    }));
    let api = vitrine_lambdas::router(state);
    // The widget is loaded by other sites: cross-origin, and cached briefly.
    let widget = Router::new()
        .nest_service(
            "/widget.js",
            tower_http::services::ServeFile::new(config.web_dir.join("widget.js")),
        )
        .nest_service(
            "/widget-call.js",
            tower_http::services::ServeFile::new(config.web_dir.join("widget-call.js")),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ));
    let metrics = hubs.metrics.clone();
    Router::new()
        .merge(api)
        .merge(hubs.routes())
        .merge(widget)
        .nest_service("/portal", ServeDir::new(config.web_dir.join("portal")).append_index_html_on_directories(true))
        .route("/", get(|| async { Redirect::to("/portal/") }))
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
                    format!(
                        "# TYPE vitrine_store_writes_total counter\nvitrine_store_writes_total {}\n\
                         # TYPE vitrine_store_write_errors_total counter\nvitrine_store_write_errors_total {}\n\
                         # TYPE vitrine_frames_in_total counter\nvitrine_frames_in_total {}\n\
                         # TYPE vitrine_frames_out_total counter\nvitrine_frames_out_total {}\n\
                         # TYPE vitrine_visitor_connections gauge\nvitrine_visitor_connections {}\n\
                         # TYPE vitrine_agent_connections gauge\nvitrine_agent_connections {}\n",
                        get(&m.store_writes),
                        get(&m.store_write_errors),
                        get(&m.frames_in),
                        get(&m.frames_out),
                        m.visitor_connections.load(Ordering::Relaxed),
                        m.agent_connections.load(Ordering::Relaxed),
                    )
                }
            }),
        )
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

fn demo_router(state: DemoState) -> Router {
    Router::new()
        .route_service(
            "/shop.css",
            tower_http::services::ServeFile::new(state.dir.join("shop.css")),
        )
        .route("/", get(demo_page))
        .route("/{page}", get(demo_page))
        .with_state(state)
}

/// Serves a demo shop page with the widget's script tag filled in.
async fn demo_page(
    State(state): State<DemoState>,
    page: Option<axum::extract::Path<String>>,
) -> Response {
    let name = page.map(|p| p.0).unwrap_or_else(|| "index.html".into());
    let valid = name.ends_with(".html")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !name.contains("..");
    if !valid {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match tokio::fs::read_to_string(state.dir.join(&name)).await {
        Ok(html) => Html(
            html.replace("{{WIDGET_SRC}}", &state.widget_src)
                .replace("{{SITE_KEY}}", &state.site_key),
        )
        .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
