//! The store contract suite: what every [`LocalStore`] implementation must do, written
//! once. An implementation crate runs it with
//! [`store_contract_tests!`](crate::store_contract_tests), which expands to one
//! `#[tokio::test]` per case.
//!
//! Every case takes a fresh, empty store.

use serde_json::json;

use super::accounts::{self, Site, SiteEdit};
use super::agents::{self, Agent, Role, Session};
use super::browsing::{self, Visit, VisitedPage};
use super::{Condition, Item, LocalStore, Query, StoreError};

pub async fn put_get_roundtrip<S: LocalStore>(s: &S) {
    let item = Item::new(
        "P#1",
        "S#1",
        json!({"s": "héllo ✓", "n": 42, "f": 1.5, "b": true, "z": null, "l": [1, "two"], "m": {"k": "v"}, "empty": ""}),
    );
    s.put(item.clone(), Condition::Always).await.unwrap();
    assert_eq!(s.get("P#1", "S#1").await.unwrap(), Some(item));
    assert_eq!(s.get("P#1", "S#2").await.unwrap(), None);
    assert_eq!(s.get("P#2", "S#1").await.unwrap(), None);
}

pub async fn put_overwrites<S: LocalStore>(s: &S) {
    s.put(
        Item::new("P", "S", json!({"v": 1, "gone": "x"})),
        Condition::Always,
    )
    .await
    .unwrap();
    s.put(Item::new("P", "S", json!({"v": 2})), Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        s.get("P", "S").await.unwrap().unwrap().attrs,
        *json!({"v": 2}).as_object().unwrap()
    );
}

pub async fn conditional_put_refuses_existing<S: LocalStore>(s: &S) {
    s.put(Item::new("P", "S", json!({"v": 1})), Condition::NotExists)
        .await
        .unwrap();
    let again = s
        .put(Item::new("P", "S", json!({"v": 2})), Condition::NotExists)
        .await;
    assert_eq!(again, Err(StoreError::ConditionFailed));
    assert_eq!(
        s.get("P", "S").await.unwrap().unwrap().u64("v"),
        Some(1),
        "the failed put changed nothing"
    );
}

pub async fn expired_items_are_invisible<S: LocalStore>(s: &S) {
    s.put(
        Item::new("P", "old", json!({})).with_expiry(1),
        Condition::Always,
    )
    .await
    .unwrap();
    s.put(
        Item::new("P", "new", json!({})).with_expiry(u32::MAX as u64 * 2),
        Condition::Always,
    )
    .await
    .unwrap();
    assert_eq!(s.get("P", "old").await.unwrap(), None);
    let live = s.get("P", "new").await.unwrap().unwrap();
    assert_eq!(live.expires_at, Some(u32::MAX as u64 * 2));
    let page = s.query(Query::prefix("P", "")).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(s.count("P", "").await.unwrap(), 1);
    // An expired item does not block a conditional put.
    s.put(Item::new("P", "old", json!({"v": 2})), Condition::NotExists)
        .await
        .unwrap();
}

pub async fn delete_removes<S: LocalStore>(s: &S) {
    s.put(Item::new("P", "S", json!({})), Condition::Always)
        .await
        .unwrap();
    s.delete("P", "S").await.unwrap();
    assert_eq!(s.get("P", "S").await.unwrap(), None);
    s.delete("P", "never-there").await.unwrap();
}

pub async fn query_by_prefix_in_order<S: LocalStore>(s: &S) {
    for sk in ["B#2", "A#1", "B#10", "B#1", "C#1", "B"] {
        s.put(Item::new("P", sk, json!({"name": sk})), Condition::Always)
            .await
            .unwrap();
    }
    // A partition whose key extends "P" must not leak into "P".
    s.put(Item::new("PX", "B#0", json!({})), Condition::Always)
        .await
        .unwrap();
    let sks = |p: super::Page| p.items.into_iter().map(|i| i.sk).collect::<Vec<_>>();
    assert_eq!(
        sks(s.query(Query::prefix("P", "B#")).await.unwrap()),
        ["B#1", "B#10", "B#2"]
    );
    assert_eq!(
        sks(s
            .query(Query::prefix("P", "B#").descending())
            .await
            .unwrap()),
        ["B#2", "B#10", "B#1"]
    );
    assert_eq!(sks(s.query(Query::prefix("P", "")).await.unwrap()).len(), 6);
    assert_eq!(s.count("P", "B#").await.unwrap(), 3);
    assert_eq!(s.count("P", "Z").await.unwrap(), 0);
    assert_eq!(s.count("nobody", "").await.unwrap(), 0);
}

pub async fn query_pages_with_cursor<S: LocalStore>(s: &S) {
    for i in 0..25 {
        s.put(
            Item::new("P", format!("I#{i:03}"), json!({"i": i})),
            Condition::Always,
        )
        .await
        .unwrap();
    }
    for descending in [false, true] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let mut q = Query::prefix("P", "I#").limit(10).after(cursor);
            q.descending = descending;
            let page = s.query(q).await.unwrap();
            assert!(page.items.len() <= 10);
            seen.extend(page.items.iter().map(|i| i.u64("i").unwrap()));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut expected: Vec<u64> = (0..25).collect();
        if descending {
            expected.reverse();
        }
        assert_eq!(seen, expected, "descending={descending}");
    }
}

pub async fn invalid_items_are_refused<S: LocalStore>(s: &S) {
    let reserved = s
        .put(Item::new("P", "S", json!({"pk": "x"})), Condition::Always)
        .await;
    assert!(
        matches!(reserved, Err(StoreError::Invalid(_))),
        "{reserved:?}"
    );
    let empty = s
        .put(Item::new("", "S", json!({})), Condition::Always)
        .await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
}

fn visit(visit_id: &str) -> Visit {
    Visit {
        visit_id: visit_id.into(),
        started_at: 1_700_000_000_000,
        country: Some("PL".into()),
        city: None,
        referrer: None,
        landing_url: "https://shop.example/".into(),
    }
}

fn view(visit_id: &str, seq: u32, at: u64) -> VisitedPage {
    VisitedPage {
        visit_id: visit_id.into(),
        seq,
        url: format!("https://shop.example/p/{seq}"),
        title: format!("Page {seq}"),
        referrer: None,
        at,
    }
}

