//! Operator set-up, done outside the API: the demo data of a local install and the first
//! admin of a new one. (Plans are `store::accounts::set_plan`.)

use vitrine_core::store::accounts::{self, Account, Plan, Site};
use vitrine_core::store::agents::{self, Agent, Role};
use vitrine_core::store::catalog::{self, CannedResponse, Offer, Product};
use vitrine_core::store::{Store, StoreError, StoreResult};

use crate::auth::argon2_blocking;
use crate::hash_password;

pub const DEMO_ACCOUNT: &str = "demo-account";

/// What the demo install is made of.
pub struct Demo {
    pub site_key: String,
    pub admin_email: String,
    pub admin_password: String,
    /// Where the demo shop is served (its product pages' base URL).
    pub shop_url: String,
    /// The demo catalogue (`web/demo/catalogue.json`), URLs relative to the shop.
    pub products: Vec<Product>,
}

/// Creates what is missing of the demo: the account (on a plan with calls), its site, the
/// first admin, a demo agent and expert (same password, only on a fresh store), and the
/// catalogue, an offer and canned responses. Safe to run at every start.
pub async fn seed_demo<S: Store + Sync>(store: &S, demo: &Demo) -> Result<(), crate::ApiError> {
    let account_id = DEMO_ACCOUNT;
    if accounts::get_account(store, account_id).await?.is_none() {
        accounts::put_account(
            store,
            &Account {
                account_id: account_id.into(),
                name: "Demo shop".into(),
                plan: Plan { calls: true },
            },
        )
        .await?;
    }
    if accounts::get_site(store, &demo.site_key).await?.is_none() {
        accounts::put_site(
            store,
            &Site {
                site_key: demo.site_key.clone(),
                account_id: account_id.into(),
                name: "Demo shop".into(),
                active: true,
                allowed_origins: vec![],
                consultants: vec![],
                calls_enabled: true,
                language: None,
                typing_preview: true,
                cobrowse_consent: true,
            },
        )
        .await?;
    }
    // K1: the demo shop's backend signs its customers with this (read from the store).
    if accounts::site_identity(store, &demo.site_key)
        .await?
        .is_none()
    {
        let identity = accounts::SiteIdentity {
            secret: crate::contacts::new_identity_secret(),
            required: true,
        };
        accounts::put_site_identity(store, &demo.site_key, &identity).await?;
    }
    if agents::person(store, &demo.admin_email).await?.is_none() {
        let password = demo.admin_password.clone();
        let password_hash = argon2_blocking(move || hash_password(&password)).await?;
        let mut consultants = Vec::new();
        for (email, name, role) in [
            (demo.admin_email.as_str(), "Demo admin", Role::Admin),
            // Colleagues to transfer to, assigned to the demo site.
            ("agent@demo.shop", "Demo agent", Role::Agent),
            ("expert@demo.shop", "Demo expert", Role::Expert),
        ] {
            let agent = Agent {
                agent_id: new_agent_id(),
                email: agents::normalize_email(email),
                account_id: account_id.into(),
                name: name.into(),
                role,
            };
            match agents::create_agent(store, &agent, Some(&password_hash)).await {
                Ok(()) if role != Role::Admin => consultants.push(agent.agent_id),
                Ok(()) | Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(site) = accounts::get_site(store, &demo.site_key).await? {
            let edit = accounts::SiteEdit {
                name: site.name.clone(),
                active: site.active,
                allowed_origins: site.allowed_origins.clone(),
                consultants: site
                    .consultants
                    .iter()
                    .cloned()
                    .chain(consultants)
                    .collect(),
                language: site.language,
                typing_preview: site.typing_preview,
                cobrowse_consent: site.cobrowse_consent,
            };
            accounts::edit_site(store, &site, &edit).await?;
        }
    }
    seed_catalogue(store, demo).await?;
    Ok(())
}

/// A new install's first account and its admin (the operator's `vitrine admin …`): the
/// account `account_id` on a plan with calls, and `email` as its admin with `password`.
/// Refused when that e-mail already belongs to someone (nothing is changed then).
pub async fn first_admin<S: Store + Sync>(
    store: &S,
    account_id: &str,
    account_name: &str,
    email: &str,
    name: &str,
    password: &str,
) -> Result<Agent, crate::ApiError> {
    vitrine_core::codec::validate_id_length("account", account_id, 3)
        .map_err(|e| crate::ApiError::bad_request(e.message))?;
    if password.chars().count() < crate::auth::MIN_PASSWORD_CHARS {
        return Err(crate::ApiError::bad_request(format!(
            "the password needs at least {} characters",
            crate::auth::MIN_PASSWORD_CHARS
        )));
    }
    if agents::person(store, email).await?.is_some() {
        return Err(crate::ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "exists",
            format!("{email} already has an account"),
        ));
    }
    if accounts::get_account(store, account_id).await?.is_none() {
        accounts::put_account(
            store,
            &Account {
                account_id: account_id.into(),
                name: account_name.into(),
                plan: Plan { calls: true },
            },
        )
        .await?;
    }
    let password = password.to_string();
    let password_hash = argon2_blocking(move || hash_password(&password)).await?;
    let agent = Agent {
        agent_id: new_agent_id(),
        email: agents::normalize_email(email),
        account_id: account_id.into(),
        name: name.into(),
        role: Role::Admin,
    };
    agents::create_agent(store, &agent, Some(&password_hash)).await?;
    Ok(agent)
}

/// The key visitor credentials are signed with, kept in the store so every process (and
/// every restart) of an install shares it: created at random on first use.
pub async fn visitor_key<S: Store + Sync>(store: &S) -> StoreResult<Vec<u8>> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use vitrine_core::store::{Condition, Item};
    const PK: &str = "SECRET#visitor-key";
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).expect("the OS has a random source");
    let fresh = Item::new(
        PK,
        "META",
        serde_json::json!({ "key": STANDARD.encode(random) }),
    );
    match store.put(fresh, Condition::NotExists).await {
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e),
    }
    let item = store
        .get(PK, "META")
        .await?
        .ok_or_else(|| StoreError::Corrupt("the visitor key vanished".into()))?;
    item.str("key")
        .and_then(|k| STANDARD.decode(k).ok())
        .filter(|k| k.len() >= 16)
        .ok_or_else(|| StoreError::Corrupt("the stored visitor key is not a key".into()))
}

