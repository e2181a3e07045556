//! The agent/admin API as an AWS Lambda: the same router the local server mounts, over
//! DynamoDB. Configuration: VITRINE_TABLE (the table name), VITRINE_BLOB_BUCKET (the S3
//! bucket for chat images), standard AWS environment.

use vitrine_lambdas::{router, ApiState};
use vitrine_store::{BlobConfig, StoreConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let table = std::env::var("VITRINE_TABLE").map_err(|_| "VITRINE_TABLE is not set")?;
    let bucket =
        std::env::var("VITRINE_BLOB_BUCKET").map_err(|_| "VITRINE_BLOB_BUCKET is not set")?;
    let store = StoreConfig::Dynamodb {
        table,
        endpoint: None,
        create: false,
    }
    .open()
    .await?;
    let blobs = BlobConfig::S3 {
        bucket,
        prefix: "blobs/".into(),
        endpoint: None,
    }
    .open()
    .await?;
    lambda_http::run(router(ApiState::new(store, blobs, true))).await
}