/// Resends after reconnects and hub restarts must not double-count anything.
pub async fn browsing_records_are_idempotent<S: LocalStore>(s: &S) {
    let (site, who) = ("site1", "visitor-a");
    assert_eq!(
        browsing::record_visit(s, site, who, &visit("0001-visit")).await,
        Ok(1)
    );
    assert_eq!(
        browsing::record_visit(s, site, who, &visit("0001-visit")).await,
        Ok(1)
    );
    for seq in 1..=3 {
        let pv = view("0001-visit", seq, 1_700_000_000_000 + seq as u64);
        browsing::record_page_view(s, site, who, &pv, None)
            .await
            .unwrap();
        browsing::record_page_view(s, site, who, &pv, None)
            .await
            .unwrap();
    }
    assert_eq!(
        browsing::record_visit(s, site, who, &visit("0002-visit")).await,
        Ok(2)
    );
    browsing::record_page_view(
        s,
        site,
        who,
        &view("0002-visit", 1, 1_700_000_100_000),
        None,
    )
    .await
    .unwrap();

    let details = browsing::visitor_details(s, site, who)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(details.visit_count, 2);
    assert_eq!(details.page_view_count, 4);
    assert_eq!(details.first_seen_at, 1_700_000_000_000);
    assert_eq!(
        details.visits[0],
        visit("0002-visit"),
        "most recent visit first, as written"
    );
    let history: Vec<(String, u32)> = details
        .page_views
        .iter()
        .map(|p| (p.visit_id.clone(), p.seq))
        .collect();
    assert_eq!(
        history,
        [
            ("0002-visit".into(), 1),
            ("0001-visit".into(), 3),
            ("0001-visit".into(), 2),
            ("0001-visit".into(), 1)
        ]
    );
    assert_eq!(details.page_views[1].title, "Page 3");
}

/// The same visitor ID on two sites is two unrelated visitors.
pub async fn sites_never_see_each_other<S: LocalStore>(s: &S) {
    browsing::record_visit(s, "site-a", "same-visitor", &visit("0001-visit"))
        .await
        .unwrap();
    browsing::record_page_view(s, "site-a", "same-visitor", &view("0001-visit", 1, 5), None)
        .await
        .unwrap();
    assert_eq!(
        browsing::visitor_details(s, "site-b", "same-visitor")
            .await
            .unwrap(),
        None
    );
    assert!(browsing::visitor_details(s, "site-a", "same-visitor")
        .await
        .unwrap()
        .is_some());
}

/// Two writers changing different attributes of one item both win (no lost update);
/// an update never creates an item.
pub async fn updates_change_only_their_attributes<S: LocalStore>(s: &S) {
    s.put(
        Item::new("P", "S", json!({"a": 1, "b": "x", "keep": true})),
        Condition::Always,
    )
    .await
    .unwrap();
    let set = |v: serde_json::Value| v.as_object().unwrap().clone();
    s.update("P", "S", set(json!({"a": 2}))).await.unwrap();
    s.update("P", "S", set(json!({"b": "y", "c": [1, 2]})))
        .await
        .unwrap();
    assert_eq!(
        s.get("P", "S").await.unwrap().unwrap().attrs,
        set(json!({"a": 2, "b": "y", "c": [1, 2], "keep": true}))
    );
    assert_eq!(
        s.update("P", "missing", set(json!({"a": 1}))).await,
        Err(StoreError::ConditionFailed)
    );
    assert_eq!(s.get("P", "missing").await.unwrap(), None);
    assert!(matches!(
        s.update("P", "S", set(json!({"sk": "other"}))).await,
        Err(StoreError::Invalid(_))
    ));
    // An expiring item keeps its expiry through an update.
    s.put(
        Item::new("P", "T", json!({"a": 1})).with_expiry(u32::MAX as u64 * 2),
        Condition::Always,
    )
    .await
    .unwrap();
    s.update("P", "T", set(json!({"a": 3}))).await.unwrap();
    let t = s.get("P", "T").await.unwrap().unwrap();
    assert_eq!(
        (t.u64("a"), t.expires_at),
        (Some(3), Some(u32::MAX as u64 * 2))
    );
}

fn new_site(key: &str, account: &str, name: &str) -> Site {
    Site {
        site_key: key.into(),
        account_id: account.into(),
        name: name.into(),
        active: true,
        allowed_origins: vec![],
        consultants: vec![],
        calls_enabled: true,
        language: None,
        typing_preview: true,
        cobrowse_consent: true,
    }
}

/// A transaction writes all or nothing.
pub async fn transactions_are_all_or_nothing<S: LocalStore>(s: &S) {
    use super::Write;
    let put = |sk: &str, condition| Write::Put {
        item: Item::new("T", sk, json!({ "v": sk })),
        condition,
    };
    s.put(
        Item::new("T", "taken", json!({"v": "old"})),
        Condition::Always,
    )
    .await
    .unwrap();
    s.put(Item::new("T", "gone", json!({})), Condition::Always)
        .await
        .unwrap();
    // One condition fails: nothing of the three writes happens.
    let failing = vec![
        put("a", Condition::NotExists),
        Write::Delete {
            pk: "T".into(),
            sk: "gone".into(),
        },
        put("taken", Condition::NotExists),
    ];
    assert_eq!(s.transact(failing).await, Err(StoreError::ConditionFailed));
    assert_eq!(s.get("T", "a").await.unwrap(), None);
    assert!(s.get("T", "gone").await.unwrap().is_some());
    assert_eq!(
        s.get("T", "taken").await.unwrap().unwrap().str("v"),
        Some("old")
    );
    // All conditions hold: all of it happens.
    let ok = vec![
        put("a", Condition::NotExists),
        Write::Delete {
            pk: "T".into(),
            sk: "gone".into(),
        },
        put("taken", Condition::Always),
    ];
    s.transact(ok).await.unwrap();
    assert_eq!(s.get("T", "a").await.unwrap().unwrap().str("v"), Some("a"));
    assert_eq!(s.get("T", "gone").await.unwrap(), None);
    assert_eq!(
        s.get("T", "taken").await.unwrap().unwrap().str("v"),
        Some("taken")
    );
    // Bad transactions are refused before the backend.
    assert!(matches!(
        s.transact(vec![]).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.transact(vec![
            put("x", Condition::Always),
            put("x", Condition::Always)
        ])
        .await,
        Err(StoreError::Invalid(_))
    ));
}

/// Counters count up within their window and start again once it expired.
pub async fn counters_count_up_until_they_expire<S: LocalStore>(s: &S) {
    let far = u32::MAX as u64 * 2;
    assert_eq!(s.incr("C", "k", far).await, Ok(1));
    assert_eq!(s.incr("C", "k", far).await, Ok(2));
    assert_eq!(s.incr("C", "k", 5).await, Ok(3), "the first expiry stays");
    assert_eq!(
        s.get("C", "k").await.unwrap().unwrap().expires_at,
        Some(far)
    );
    assert_eq!(s.incr("C", "other", far).await, Ok(1));
    // An expired counter starts again.
    s.put(
        Item::new("C", "old", json!({"n": 9})).with_expiry(1),
        Condition::Always,
    )
    .await
    .unwrap();
    assert_eq!(s.incr("C", "old", far).await, Ok(1));
    assert_eq!(
        s.get("C", "old").await.unwrap().unwrap().expires_at,
        Some(far)
    );
}

