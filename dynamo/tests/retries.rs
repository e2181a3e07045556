//! Throttling, against the real DynamoDB Local: the first answers are DynamoDB's own
//! throttling error (its documented wire form), the rest go to the server.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;
use vitrine_core::store::{Condition, Item, StoreError};
use vitrine_dynamo::native::Http;
use vitrine_dynamo::{Credentials, Dynamo, Transport, RETRIES};

struct Throttled {
    server: Http,
    throttle_next: AtomicU32,
    posts: AtomicU32,
}

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;

impl Transport for Throttled {
    fn now_ms(&self) -> u64 {
        self.server.now_ms()
    }
    async fn credentials(&self) -> Result<Credentials, String> {
        self.server.credentials().await
    }
    async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        self.posts.fetch_add(1, Ordering::SeqCst);
        let throttle = self
            .throttle_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if throttle {
            return Ok((400, THROTTLED.as_bytes().to_vec()));
        }
        self.server.post(url, headers, body).await
    }
    async fn sleep(&self, ms: u64) {
        self.server.sleep(ms).await
    }
}

async fn store() -> Dynamo<Throttled> {
    let endpoint = std::env::var("VITRINE_DYNAMODB_ENDPOINT")
        .expect("VITRINE_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`");
    let transport = Throttled {
        server: Http::local(),
        throttle_next: AtomicU32::new(0),
        posts: AtomicU32::new(0),
    };
    let table = format!("retries-{}", uuid::Uuid::new_v4());
    let store = Dynamo::new(transport, &endpoint, "us-east-1", &table);
    store.ensure_table().await.expect("a table");
    store
}

#[tokio::test]
async fn a_throttled_write_is_retried_until_it_lands() {
    let store = store().await;
    let t = store.transport();
    t.throttle_next.store(RETRIES, Ordering::SeqCst);
    t.posts.store(0, Ordering::SeqCst);
    let item = Item::new("P", "S", json!({"v": 1}));
    store.put(item.clone(), Condition::NotExists).await.unwrap();
    assert_eq!(t.posts.load(Ordering::SeqCst), RETRIES + 1);
    assert_eq!(store.get("P", "S").await.unwrap(), Some(item));
}

#[tokio::test]
async fn a_write_throttled_past_the_retries_fails_and_writes_nothing() {
    let store = store().await;
    let t = store.transport();
    t.throttle_next.store(RETRIES + 1, Ordering::SeqCst);
    let item = Item::new("P", "S", json!({"v": 1}));
    let refused = store.put(item, Condition::Always).await;
    assert!(
        matches!(&refused, Err(StoreError::Backend(why)) if why.contains("ProvisionedThroughputExceeded")),
        "{refused:?}"
    );
    assert_eq!(store.get("P", "S").await.unwrap(), None);
}
