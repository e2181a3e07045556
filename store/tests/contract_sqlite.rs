//! The store contract suite against SQLite (in memory and on disk).

use vitrine_store::SqliteStore;

mod in_memory {
    use super::*;
    vitrine_core::store_contract_tests!(async { SqliteStore::in_memory().unwrap() });
}

mod on_disk {
    use super::*;
    vitrine_core::store_contract_tests!(async {
        let dir = std::env::temp_dir().join(format!("vitrine-store-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        SqliteStore::open(&dir.join("vitrine.sqlite3")).unwrap()
    });
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    use serde_json::json;
    use vitrine_core::store::{Condition, Item, Store};
    let dir = std::env::temp_dir().join(format!("vitrine-store-reopen-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vitrine.sqlite3");
    let first = SqliteStore::open(&path).unwrap();
    first
        .put(Item::new("P", "S", json!({"v": 7})), Condition::Always)
        .await
        .unwrap();
    drop(first);
    let second = SqliteStore::open(&path).unwrap();
    assert_eq!(
        second.get("P", "S").await.unwrap().unwrap().u64("v"),
        Some(7)
    );
}