/// An admin's edit of a site and an agent's calls switch, made from the same old copy,
/// both survive: the lost update the site record used to suffer.
pub async fn site_edits_and_the_calls_switch_do_not_undo_each_other<S: LocalStore>(s: &S) {
    let site = new_site("key-1", "acc-1", "Shop");
    accounts::put_site(s, &site).await.unwrap();
    let stale = site.clone();
    accounts::set_calls_enabled(s, "key-1", false)
        .await
        .unwrap();
    let edit = SiteEdit {
        name: "Renamed".into(),
        active: true,
        allowed_origins: vec!["https://shop.example".into()],
        consultants: vec!["agent-2".into()],
        language: Some(accounts::Language::Pl),
        typing_preview: false,
        cobrowse_consent: true,
    };
    accounts::edit_site(s, &stale, &edit).await.unwrap();
    let now = accounts::get_site(s, "key-1").await.unwrap().unwrap();
    assert_eq!(now.name, "Renamed");
    assert_eq!(now.language, Some(accounts::Language::Pl));
    assert!(!now.typing_preview);
    assert_eq!(now.allowed_origins, ["https://shop.example"]);
    assert!(!now.calls_enabled, "the switch made meanwhile is kept");
    assert_eq!(
        accounts::account_sites(s, "acc-1").await.unwrap()[0].name,
        "Renamed"
    );
    accounts::delete_site(s, &now).await.unwrap();
    assert_eq!(
        accounts::edit_site(s, &now, &edit).await,
        Err(StoreError::ConditionFailed),
        "a deleted site is not brought back by an edit"
    );
    assert_eq!(accounts::get_site(s, "key-1").await.unwrap(), None);
}

pub async fn accounts_sites_and_sessions<S: LocalStore>(s: &S) {
    let site = new_site("key-1", "acc-1", "Shop");
    let other = new_site("key-2", "acc-2", "Other");
    accounts::put_site(s, &site).await.unwrap();
    accounts::put_site(s, &other).await.unwrap();
    assert_eq!(
        accounts::get_site(s, "key-1").await.unwrap(),
        Some(site.clone())
    );
    assert_eq!(
        accounts::account_sites(s, "acc-1").await.unwrap(),
        vec![site.clone()]
    );

    let ada = new_agent("agent-1", "Ada@Shop.example", "acc-1", Role::Admin);
    agents::create_agent(s, &ada, Some("$argon2id$…"))
        .await
        .unwrap();
    assert_eq!(
        agents::create_agent(s, &ada.with_id("agent-9"), None).await,
        Err(StoreError::ConditionFailed),
        "one agent per e-mail in an account"
    );
    assert_eq!(
        agents::agent(s, "agent-1").await.unwrap().unwrap().email,
        "ada@shop.example",
        "normalized"
    );
    assert_eq!(
        agents::person(s, " ada@shop.EXAMPLE ")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$…"
    );

    let session = Session {
        agent_id: "agent-1".into(),
        account_id: "acc-1".into(),
        // Far in the future: stores also filter by the real clock.
        expires_at: 4_000_000_000,
    };
    agents::create_session(s, "token-abc", &session)
        .await
        .unwrap();
    let (found, agent) = agents::agent_for_session(s, "token-abc", 3_999_999_999)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found, agent.agent_id.as_str()),
        (session.clone(), "agent-1")
    );
    assert_eq!(
        agents::agent_for_session(s, "token-abc", 4_000_000_000)
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        agents::agent_for_session(s, "token-abd", 1_000_000)
            .await
            .unwrap(),
        None
    );
    let ada = agents::agent(s, "agent-1").await.unwrap().unwrap();
    assert_eq!(
        accounts::site_for_agent(s, &ada, "key-1").await.unwrap(),
        Some(site.clone())
    );
    assert_eq!(
        accounts::site_for_agent(s, &ada, "key-2").await.unwrap(),
        None,
        "another account's site"
    );
    // An agent (not an admin) works only on the sites they are assigned to.
    let bo = new_agent("agent-2", "bo@shop.example", "acc-1", Role::Agent);
    assert_eq!(
        accounts::site_for_agent(s, &bo, "key-1").await.unwrap(),
        None,
        "not assigned"
    );
    let assigned = Site {
        consultants: vec!["agent-2".into()],
        ..site.clone()
    };
    accounts::put_site(s, &assigned).await.unwrap();
    assert_eq!(
        accounts::site_for_agent(s, &bo, "key-1").await.unwrap(),
        Some(assigned)
    );
    let ended = agents::delete_session(s, "token-abc").await.unwrap();
    assert_eq!(ended, Some(session));
    assert_eq!(agents::delete_session(s, "token-abc").await.unwrap(), None);
    assert_eq!(
        agents::agent_for_session(s, "token-abc", 1_000_000)
            .await
            .unwrap(),
        None
    );
}

fn new_agent(id: &str, email: &str, account: &str, role: Role) -> Agent {
    Agent {
        agent_id: id.into(),
        email: email.into(),
        account_id: account.into(),
        name: id.into(),
        role,
    }
}

impl Agent {
    fn with_id(&self, id: &str) -> Agent {
        Agent {
            agent_id: id.into(),
            ..self.clone()
        }
    }
}

