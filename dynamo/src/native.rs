//! The native transport: reqwest, tokio's timer, and credentials from AWS's standard chain
//! (environment — what a Lambda gets —, profile, container or instance role), or fixed
//! ones for a local DynamoDB-compatible server. [`DynamoStore`] is the store it makes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use serde_json::{Map, Value};
use vitrine_core::clock::now_ms;
use vitrine_core::store::{Condition, Item, Page, Query, Store, StoreResult, Write};

use crate::{Credentials, Dynamo, Transport};

/// The native store on DynamoDB.
pub type DynamoStore = Dynamo<Http>;

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    credentials: Source,
}

/// What the chain last gave, with its expiry (asked again 5 minutes before).
type Cached = Arc<Mutex<Option<(Credentials, Option<SystemTime>)>>>;

#[derive(Clone)]
enum Source {
    Fixed(Credentials),
    Chain(SharedCredentialsProvider, Cached),
}

impl Http {
    /// For a local DynamoDB-compatible server: fixed dummy credentials.
    pub fn local() -> Self {
        Http {
            client: client(),
            credentials: Source::Fixed(Credentials {
                access_key_id: "local".into(),
                secret_access_key: "local".into(),
                session_token: None,
            }),
        }
    }
}

const REFRESH_BEFORE: Duration = Duration::from_secs(300);

impl Transport for Http {
    fn now_ms(&self) -> u64 {
        now_ms()
    }

    async fn credentials(&self) -> Result<Credentials, String> {
        let (provider, cached) = match &self.credentials {
            Source::Fixed(c) => return Ok(c.clone()),
            Source::Chain(provider, cached) => (provider, cached),
        };
        if let Some((c, expiry)) = &*cached.lock().expect("credentials") {
            if expiry.is_none_or(|e| e > SystemTime::now() + REFRESH_BEFORE) {
                return Ok(c.clone());
            }
        }
        let fresh = provider
            .provide_credentials()
            .await
            .map_err(|e| e.to_string())?;
        let c = Credentials {
            access_key_id: fresh.access_key_id().to_string(),
            secret_access_key: fresh.secret_access_key().to_string(),
            session_token: fresh.session_token().map(str::to_string),
        };
        *cached.lock().expect("credentials") = Some((c.clone(), fresh.expiry()));
        Ok(c)
    }

    async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, body.to_vec()))
    }

    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

impl Dynamo<Http> {
    /// AWS's DynamoDB in the configured region (or `endpoint`), with the standard
    /// credentials chain.
    pub async fn connect(table: &str, endpoint: Option<&str>) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let region = config
            .region()
            .map_or("us-east-1".to_string(), |r| r.to_string());
        let endpoint = endpoint.map_or_else(
            || format!("https://dynamodb.{region}.amazonaws.com"),
            str::to_string,
        );
        let provider = config
            .credentials_provider()
            .expect("the default chain always has a credentials provider");
        let http = Http {
            client: client(),
            credentials: Source::Chain(provider, Arc::default()),
        };
        Dynamo::new(http, &endpoint, &region, table)
    }

    /// A local DynamoDB-compatible server: fixed dummy credentials, nothing read from the
    /// environment.
    pub async fn connect_local(endpoint: &str, table: &str) -> Self {
        Dynamo::new(Http::local(), endpoint, "us-east-1", table)
    }
}

store_for!(Store, Http);
