//! The store contract suite against a real DynamoDB-compatible server. `cargo xtask test`
//! starts DynamoDB Local and sets VITRINE_DYNAMODB_ENDPOINT; each case gets its own table.

use vitrine_dynamo::native::DynamoStore;

async fn fresh_store() -> DynamoStore {
    let endpoint = std::env::var("VITRINE_DYNAMODB_ENDPOINT").expect(
        "VITRINE_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts DynamoDB Local",
    );
    let table = format!("contract-{}", uuid::Uuid::new_v4());
    let store = DynamoStore::connect_local(&endpoint, &table).await;
    store
        .ensure_table()
        .await
        .expect("create table on the local DynamoDB server");
    store
}

vitrine_core::store_contract_tests!(fresh_store());

/// Two API instances starting at once against a new table: both come up.
#[tokio::test]
async fn instances_starting_together_share_the_table_they_create() {
    let endpoint = std::env::var("VITRINE_DYNAMODB_ENDPOINT").expect("run with `cargo xtask test`");
    let table = format!("race-{}", uuid::Uuid::new_v4());
    let (a, b) = (
        DynamoStore::connect_local(&endpoint, &table).await,
        DynamoStore::connect_local(&endpoint, &table).await,
    );
    let (ra, rb) = tokio::join!(a.ensure_table(), b.ensure_table());
    ra.expect("the first instance");
    rb.expect("the second instance");
}