/// One person may be an agent of several accounts; each account invites by e-mail without
/// being stopped by another; a session is one agent's, and dies with them.
pub async fn agents_are_people_in_accounts_and_sessions_die_with_them<S: LocalStore>(s: &S) {
    let far = 4_000_000_000;
    let in_a = new_agent("agent-a", "kim@mail.example", "acc-a", Role::Admin);
    let in_b = new_agent("agent-b", "kim@mail.example", "acc-b", Role::Agent);
    agents::create_agent(s, &in_a, Some("hash-1"))
        .await
        .unwrap();
    // Account B invites the same person: no new password, a second membership.
    agents::create_agent(s, &in_b, None).await.unwrap();
    let mut theirs: Vec<String> = agents::agents_of(s, "KIM@mail.example")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.account_id)
        .collect();
    theirs.sort();
    assert_eq!(theirs, ["acc-a", "acc-b"]);
    assert_eq!(
        agents::account_agents(s, "acc-b").await.unwrap(),
        vec![in_b.clone()]
    );
    // Two sessions of agent A, one of agent B.
    for (token, agent) in [("t-a1", &in_a), ("t-a2", &in_a), ("t-b1", &in_b)] {
        let session = Session {
            agent_id: agent.agent_id.clone(),
            account_id: agent.account_id.clone(),
            expires_at: far,
        };
        agents::create_session(s, token, &session).await.unwrap();
    }
    // A session names its account: it is not valid for another agent's account.
    let forged = Session {
        agent_id: "agent-a".into(),
        account_id: "acc-b".into(),
        expires_at: far,
    };
    agents::create_session(s, "t-forged", &forged)
        .await
        .unwrap();
    assert_eq!(
        agents::agent_for_session(s, "t-forged", 1).await.unwrap(),
        None
    );
    // A password change keeps the session that made it and ends the others.
    agents::set_password(s, "kim@mail.example", "hash-2")
        .await
        .unwrap();
    let kim = agents::person(s, "kim@mail.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kim.password_hash, "hash-2");
    let ended = agents::delete_sessions_of(s, "agent-a", Some("t-a1"))
        .await
        .unwrap();
    let mut expected = vec![agents::session_id("t-a2"), agents::session_id("t-forged")];
    expected.sort();
    let mut ended = ended;
    ended.sort();
    assert_eq!(ended, expected, "every session of agent A but the one kept");
    assert!(agents::agent_for_session(s, "t-a1", 1)
        .await
        .unwrap()
        .is_some());
    assert_eq!(agents::agent_for_session(s, "t-a2", 1).await.unwrap(), None);
    // Deleting agent A ends their sessions; the person stays while B remains.
    agents::delete_agent(s, &in_a).await.unwrap();
    assert_eq!(agents::agent_for_session(s, "t-a1", 1).await.unwrap(), None);
    assert!(agents::agent_for_session(s, "t-b1", 1)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        agents::person(s, "kim@mail.example")
            .await
            .unwrap()
            .map(|p| p.password_hash),
        Some("hash-2".into())
    );
    // Account A may invite the e-mail again (a new agent); deleting the last agent of a
    // person removes the person.
    agents::create_agent(s, &in_a.with_id("agent-a2"), None)
        .await
        .unwrap();
    agents::delete_agent(s, &in_b).await.unwrap();
    assert!(agents::person(s, "kim@mail.example")
        .await
        .unwrap()
        .is_some());
    agents::delete_agent(s, &in_a.with_id("agent-a2"))
        .await
        .unwrap();
    assert_eq!(agents::person(s, "kim@mail.example").await.unwrap(), None);
}

/// A conversation is created with its first message in one write, or not at all.
pub async fn a_conversation_opens_with_its_first_message_or_not_at_all<S: LocalStore>(s: &S) {
    use super::conversations as c;
    use crate::protocol::{Author, ConversationStatus::*};
    let summary = chat_summary("0001-conv-a", "visitor-a", Pending, "Zoé");
    let first = chat_message("0001-conv-a", 1, "client-0001", Author::Visitor);
    // Seq 1 is taken by another message: nothing of the conversation is written.
    c::save_message(
        s,
        "site1",
        &chat_message("0001-conv-a", 1, "other", Author::Visitor),
    )
    .await
    .unwrap();
    assert_eq!(
        c::open_conversation(s, "site1", &summary, &first).await,
        Err(StoreError::ConditionFailed)
    );
    assert_eq!(
        c::get_conversation(s, "site1", "0001-conv-a")
            .await
            .unwrap(),
        None
    );
    assert!(c::load_open(s, "site1")
        .await
        .unwrap()
        .conversations
        .is_empty());
    // A fresh conversation: summary, open marker and message together; a resend is fine.
    let summary = chat_summary("0002-conv-b", "visitor-b", Pending, "Marek");
    let first = chat_message("0002-conv-b", 1, "client-0002", Author::Visitor);
    c::open_conversation(s, "site1", &summary, &first)
        .await
        .unwrap();
    c::open_conversation(s, "site1", &summary, &first)
        .await
        .unwrap();
    let restored = c::load_open(s, "site1").await.unwrap();
    assert_eq!(restored.conversations.len(), 1);
    assert_eq!(restored.conversations[0].1, vec![first]);
}

/// The contract's cases, named once: expands `$then!($args… case, case, …)`. For runners
/// other than [`store_contract_tests!`](crate::store_contract_tests) (the Worker runs
/// them in workerd by name).
#[doc(hidden)]
#[macro_export]
macro_rules! store_contract_cases {
    ($then:path; $($args:tt)*) => {
        $then!($($args)*
            put_get_roundtrip, put_overwrites, conditional_put_refuses_existing,
            expired_items_are_invisible, delete_removes, query_by_prefix_in_order,
            query_pages_with_cursor, invalid_items_are_refused, browsing_records_are_idempotent,
            sites_never_see_each_other, updates_change_only_their_attributes,
            site_edits_and_the_calls_switch_do_not_undo_each_other, transactions_are_all_or_nothing,
            counters_count_up_until_they_expire, accounts_sites_and_sessions,
            agents_are_people_in_accounts_and_sessions_die_with_them,
            a_conversation_opens_with_its_first_message_or_not_at_all,
            conversations_and_messages, messages_are_written_together_and_resends_stay_free,
            contacts_follow_the_person_and_a_claim_never_overwrites_a_signed_contact,
            tags_notes_and_tasks_of_a_contact, shop_events_make_the_abandoned_cart_and_the_score,
            the_outbox_sends_in_order_retries_and_records_on_the_card,
            page_views_count_what_followed_what_and_the_card_recommends_it,
            invitations_and_reset_links_work_once);
    };
}

/// Expands to one `#[tokio::test]` per contract case. `$make` is an async expression
/// that yields a fresh, empty store.
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_cases!($crate::store_contract_tests; @cases $make;);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::store::contract::$case(&store).await;
            }
        )*
    };
}

pub async fn contacts_follow_the_person_and_a_claim_never_overwrites_a_signed_contact<
    S: LocalStore,
