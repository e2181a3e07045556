//! Re-reading the people behind a hub's agent sockets (what the Worker does now and then,
//! in case a change notice was lost), against a real store (SQLite).

use vitrine_core::access::recheck_agents;
use vitrine_core::hub::{AgentIdentity, Input};
use vitrine_core::store::agents::{self, Agent, Role, Session};
use vitrine_store::SqliteStore;

const NOW: u64 = 1_800_000_000;

fn ada() -> Agent {
    Agent {
        agent_id: "agent-ada".into(),
        email: "ada@shop.example".into(),
        account_id: "account-1".into(),
        name: "Ada".into(),
        role: Role::Agent,
    }
}

fn as_hub_knows(agent: &Agent) -> AgentIdentity {
    AgentIdentity {
        agent_id: agent.agent_id.clone(),
        name: agent.name.clone(),
        role: agent.role,
    }
}

async fn signed_in(store: &SqliteStore, token: &str) -> String {
    let session = Session {
        agent_id: ada().agent_id,
        account_id: ada().account_id,
        expires_at: NOW + 3600,
    };
    agents::create_session(store, token, &session)
        .await
        .unwrap();
    agents::session_id(token)
}

#[tokio::test]
async fn nothing_changed_means_nothing_to_tell() {
    let store = SqliteStore::in_memory().unwrap();
    agents::create_agent(&store, &ada(), Some("hash"))
        .await
        .unwrap();
    let session = signed_in(&store, "token-1").await;
    let connected = [(as_hub_knows(&ada()), session)];
    assert_eq!(recheck_agents(&store, &connected, NOW).await, []);
}

#[tokio::test]
async fn an_ended_session_a_changed_role_and_a_removed_agent_are_told() {
    let store = SqliteStore::in_memory().unwrap();
    agents::create_agent(&store, &ada(), Some("hash"))
        .await
        .unwrap();
    let kept = signed_in(&store, "token-1").await;
    let ended = signed_in(&store, "token-2").await;
    agents::delete_session(&store, "token-2").await.unwrap();
    let promoted = Agent {
        role: Role::Admin,
        ..ada()
    };
    agents::update_agent(&store, &promoted).await.unwrap();
    let connected = [
        (as_hub_knows(&ada()), kept.clone()),
        (as_hub_knows(&ada()), ended.clone()),
    ];
    assert_eq!(
        recheck_agents(&store, &connected, NOW).await,
        [
            Input::AgentChanged {
                agent_id: "agent-ada".into(),
                agent: Some(as_hub_knows(&promoted)),
            },
            Input::SessionEnded {
                agent_id: "agent-ada".into(),
                session: ended,
            },
        ]
    );
    // An expired session is an ended one, and an unknown agent a removed one.
    let stranger = AgentIdentity {
        agent_id: "agent-gone".into(),
        name: "Gone".into(),
        role: Role::Agent,
    };
    let connected = [
        (as_hub_knows(&promoted), kept.clone()),
        (stranger, kept.clone()),
    ];
    let told = recheck_agents(&store, &connected, NOW + 7200).await;
    assert!(told.contains(&Input::SessionEnded {
        agent_id: "agent-ada".into(),
        session: kept.clone(),
    }));
    assert!(told.contains(&Input::AgentChanged {
        agent_id: "agent-gone".into(),
        agent: None,
    }));
}
