//! The agent/admin API as an AWS Lambda (`provided.al2023`, behind an API Gateway HTTP API
//! or a function URL, payload v2): the same router the local server mounts, over DynamoDB
//! and S3. Configured by environment variables only (the template sets them); the two
//! endpoints are for local servers in tests, never set in the cloud.

use clap::Parser;
use vitrine_lambdas::{notify_edge, router, ApiState};
use vitrine_store::{BlobConfig, StoreConfig};

#[derive(Parser)]
struct Config {
    #[arg(long, env = "VITRINE_DYNAMODB_TABLE")]
    dynamodb_table: String,
    #[arg(long, env = "VITRINE_S3_BUCKET")]
    s3_bucket: String,
    /// The Worker's origin: admin changes are told to the site objects there at once.
    #[arg(long, env = "VITRINE_EDGE_ORIGIN", requires = "changes_key")]
    edge_origin: Option<String>,
    /// Signs those change notices (the Worker's VITRINE_CHANGES_KEY).
    #[arg(
        long,
        env = "VITRINE_CHANGES_KEY",
        hide_env_values = true,
        requires = "edge_origin"
    )]
    changes_key: Option<String>,
    /// `false` only for plain-HTTP tests; the cloud is HTTPS.
    #[arg(long, env = "VITRINE_SECURE_COOKIES", default_value_t = true, action = clap::ArgAction::Set)]
    secure_cookies: bool,
    #[arg(long, env = "VITRINE_DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    #[arg(long, env = "VITRINE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Run as the mailer (K3) instead: each invocation (a schedule, every minute) sends
    /// what the outbox holds. The same package, a second function in the template.
    #[arg(long, env = "VITRINE_MAILER", default_value_t = false, action = clap::ArgAction::Set)]
    mailer: bool,
    #[command(flatten)]
    platform_mail: vitrine_lambdas::PlatformMailArgs,
    /// Let accounts' SMTP servers be on private addresses (tests only).
    #[arg(long, env = "VITRINE_MAIL_PRIVATE_HOSTS", default_value_t = false, action = clap::ArgAction::Set)]
    mail_private_hosts: bool,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config::parse_from(["vitrine-api-lambda"]);
    let store = StoreConfig::Dynamodb {
        table: config.dynamodb_table,
        endpoint: config.dynamodb_endpoint,
        create: false,
    }
    .open()
    .await?;
    if config.mailer {
        let store = &store;
        let mailer = &vitrine_mail::Mailer::new(
            config.platform_mail.portal_url.clone(),
            config.mail_private_hosts,
        );
        let handler = lambda_http::lambda_runtime::service_fn(
            move |_: lambda_http::lambda_runtime::LambdaEvent<serde_json::Value>| async move {
                let now = vitrine_core::clock::now_ms();
                let drained = vitrine_mail::drain(store, now, 200, mailer).await?;
                tracing::info!(
                    sent = drained.sent,
                    failed = drained.failed,
                    retried = drained.retried,
                    "outbox drained"
                );
                Ok::<_, lambda_http::Error>(serde_json::json!({
                    "sent": drained.sent, "failed": drained.failed, "retried": drained.retried,
                }))
            },
        );
        return lambda_http::lambda_runtime::run(handler).await;
    }
    let blobs = BlobConfig::S3 {
        bucket: config.s3_bucket,
        prefix: "blobs/".into(),
        endpoint: config.s3_endpoint,
    }
    .open()
    .await?;
    let mut state = ApiState::new(store.clone(), blobs, config.secure_cookies);
    config.platform_mail.apply(&mut state, None)?;
    state.mail_private_hosts = config.mail_private_hosts;
    match (&config.edge_origin, &config.changes_key) {
        (Some(origin), Some(key)) => {
            state.on_change = Some(notify_edge(store, origin, key.as_bytes()));
            state.client_address_key = Some(key.as_bytes().to_vec());
        }
        _ => tracing::warn!(
            "VITRINE_EDGE_ORIGIN is not set: site objects learn admin changes only at their periodic re-check"
        ),
    }
    lambda_http::run(router(state)).await
}