>(
    s: &S,
) {
    use super::contacts::{self, Identified};
    use crate::protocol::Identity;
    let zofia = Identity {
        id: "customer-42".into(),
        name: Some("Zofia Nowak".into()),
        email: Some("zofia@mail.example".into()),
        ..Identity::default()
    };
    assert_eq!(
        contacts::contact_of_visitor(s, "site-a", "phone")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        contacts::identify(s, "site-a", "phone", &zofia, true, 10)
            .await
            .unwrap(),
        Identified::Linked
    );
    // A second browser, a new phone number from the shop: one contact, both browsers.
    let with_phone = Identity {
        phone: Some("+48 600 100 200".into()),
        name: None,
        ..zofia.clone()
    };
    contacts::identify(s, "site-a", "laptop", &with_phone, true, 20)
        .await
        .unwrap();
    let profile = contacts::profile(s, "site-a", "customer-42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        profile.name.as_deref(),
        Some("Zofia Nowak"),
        "left out = kept"
    );
    assert_eq!(profile.phone.as_deref(), Some("+48 600 100 200"));
    assert_eq!((profile.created_at, profile.updated_at), (10, 20));
    for browser in ["phone", "laptop"] {
        assert_eq!(
            contacts::contact_of_visitor(s, "site-a", browser)
                .await
                .unwrap()
                .as_deref(),
            Some("customer-42")
        );
    }
    let card = contacts::card(s, "site-a", "customer-42", &[], 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        card.visitors,
        vec!["laptop".to_string(), "phone".to_string()]
    );

    // An unsigned claim to the signed contact changes nothing and links nothing.
    let claim = Identity {
        name: Some("Mallory".into()),
        ..zofia.clone()
    };
    assert_eq!(
        contacts::identify(s, "site-a", "mallory", &claim, false, 40)
            .await
            .unwrap(),
        Identified::Refused
    );
    let profile = contacts::profile(s, "site-a", "customer-42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(profile.name.as_deref(), Some("Zofia Nowak"));
    assert_eq!(
        contacts::contact_of_visitor(s, "site-a", "mallory")
            .await
            .unwrap(),
        None
    );

    // A browser is one contact at a time: the last identification wins.
    let other = Identity {
        id: "customer-7".into(),
        ..Identity::default()
    };
    contacts::identify(s, "site-a", "laptop", &other, true, 50)
        .await
        .unwrap();
    let card = contacts::card(s, "site-a", "customer-42", &[], 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visitors, vec!["phone".to_string()]);

    // Another site never sees them.
    assert_eq!(
        contacts::profile(s, "site-b", "customer-42").await.unwrap(),
        None
    );
    assert_eq!(
        contacts::contact_of_visitor(s, "site-b", "phone")
            .await
            .unwrap(),
        None
    );
}

pub async fn tags_notes_and_tasks_of_a_contact<S: LocalStore>(s: &S) {
    use super::contacts::{self, Note, Task};
    use crate::protocol::{AgentRef, Identity};
    let identity = Identity {
        id: "customer-42".into(),
        ..Identity::default()
    };
    contacts::identify(s, "site-a", "v1", &identity, true, 1)
        .await
        .unwrap();
    let tags = contacts::set_tags(
        s,
        "site-a",
        "customer-42",
        &[" VIP ".into(), "vip".into(), "lamps".into(), "".into()],
        2,
    )
    .await
    .unwrap();
    assert_eq!(tags, vec!["VIP".to_string(), "lamps".to_string()]);
    assert_eq!(
        contacts::site_tags(s, "site-a").await.unwrap(),
        vec!["lamps".to_string(), "VIP".to_string()]
    );
    assert!(contacts::site_tags(s, "site-b").await.unwrap().is_empty());

    let ada = AgentRef {
        agent_id: "agent-ada".into(),
        name: "Ada".into(),
    };
    let bob = AgentRef {
        agent_id: "agent-bob".into(),
        name: "Bob".into(),
    };
    for (at, id, text) in [
        (3, "n1", "Prefers e-mail"),
        (4, "n2", "Asked about the lamp"),
    ] {
        let note = Note {
            note_id: id.into(),
            author: ada.clone(),
            text: text.into(),
            at,
        };
        contacts::add_note(s, "site-a", "customer-42", &note)
            .await
            .unwrap();
    }
    let task = |id: &str, due: Option<&str>, done: bool| Task {
        task_id: id.into(),
        site: "site-a".into(),
        contact_id: "customer-42".into(),
        contact_name: None,
        title: format!("Call back ({id})"),
        assignee: bob.clone(),
        due: due.map(str::to_string),
        done,
        created_by: ada.clone(),
        created_at: 5,
    };
    contacts::put_task(s, &task("t1", None, false))
        .await
        .unwrap();
    contacts::put_task(s, &task("t2", Some("2026-12-24"), false))
        .await
        .unwrap();
    let open: Vec<String> = contacts::open_tasks(s, "agent-bob")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(open, vec!["t2", "t1"], "dated first");
    assert!(contacts::open_tasks(s, "agent-ada")
        .await
        .unwrap()
        .is_empty());

    contacts::put_task(s, &task("t2", Some("2026-12-24"), true))
        .await
        .unwrap();
    let open = contacts::open_tasks(s, "agent-bob").await.unwrap();
    assert_eq!(open.len(), 1, "a done task leaves the open list");
    let done = contacts::task(s, "site-a", "customer-42", "t2")
        .await
        .unwrap()
        .unwrap();
    assert!(done.done, "and stays on the card");

    let card = contacts::card(s, "site-a", "customer-42", &[], 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        card.profile.tags,
        vec!["VIP".to_string(), "lamps".to_string()]
    );
    let notes: Vec<&str> = card.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(notes, vec!["Asked about the lamp", "Prefers e-mail"]);
    assert_eq!(card.tasks.len(), 2);
    assert!(!card.tasks[0].done, "open tasks first");

    contacts::edit(
        s,
        "site-a",
        "customer-42",
        &contacts::ContactEdit {
            name: Some(" Zofia ".into()),
            ..Default::default()
        },
        11,
    )
    .await
    .unwrap();
    let profile = contacts::profile(s, "site-a", "customer-42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(profile.name.as_deref(), Some("Zofia"));
    assert_eq!(
        profile.tags.len(),
        2,
        "an edit of the fields keeps the tags"
    );
    assert_eq!(
        contacts::edit(s, "site-a", "nobody", &Default::default(), 12).await,
        Err(StoreError::ConditionFailed)
    );
}

pub async fn shop_events_make_the_abandoned_cart_and_the_score<S: LocalStore>(s: &S) {
    use super::catalog::Product;
    use super::contacts::{self, StoredEvent};
    use crate::protocol::{Identity, ShopEvent, ShopEventKind};
    let lamp = Product {
        product_id: "lamp".into(),
        name: "Desk lamp".into(),
        brand: String::new(),
        category: String::new(),
        price: "49.00 €".into(),
        image_url: None,
        url: "https://shop.example/lamp".into(),
    };
    let identity = Identity {
        id: "customer-42".into(),
        ..Identity::default()
    };
    let day = 24 * 3600 * 1000;
    let visit = Visit {
        visit_id: "0001".into(),
        started_at: day,
        country: None,
        city: None,
        referrer: None,
        landing_url: "https://shop.example/".into(),
    };
    browsing::record_visit(s, "site-a", "v1", &visit)
        .await
        .unwrap();
    browsing::record_page_view(
        s,
        "site-a",
        "v1",
        &VisitedPage {
            visit_id: "0001".into(),
            seq: 1,
            url: "https://shop.example/lamp?ref=home".into(),
            title: "Desk lamp".into(),
            referrer: None,
            at: day + 1,
        },
        None,
    )
    .await
    .unwrap();
    contacts::identify(s, "site-a", "v1", &identity, true, day)
        .await
        .unwrap();
    let event = |id: &str, kind, visit: &str, at| StoredEvent {
        event: ShopEvent {
            event_id: id.into(),
            kind,
            value: 150.0,
            currency: Some("EUR".into()),
            items: vec![
                "https://shop.example/lamp".into(),
                "https://shop.example/unknown".into(),
            ],
        },
        visit_id: visit.into(),
        at,
    };
    // Bought in visit 0001 after a cart: nothing abandoned.
    contacts::record_event(
        s,
        "site-a",
        "v1",
        &event("e1", ShopEventKind::Cart, "0001", day + 2),
    )
    .await
    .unwrap();
    contacts::record_event(
        s,
        "site-a",
        "v1",
        &event("e2", ShopEventKind::Purchase, "0001", day + 3),
    )
    .await
    .unwrap();
    let card = contacts::card(
        s,
        "site-a",
        "customer-42",
        std::slice::from_ref(&lamp),
        day + 4,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(card.abandoned_cart, None);
    assert_eq!(card.score.purchases, 1);
    assert_eq!(card.recently_viewed.len(), 1, "the lamp, by its URL");
    assert_eq!(card.recently_viewed[0].product.name, "Desk lamp");
    // visits 1×4 + page views 1 + seen today 20 + purchases 10
    assert_eq!(card.score.value, 4 + 1 + 20 + 10);

    // A later cart (another visit) with no purchase: abandoned. A resend stores nothing new.
    for _ in 0..2 {
        contacts::record_event(
            s,
            "site-a",
            "v1",
            &event("e3", ShopEventKind::Cart, "0002", day + 5),
        )
        .await
        .unwrap();
    }
    assert_eq!(contacts::events(s, "site-a", "v1").await.unwrap().len(), 3);
    let card = contacts::card(s, "site-a", "customer-42", &[lamp], 9 * day)
        .await
        .unwrap()
        .unwrap();
    let cart = card.abandoned_cart.expect("abandoned");
    assert_eq!(cart.value, 150.0);
    assert_eq!(cart.products[0].name, "Desk lamp");
    assert_eq!(cart.products[1].url, "https://shop.example/unknown");
    // a week ago: recency 5; cart 150 → 15
    assert_eq!(card.score.value, 4 + 1 + 5 + 15 + 10);
}

/// K3: queued e-mails come out oldest first when due; a retry waits; the card follows.
pub async fn the_outbox_sends_in_order_retries_and_records_on_the_card<S: LocalStore>(s: &S) {
    use super::mail::{self, MailContent, MailStatus, Outcome, OutgoingMail};
    let mail = |at: u64, n: u64, contact: Option<&str>| OutgoingMail {
        mail_id: OutgoingMail::id(at, "conv-1", n),
        site: "site-a".into(),
        contact_id: contact.map(str::to_string),
        to: "zofia@mail.example".into(),
        content: MailContent::Transcript {
            conversation_id: "conv-1".into(),
        },
        queued_at: at,
        attempts: 0,
        due_at: at,
    };
    let (first, second) = (mail(1_000, 1, Some("zofia")), mail(2_000, 1, None));
    mail::queue(s, &second, "Second").await.unwrap();
    mail::queue(s, &first, "First").await.unwrap();
    // A retried queue request whose first try landed changes nothing.
    mail::queue(s, &first, "First").await.unwrap();
    let due = mail::due(s, 1_500, 10).await.unwrap();
    assert_eq!(due, vec![first.clone()], "only what is due");
    let due = mail::due(s, 5_000, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].mail_id, first.mail_id, "oldest first");

    let card = mail::contact_emails(s, "site-a", "zofia").await.unwrap();
    assert_eq!(card.len(), 1);
    assert_eq!(
        (card[0].status, card[0].subject.as_str()),
        (MailStatus::Queued, "First")
    );
    assert_eq!(
        mail::contact_emails(s, "site-b", "zofia").await.unwrap(),
        vec![]
    );

    // Claimed before it is sent: a try that never ends is not taken again at once.
    let first = mail::claim(s, &first.mail_id, 5_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.attempts, first.due_at), (1, 65_000));
    assert_eq!(
        mail::claim(s, &first.mail_id, 5_000).await.unwrap(),
        None,
        "taken"
    );
    // The server said 421: tried again a minute later, the card says why meanwhile.
    let retry = Outcome::Retry("421 busy".into());
    mail::finish(s, &first, &retry, 5_000).await.unwrap();
    let due = mail::due(s, 5_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|m| m.mail_id.as_str()).collect::<Vec<_>>(),
        vec![second.mail_id.as_str()]
    );
    let later = mail::due(s, 65_000, 10).await.unwrap();
    assert_eq!(later[0].attempts, 1);
    let later = [mail::claim(s, &later[0].mail_id, 65_000)
        .await
        .unwrap()
        .unwrap()];
    assert_eq!(later[0].attempts, 2);
    let card = mail::contact_emails(s, "site-a", "zofia").await.unwrap();
    assert_eq!(card[0].error.as_deref(), Some("421 busy"));

    mail::finish(s, &later[0], &Outcome::Sent, 66_000)
        .await
        .unwrap();
    mail::finish(
        s,
        &second,
        &Outcome::Failed("550 no such user".into()),
        66_000,
    )
    .await
    .unwrap();
    assert_eq!(mail::due(s, 1_000_000, 10).await.unwrap(), vec![]);
    let card = mail::contact_emails(s, "site-a", "zofia").await.unwrap();
    assert_eq!(
        (card[0].status, card[0].done_at, card[0].error.clone()),
        (MailStatus::Sent, Some(66_000), None)
    );
}

