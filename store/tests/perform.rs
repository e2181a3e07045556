//! The hub's store requests run against a real store (SQLite): every request gets its
//! answer, and a state write lands as the hub asked.

use vitrine_core::hub::storage::{perform, Answer};
use vitrine_core::hub::{StoreOp, StoreRequest};
use vitrine_core::store::accounts::{self, Site};
use vitrine_core::store::browsing::Visit;
use vitrine_store::SqliteStore;

fn visit(id: &str) -> StoreOp {
    StoreOp::Visit {
        visitor_id: "visitor-1".into(),
        visit: Visit {
            visit_id: id.into(),
            started_at: 1,
            country: None,
            city: None,
            referrer: None,
            landing_url: "https://shop.example/".into(),
        },
    }
}

#[tokio::test]
async fn requests_are_answered_with_what_the_hub_needs() {
    let store = SqliteStore::in_memory().unwrap();
    let run = |id: u64, op: StoreOp| perform(&store, "site-1", StoreRequest { id, op });
    let reply = run(7, visit("0001-visit")).await;
    assert_eq!((reply.id, reply.result), (7, Ok(Answer::VisitCount(1))));
    assert_eq!(
        run(8, visit("0002-visit")).await.result,
        Ok(Answer::VisitCount(2))
    );
    assert_eq!(
        run(9, StoreOp::Restore).await.result,
        Ok(Answer::Restored(Default::default()))
    );
    assert_eq!(
        run(
            10,
            StoreOp::LoadConversation {
                conversation_id: "nope".into()
            }
        )
        .await
        .result,
        Ok(Answer::Conversation(None))
    );
    // The calls switch lands on the site; on a deleted site it is a no-op, not an error.
    let site = Site {
        site_key: "site-1".into(),
        account_id: "acc".into(),
        name: "Shop".into(),
        active: true,
        allowed_origins: vec![],
        consultants: vec![],
        calls_enabled: true,
        language: None,
        typing_preview: true,
        cobrowse_consent: true,
    };
    accounts::put_site(&store, &site).await.unwrap();
    assert_eq!(
        run(11, StoreOp::CallsSetting { enabled: false })
            .await
            .result,
        Ok(Answer::Done)
    );
    assert!(
        !accounts::get_site(&store, "site-1")
            .await
            .unwrap()
            .unwrap()
            .calls_enabled
    );
    accounts::delete_site(&store, &site).await.unwrap();
    assert_eq!(
        run(12, StoreOp::CallsSetting { enabled: true })
            .await
            .result,
        Ok(Answer::Done)
    );
}
