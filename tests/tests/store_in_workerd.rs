//! The store contract against the Durable Objects' own DynamoDB client — the wasm32 build,
//! its fetch transport and its SigV4 signing, inside workerd — on DynamoDB Local. Each
//! case runs in the Worker (its test build's `/internal/contract`) on a table of its own.
//! Only against the edge: `cargo xtask test` and `cargo xtask test-edge` run it.

mod common;

use vitrine_store::DynamoStore;

/// Runs `case` in the Worker on a fresh table; fails with what the Worker said.
async fn in_workerd(case: &str) {
    let edge = common::edge().expect(
        "VITRINE_EDGE_URL is not set: this suite runs against the Worker (cargo xtask test-edge)",
    );
    let endpoint = std::env::var("VITRINE_DYNAMODB_ENDPOINT").expect("DynamoDB Local's endpoint");
    let table = format!("contract-edge-{}", uuid::Uuid::new_v4());
    DynamoStore::connect_local(&endpoint, &table)
        .await
        .ensure_table()
        .await
        .expect("a fresh table");
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/internal/contract?case={case}&table={table}",
            edge.url
        ))
        .bearer_auth(&edge.operator_token)
        .send()
        .await
        .expect("the Worker answers");
    let status = reply.status();
    let body = reply.text().await.unwrap_or_default();
    assert_eq!(
        status, 200,
        "{case} failed in workerd: {body} (a broken contract panics: the assertion is in the Worker's log)"
    );
}

macro_rules! cases_in_workerd {
    ($($case:ident),*) => {
        $(
            #[tokio::test]
            #[ignore = "against the Worker: cargo xtask test-edge"]
            async fn $case() {
                in_workerd(stringify!($case)).await;
            }
        )*
    };
}

vitrine_core::store_contract_cases!(cases_in_workerd;);

#[tokio::test]
#[ignore = "against the Worker: cargo xtask test-edge"]
async fn an_unknown_case_is_not_a_pass() {
    let edge = common::edge().expect("VITRINE_EDGE_URL");
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/internal/contract?case=no_such_case&table=t",
            edge.url
        ))
        .bearer_auth(&edge.operator_token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404);
    let refused = reqwest::Client::new()
        .post(format!(
            "{}/internal/contract?case=put_get_roundtrip&table=t",
            edge.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "operator only");
}