/// K4: each page view counts the page and the step from the previous one (once, however
/// often it is resent); the card recommends what others viewed next, as products.
pub async fn page_views_count_what_followed_what_and_the_card_recommends_it<S: LocalStore>(s: &S) {
    const LATER: u64 = 4_000_000_000_000; // 2096
    use super::catalog::Product;
    use super::contacts;
    use crate::protocol::Identity;
    let product = |id: &str| Product {
        product_id: id.into(),
        name: id.into(),
        brand: String::new(),
        category: String::new(),
        price: String::new(),
        image_url: None,
        url: format!("https://shop.example/{id}"),
    };
    let catalogue = [
        product("lamp"),
        product("bulb"),
        product("shade"),
        product("sofa"),
    ];
    let view = |visit: &str, seq: u32, page: &str| VisitedPage {
        visit_id: visit.into(),
        seq,
        url: format!("https://shop.example/{page}?utm_source=x"),
        title: page.into(),
        referrer: None,
        // Counters expire a window after the view, by the store's clock: views of the
        // future, so this runs the same any day (and in wasm, which has no clock here).
        at: LATER + u64::from(seq),
    };
    // Two shoppers: lamp → bulb (twice), lamp → cart → shade.
    for (who, path) in [
        ("a", ["lamp", "bulb", "sofa"]),
        ("b", ["lamp", "bulb", "sofa"]),
        ("c", ["lamp", "cart", "shade"]),
    ] {
        let mut previous: Option<String> = None;
        for (i, page) in path.iter().enumerate() {
            let v = view("0001", i as u32 + 1, page);
            browsing::record_page_view(s, "site-a", who, &v, previous.as_deref())
                .await
                .unwrap();
            if i == 1 {
                // A resend after a reconnect counts nothing more.
                browsing::record_page_view(s, "site-a", who, &v, previous.as_deref())
                    .await
                    .unwrap();
            }
            previous = Some(v.url.clone());
        }
    }
    let mut next = browsing::successors(s, "site-a", "/lamp").await.unwrap();
    next.sort();
    assert_eq!(
        next,
        vec![("/bulb".to_string(), 2), ("/cart".to_string(), 1)]
    );
    assert_eq!(
        browsing::successors(s, "site-b", "/lamp").await.unwrap(),
        vec![]
    );
    let views = browsing::page_views_by_page(s, "site-a").await.unwrap();
    assert!(views.contains(&("/lamp".to_string(), 3)), "{views:?}");

    // A customer who viewed the lamp is recommended the bulb, then popular products.
    let identity = Identity {
        id: "customer-7".into(),
        ..Identity::default()
    };
    contacts::identify(s, "site-a", "d", &identity, true, 1)
        .await
        .unwrap();
    let visit = Visit {
        visit_id: "0002".into(),
        started_at: LATER,
        country: None,
        city: None,
        referrer: None,
        landing_url: "https://shop.example/lamp".into(),
    };
    browsing::record_visit(s, "site-a", "d", &visit)
        .await
        .unwrap();
    browsing::record_page_view(s, "site-a", "d", &view("0002", 1, "lamp"), None)
        .await
        .unwrap();
    let card = contacts::card(s, "site-a", "customer-7", &catalogue, LATER)
        .await
        .unwrap()
        .unwrap();
    let names: Vec<&str> = card.recommended.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"bulb"), "{names:?}");
    assert!(!names.contains(&"lamp"), "never what they saw: {names:?}");
    assert!(
        names.contains(&"sofa"),
        "popular products fill up: {names:?}"
    );
}