fn new_agent_id() -> String {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).expect("the OS has a random source");
    format!(
        "agent-{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

async fn seed_catalogue<S: Store + Sync>(store: &S, demo: &Demo) -> StoreResult<()> {
    let account = DEMO_ACCOUNT;
    if catalog::list_items::<S, Product>(store, account)
        .await?
        .is_empty()
    {
        for product in &demo.products {
            let product = Product {
                url: format!("{}{}", demo.shop_url, product.url),
                ..product.clone()
            };
            catalog::put_item(store, account, &product).await?;
        }
    }
    if catalog::list_items::<S, Offer>(store, account)
        .await?
        .is_empty()
    {
        let offer = Offer {
            offer_id: "winter-sale".into(),
            title: "Winter sale: 15% off lighting".into(),
            text: "Use code GLOW15 at checkout until Sunday.".into(),
            image_url: None,
            link_url: format!("{}/?category=Lighting", demo.shop_url),
        };
        catalog::put_item(store, account, &offer).await?;
    }
    if catalog::list_items::<S, CannedResponse>(store, account)
        .await?
        .is_empty()
    {
        for (id, text) in [
            ("hello", "Hello! How can I help you today?"),
            (
                "shipping",
                "Delivery takes 2–4 working days and is free above €100.",
            ),
            (
                "returns",
                "You can return any item within 30 days, free of charge.",
            ),
        ] {
            let canned = CannedResponse {
                canned_id: id.into(),
                shortcut: id.into(),
                text: text.into(),
            };
            catalog::put_item(store, account, &canned).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine_store::SqliteStore;

    #[tokio::test]
    async fn a_new_install_gets_one_admin_and_a_taken_email_changes_nothing() {
        let store = SqliteStore::in_memory().unwrap();
        let admin = first_admin(
            &store,
            "acme",
            "Acme",
            "Boss@Acme.test",
            "Boss",
            "long enough pw",
        )
        .await
        .unwrap();
        assert_eq!(admin.role, Role::Admin);
        assert_eq!(admin.email, "boss@acme.test");
        let account = accounts::get_account(&store, "acme")
            .await
            .unwrap()
            .unwrap();
        assert!(account.plan.calls);

        let again = first_admin(
            &store,
            "other",
            "Other",
            "boss@acme.test",
            "B",
            "long enough pw",
        )
        .await
        .unwrap_err();
        assert_eq!(again.status, axum::http::StatusCode::CONFLICT);
        assert!(accounts::get_account(&store, "other")
            .await
            .unwrap()
            .is_none());

        let short = first_admin(&store, "x", "X", "x@x.test", "X", "short")
            .await
            .unwrap_err();
        assert_eq!(short.status, axum::http::StatusCode::BAD_REQUEST);
    }
}
