//! The agent/admin API as an AWS Lambda: the same router the local server mounts, over
//! DynamoDB. Configuration: VITRINE_TABLE (the table name), VITRINE_BLOB_DIR (where chat
//! images go; an S3-backed blob store is the cloud issue's job), standard AWS environment.

use vitrine_lambdas::{router, ApiState};
use vitrine_store::{AnyStore, DynamoStore, LocalBlobs};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let table = std::env::var("VITRINE_TABLE").map_err(|_| "VITRINE_TABLE is not set")?;
    let blob_dir =
        std::env::var("VITRINE_BLOB_DIR").unwrap_or_else(|_| "/tmp/vitrine-blobs".into());
    let store = AnyStore::Dynamo(DynamoStore::connect(table, None).await);
    lambda_http::run(router(ApiState::new(
        store,
        LocalBlobs::new(blob_dir),
        true,
    )))
    .await
}