macro_rules! by_name {
    ($($case:ident),*) => {
        /// Every case's name.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];

        /// Runs the case named `case` against a fresh, empty store (panics as a test
        /// does when the store breaks the contract); `false` if there is no such case.
        pub async fn run<S: LocalStore>(case: &str, s: &S) -> bool {
            match case {
                $(stringify!($case) => $case(s).await,)*
                _ => return false,
            }
            true
        }
    };
}

crate::store_contract_cases!(by_name;);

fn chat_summary(
    id: &str,
    visitor: &str,
    status: crate::protocol::ConversationStatus,
    name: &str,
) -> crate::protocol::ConversationSummary {
    crate::protocol::ConversationSummary {
        conversation_id: id.into(),
        visitor_id: visitor.into(),
        status,
        owner: None,
        contact: crate::protocol::Contact {
            name: Some(name.into()),
            email: Some(format!("{}@mail.example", name.to_lowercase())),
        },
        created_at: 1,
        updated_at: 1,
        preview: String::new(),
        last_seq: 0,
        unread: 0,
        proactive: false,
    }
}

fn chat_message(
    conversation: &str,
    seq: u64,
    client_id: &str,
    author: crate::protocol::Author,
) -> crate::protocol::ChatMessage {
    crate::protocol::ChatMessage {
        conversation_id: conversation.into(),
        seq,
        client_id: client_id.into(),
        author,
        body: crate::protocol::MessageBody::Text {
            text: format!("message {seq}"),
        },
        page_url: None,
        at: 1_700_000_000_000 + seq,
    }
}

