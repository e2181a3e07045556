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
        browsing::record_page_view(s, site, who, &pv).await.unwrap();
        browsing::record_page_view(s, site, who, &pv).await.unwrap();
    }
    assert_eq!(
        browsing::record_visit(s, site, who, &visit("0002-visit")).await,
        Ok(2)
    );
    browsing::record_page_view(s, site, who, &view("0002-visit", 1, 1_700_000_100_000))
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
    browsing::record_page_view(s, "site-a", "same-visitor", &view("0001-visit", 1, 5))
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
    };
    accounts::edit_site(s, &stale, &edit).await.unwrap();
    let now = accounts::get_site(s, "key-1").await.unwrap().unwrap();
    assert_eq!(now.name, "Renamed");
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
        // Signed in with a one-time password: lifted once a new one is chosen.
        password_change_required: true,
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
    agents::lift_password_change(s, "token-abc").await.unwrap();
    let session = Session {
        password_change_required: false,
        ..session
    };
    let (found, _) = agents::agent_for_session(s, "token-abc", 3_999_999_999)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, session);
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
            password_change_required: false,
        };
        agents::create_session(s, token, &session).await.unwrap();
    }
    // A session names its account: it is not valid for another agent's account.
    let forged = Session {
        agent_id: "agent-a".into(),
        account_id: "acc-b".into(),
        expires_at: far,
        password_change_required: false,
    };
    agents::create_session(s, "t-forged", &forged)
        .await
        .unwrap();
    assert_eq!(
        agents::agent_for_session(s, "t-forged", 1).await.unwrap(),
        None
    );
    // An invitation's password must be replaced; choosing one lifts that.
    agents::require_password_change(s, "Kim@mail.example")
        .await
        .unwrap();
    let kim = agents::person(s, "kim@mail.example")
        .await
        .unwrap()
        .unwrap();
    assert!(kim.must_change);
    // A password change keeps the session that made it and ends the others.
    agents::set_password(s, "kim@mail.example", "hash-2")
        .await
        .unwrap();
    let kim = agents::person(s, "kim@mail.example")
        .await
        .unwrap()
        .unwrap();
    assert!(!kim.must_change && kim.password_hash == "hash-2");
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
            conversations_and_messages, messages_are_written_together_and_resends_stay_free);
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
