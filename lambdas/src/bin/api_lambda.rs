//! The agent/admin API as an AWS Lambda: the same router the local server mounts, over
//! DynamoDB. Configuration: VITRINE_TABLE (the table name), standard AWS environment.

use vitrine_lambdas::{router, ApiState};
use vitrine_store::{AnyStore, DynamoStore};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let table = std::env::var("VITRINE_TABLE").map_err(|_| "VITRINE_TABLE is not set")?;
    let store = AnyStore::Dynamo(DynamoStore::connect(table, None).await);
    lambda_http::run(router(ApiState::new(store, true))).await
}
