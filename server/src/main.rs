use clap::{ArgAction, Parser, Subcommand};
use vitrine_core::store::accounts::{set_plan, Plan};
use vitrine_server::{start, Config};

/// Runs Vitrine (portal, API, WebSockets, widget, media node, demo shop) on one machine.
#[derive(Parser)]
#[command(name = "vitrine")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Operator: set what an account's plan includes, in the configured store, and exit.
    Plan {
        #[arg(long)]
        account: String,
        /// Audio/video calls (V11).
        #[arg(long, action = ArgAction::Set)]
        calls: bool,
    },
    /// Operator: create an account and its first admin in the configured store (a new
    /// cloud install has no demo data), and exit. The password comes from
    /// VITRINE_FIRST_ADMIN_PASSWORD, never from the command line.
    Admin {
        #[arg(long)]
        account: String,
        #[arg(long)]
        account_name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, env = "VITRINE_FIRST_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Cli { config, command } = Cli::parse();
    if let Some(Command::Plan { account, calls }) = &command {
        let (account, calls) = (account.clone(), *calls);
        let store = config.store_config().open().await?;
        let account = set_plan(&store, &account, Plan { calls }).await?;
        println!("{}", serde_json::to_string(&account)?);
        return Ok(());
    }
    if let Some(Command::Admin {
        account,
        account_name,
        email,
        name,
        password,
    }) = command
    {
        let store = config.store_config().open().await?;
        let admin = vitrine_lambdas::setup::first_admin(
            &store,
            &account,
            &account_name,
            &email,
            &name,
            &password,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
        println!("{}", serde_json::to_string(&admin)?);
        return Ok(());
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=warn".into());
    if config.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let running = start(config.clone()).await?;
    let store = match config.store {
        vitrine_server::StoreKind::Sqlite => format!("SQLite in {}", config.data_dir.display()),
        vitrine_server::StoreKind::Dynamodb => format!("DynamoDB table {}", config.dynamodb_table),
    };
    // Tests read the first line to learn the ports.
    println!(
        "{}",
        serde_json::json!({"event": "listening", "app": running.addr, "demo": running.demo_addr, "metrics": running.metrics_addr, "media": running.media_addr})
    );
    println!(
        "\n  Vitrine is running on {store}\n\n  \
         Agent portal:  {}/portal/\n  \
         Demo shop:     {}/\n  \
         Sign in with:  {} / {}\n  \
         Metrics:       http://{}/metrics\n\n  \
         Open the demo shop in one window (the visitor) and the portal in another (the agent).\n",
        running.public_url,
        running.demo_url(),
        config.admin_email,
        config.admin_password,
        running.metrics_addr
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    running.abort();
    Ok(())
}