/// The hub's group commit: messages of several conversations in one write; a batch that
/// holds a message stored already (a resend) still stores the others; a message whose seq
/// another message took fails the batch.
pub async fn messages_are_written_together_and_resends_stay_free<S: LocalStore>(s: &S) {
    use super::conversations as c;
    use crate::protocol::{Author, ConversationStatus::*};
    for (id, visitor) in [("0001-conv-a", "visitor-a"), ("0002-conv-b", "visitor-b")] {
        c::save_conversation(s, "site1", &chat_summary(id, visitor, Active, "Zoé"))
            .await
            .unwrap();
    }
    let a1 = chat_message("0001-conv-a", 1, "client-a1", Author::Visitor);
    let b1 = chat_message("0002-conv-b", 1, "client-b1", Author::Visitor);
    let a2 = chat_message("0001-conv-a", 2, "client-a2", Author::Visitor);
    c::save_messages(s, "site1", &[a1.clone(), b1.clone()])
        .await
        .unwrap();
    c::save_messages(s, "site1", &[a1.clone(), a2.clone()])
        .await
        .unwrap();
    let seqs = |conversation: &'static str| async move {
        c::messages_after(s, "site1", conversation, 0, 100)
            .await
            .unwrap()
            .iter()
            .map(|m| (m.seq, m.client_id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seqs("0001-conv-a").await,
        [(1, "client-a1".to_string()), (2, "client-a2".to_string())]
    );
    assert_eq!(seqs("0002-conv-b").await, [(1, "client-b1".to_string())]);
    let clash = chat_message("0002-conv-b", 1, "client-other", Author::Visitor);
    let b2 = chat_message("0002-conv-b", 2, "client-b2", Author::Visitor);
    assert_eq!(
        c::save_messages(s, "site1", &[b2, clash]).await,
        Err(StoreError::ConditionFailed)
    );
}

/// Conversations, messages and blocks: resends are free, a taken seq is refused, open
/// conversations come back for a restarted hub, search finds contacts, sites stay apart.
pub async fn conversations_and_messages<S: LocalStore>(s: &S) {
    use super::conversations as c;
    use crate::protocol::{Author, ConversationStatus::*};
    let open = chat_summary("0001-conv-a", "visitor-a", Pending, "Zoé");
    let closed = chat_summary("0002-conv-b", "visitor-b", Closed, "Marek");
    c::save_conversation(s, "site1", &open).await.unwrap();
    c::save_conversation(s, "site1", &closed).await.unwrap();
    c::save_conversation(
        s,
        "site2",
        &chat_summary("0003-conv-c", "visitor-c", Active, "Other"),
    )
    .await
    .unwrap();
    let first = chat_message("0001-conv-a", 1, "client-0001", Author::Visitor);
    c::save_message(s, "site1", &first).await.unwrap();
    c::save_message(s, "site1", &first).await.unwrap();
    let clash = chat_message("0001-conv-a", 1, "client-9999", Author::Visitor);
    assert_eq!(
        c::save_message(s, "site1", &clash).await,
        Err(StoreError::ConditionFailed)
    );
    c::save_message(
        s,
        "site1",
        &chat_message("0001-conv-a", 2, "client-0002", Author::Visitor),
    )
    .await
    .unwrap();

    let restored = c::load_open(s, "site1").await.unwrap();
    assert_eq!(
        restored.conversations.len(),
        1,
        "only open conversations, only this site"
    );
    let (summary, messages) = &restored.conversations[0];
    assert_eq!((summary.last_seq, summary.unread), (2, 2));
    assert_eq!(messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        c::messages_after(s, "site1", "0001-conv-a", 1, 100)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(c::messages_after(s, "site2", "0001-conv-a", 0, 100)
        .await
        .unwrap()
        .is_empty());

    // Closing removes it from the open index.
    c::save_conversation(
        s,
        "site1",
        &crate::protocol::ConversationSummary {
            status: Closed,
            ..open.clone()
        },
    )
    .await
    .unwrap();
    assert!(c::load_open(s, "site1")
        .await
        .unwrap()
        .conversations
        .is_empty());

    let found = c::list_conversations(
        s,
        "site1",
        &c::ConversationFilter {
            contact: Some("MAREK@mail".into()),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        found
            .iter()
            .map(|x| x.conversation_id.as_str())
            .collect::<Vec<_>>(),
        ["0002-conv-b"]
    );
    let all = c::list_conversations(
        s,
        "site1",
        &c::ConversationFilter {
            status: Some(Closed),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].conversation_id, "0002-conv-b", "newest first");

    c::set_blocked(s, "site1", "visitor-a", true, 5)
        .await
        .unwrap();
    assert_eq!(
        c::blocked_visitors(s, "site1").await.unwrap(),
        ["visitor-a"]
    );
    assert!(c::blocked_visitors(s, "site2").await.unwrap().is_empty());
    c::set_blocked(s, "site1", "visitor-a", false, 6)
        .await
        .unwrap();
    assert!(c::blocked_visitors(s, "site1").await.unwrap().is_empty());
}

/// An invitation grants its seat only when its link is used, once; a newer invitation to
/// the same address, or revoking it, kills the old link; a reset link works once.
pub async fn invitations_and_reset_links_work_once<S: LocalStore>(s: &S) {
    use super::invitations::{self, Invitation};
    let far = 4_000_000_000;
    let invitation = Invitation {
        account_id: "acc-i".into(),
        email: " Lea@Mail.example".into(),
        name: "Léa".into(),
        role: Role::Agent,
        invited_by: "Ada".into(),
        expires_at: far,
    };
    invitations::create(s, &invitation, "link-1").await.unwrap();
    let found = invitations::by_token(s, "link-1", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.email, "lea@mail.example");
    assert_eq!(
        invitations::by_token(s, "link-1", far).await.unwrap(),
        None,
        "expired"
    );
    // Nothing is granted yet: no person, no agent.
    assert!(agents::person(s, "lea@mail.example")
        .await
        .unwrap()
        .is_none());
    assert!(agents::account_agents(s, "acc-i").await.unwrap().is_empty());
    // Invited again: the first link is dead, one invitation is pending.
    invitations::create(s, &invitation, "link-2").await.unwrap();
    assert_eq!(invitations::by_token(s, "link-1", 1).await.unwrap(), None);
    let pending = invitations::of_account(s, "acc-i", 1).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].email, "lea@mail.example");
    // Accepted: the person and the agent exist, the link is spent.
    let agent = Agent {
        agent_id: "agent-lea".into(),
        email: found.email.clone(),
        account_id: "acc-i".into(),
        name: "Léa".into(),
        role: Role::Agent,
    };
    invitations::accept(s, "link-2", &found, &agent, Some("hash-lea"))
        .await
        .unwrap();
    assert_eq!(
        agents::account_agents(s, "acc-i").await.unwrap(),
        vec![agent.clone()]
    );
    assert_eq!(
        agents::person(s, "lea@mail.example")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "hash-lea"
    );
    assert!(invitations::of_account(s, "acc-i", 1)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(invitations::by_token(s, "link-2", 1).await.unwrap(), None);
    let again = Agent {
        agent_id: "agent-lea-2".into(),
        ..agent.clone()
    };
    assert_eq!(
        invitations::accept(s, "link-2", &found, &again, None).await,
        Err(StoreError::ConditionFailed),
        "a link works once"
    );
    // Revoked before use: the link is dead.
    let other = Invitation {
        email: "max@mail.example".into(),
        ..invitation.clone()
    };
    invitations::create(s, &other, "link-3").await.unwrap();
    assert!(invitations::revoke(s, "acc-i", "MAX@mail.example")
        .await
        .unwrap());
    assert_eq!(invitations::by_token(s, "link-3", 1).await.unwrap(), None);
    assert!(!invitations::revoke(s, "acc-i", "max@mail.example")
        .await
        .unwrap());
    // A reset link: once, and not after it expired.
    invitations::create_reset(s, "Lea@mail.example", "reset-1", far)
        .await
        .unwrap();
    assert_eq!(
        invitations::take_reset(s, "reset-1", 1)
            .await
            .unwrap()
            .as_deref(),
        Some("lea@mail.example")
    );
    assert_eq!(
        invitations::take_reset(s, "reset-1", 1).await.unwrap(),
        None
    );
    invitations::create_reset(s, "lea@mail.example", "reset-2", 10)
        .await
        .unwrap();
    assert_eq!(
        invitations::take_reset(s, "reset-2", 11).await.unwrap(),
        None
    );
}
