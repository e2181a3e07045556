//! Contacts (K1–K5): visitors the shop identified, with what agents add to their card.
//!
//! | pk                          | sk                      | what                                   |
//! |-----------------------------|-------------------------|----------------------------------------|
//! | `CONTACT#{site}#{contact}`  | `PROFILE`               | the card: name, e-mail, phone, address, tags |
//! | `CONTACT#{site}#{contact}`  | `VISITOR#{visitor}`     | a browser identified as this contact   |
//! | `CONTACT#{site}#{contact}`  | `NOTE#{at:013}#{note}`  | a note (everyone who sees the contact) |
//! | `CONTACT#{site}#{contact}`  | `TASK#{task}`           | a task, open or done                   |
//! | `VISITOR#{site}#{visitor}`  | `CONTACT`               | which contact this browser is          |
//! | `VISITOR#{site}#{visitor}`  | `EVENT#{event}`         | a shop event (cart, purchase)          |
//! | `TASKS#{agent}`             | `{site}#{task}`         | an agent's open tasks (gone when done) |
//! | `TAGS#{site}`               | `{tag, lower case}`     | the site's tags, for autocomplete      |
//!
//! A contact is the shop's user ID on one site: identifying on a second browser links that
//! browser to the same contact, so the card, history and conversations follow the person.
//! The site is in every key, as for visitors: two sites never see each other's contacts.
//! Anonymous visitors have no `CONTACT` link and no card (K5).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::browsing::{self, VisitedPage};
use super::catalog::Product;
use super::{attributes, Condition, Item, LocalStore, Query, StoreError, StoreResult, Write};
use crate::clock::UnixMillis;
use crate::protocol::{AgentRef, Identity, ShopEvent, ShopEventKind};

pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 40;
pub const MAX_NOTE_CHARS: usize = 2000;
pub const MAX_TASK_CHARS: usize = 200;
/// Browsers one contact's card reads (most recent first).
pub const MAX_VISITORS: u32 = 20;
const DAY_MS: u64 = 24 * 3600 * 1000;

/// K1: the card's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContactProfile {
    pub contact_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Identified with a valid signature (or by an agent), not merely claimed.
    pub verified: bool,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Note {
    pub note_id: String,
    pub author: AgentRef,
    pub text: String,
    pub at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Task {
    pub task_id: String,
    pub site: String,
    pub contact_id: String,
    /// The contact's name when the task was made (the task list shows it).
    pub contact_name: Option<String>,
    pub title: String,
    pub assignee: AgentRef,
    /// `YYYY-MM-DD`, the shop's calendar day.
    pub due: Option<String>,
    pub done: bool,
    pub created_by: AgentRef,
    pub created_at: UnixMillis,
}

/// A shop event as stored, with the visit it happened in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StoredEvent {
    pub event: ShopEvent,
    pub visit_id: String,
    pub at: UnixMillis,
}

/// K1's score: 0–100 from behaviour, with the parts it was made of.
/// See docs/features.md ("Contacts") for the formula; the portal shows it on hover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Score {
    pub value: u32,
    pub visits: u32,
    pub page_views: u32,
    pub last_seen_at: Option<UnixMillis>,
    /// The value of the last cart not followed by a purchase in its visit.
    pub cart_value: f64,
    pub purchases: u32,
}

/// K4: a catalogue product the contact looked at, most recent first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ViewedProduct {
    pub product: Product,
    pub at: UnixMillis,
}

/// K4: a cart with no purchase after it in its visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AbandonedCart {
    pub value: f64,
    pub currency: Option<String>,
    /// The cart's products found in the catalogue, then any other URLs as they came.
    pub products: Vec<Product>,
    pub at: UnixMillis,
}

/// Everything the portal shows of a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContactCard {
    pub profile: ContactProfile,
    pub site: String,
    /// The browsers identified as this contact, most recent first.
    pub visitors: Vec<String>,
    pub notes: Vec<Note>,
    pub tasks: Vec<Task>,
    pub score: Score,
    pub recently_viewed: Vec<ViewedProduct>,
    pub abandoned_cart: Option<AbandonedCart>,
    /// K3: e-mails sent to the contact, most recent first.
    pub emails: Vec<super::mail::EmailRecord>,
    /// K4: catalogue products shoppers viewed next after what this contact viewed
    /// ([`crate::recommend`]), best first; never one they saw or have in the cart.
    pub recommended: Vec<Product>,
}

/// What an identification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identified {
    Linked,
    /// An unsigned claim to a contact a signed identity made: nothing changed.
    Refused,
}

pub fn contact_pk(site: &str, contact_id: &str) -> String {
    format!("CONTACT#{site}#{contact_id}")
}

fn tasks_pk(agent_id: &str) -> String {
    format!("TASKS#{agent_id}")
}

fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Links `visitor_id` to the contact `identity.id` names, creating the contact or updating
/// the fields the identity carries (fields it leaves out keep what an agent typed). An
/// unverified identity never touches a verified contact.
pub async fn identify<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    visitor_id: &str,
    identity: &Identity,
    verified: bool,
    at: UnixMillis,
) -> StoreResult<Identified> {
    if upsert(store, site, identity, verified, at).await? == Identified::Refused {
        return Ok(Identified::Refused);
    }
    link_visitor(store, site, visitor_id, &identity.id, at).await?;
    Ok(Identified::Linked)
}

/// Makes or completes the contact `identity.id` (fields it leaves out stay as they are);
/// `Refused` for an unverified claim on a verified contact. The shop's REST API calls it
/// with no browser to link.
pub async fn upsert<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    identity: &Identity,
    verified: bool,
    at: UnixMillis,
) -> StoreResult<Identified> {
    let pk = contact_pk(site, &identity.id);
    let fields = [
        ("name", clean(&identity.name)),
        ("email", clean(&identity.email)),
        ("phone", clean(&identity.phone)),
        ("address", clean(&identity.address)),
    ];
    let existing = store.get(&pk, "PROFILE").await?;
    let created = match &existing {
        Some(_) => false,
        None => {
            let profile = ContactProfile {
                contact_id: identity.id.clone(),
                name: fields[0].1.clone(),
                email: fields[1].1.clone(),
                phone: fields[2].1.clone(),
                address: fields[3].1.clone(),
                tags: Vec::new(),
                verified,
                created_at: at,
                updated_at: at,
            };
            match store
                .put(Item::of(&pk, "PROFILE", &profile)?, Condition::NotExists)
                .await
            {
                Ok(()) => true,
                // Made meanwhile by another browser: update it as below.
                Err(StoreError::ConditionFailed) => false,
                Err(e) => return Err(e),
            }
        }
    };
    if !created {
        let was_verified = match existing {
            Some(item) => item.bool("verified").unwrap_or(false),
            None => store
                .get(&pk, "PROFILE")
                .await?
                .and_then(|i| i.bool("verified"))
                .unwrap_or(false),
        };
        if was_verified && !verified {
            return Ok(Identified::Refused);
        }
        let mut attrs = serde_json::Map::new();
        for (name, value) in fields {
            if let Some(value) = value {
                attrs.insert(name.into(), value.into());
            }
        }
        attrs.insert("verified".into(), (was_verified || verified).into());
        attrs.insert("updated_at".into(), at.into());
        store.update(&pk, "PROFILE", attrs).await?;
    }
    Ok(Identified::Linked)
}

async fn link_visitor<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    visitor_id: &str,
    contact_id: &str,
    at: UnixMillis,
) -> StoreResult<()> {
    let visitor_pk = browsing::visitor_pk(site, visitor_id);
    // A browser is one contact at a time: the last identification wins.
    if let Some(previous) = contact_of_visitor(store, site, visitor_id).await? {
        if previous != contact_id {
            store
                .delete(
                    &contact_pk(site, &previous),
                    &format!("VISITOR#{visitor_id}"),
                )
                .await?;
        }
    }
    store
        .transact(vec![
            Write::Put {
                item: Item::new(
                    &visitor_pk,
                    "CONTACT",
                    serde_json::json!({ "contact_id": contact_id, "at": at }),
                ),
                condition: Condition::Always,
            },
            Write::Put {
                item: Item::new(
                    contact_pk(site, contact_id),
                    format!("VISITOR#{visitor_id}"),
                    serde_json::json!({ "visitor_id": visitor_id, "at": at }),
                ),
                condition: Condition::Always,
            },
        ])
        .await
}

/// The contact this browser was identified as, if any (K5: `None` is anonymous).
pub async fn contact_of_visitor<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    visitor_id: &str,
) -> StoreResult<Option<String>> {
    Ok(store
        .get(&browsing::visitor_pk(site, visitor_id), "CONTACT")
        .await?
        .and_then(|i| i.str("contact_id").map(str::to_string)))
}

pub async fn profile<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    contact_id: &str,
) -> StoreResult<Option<ContactProfile>> {
    match store.get(&contact_pk(site, contact_id), "PROFILE").await? {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

/// What an agent edits on a card (K1). `None` clears a field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ContactEdit {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// Applies an agent's edit; `ConditionFailed` if the contact does not exist.
pub async fn edit<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    contact_id: &str,
    edit: &ContactEdit,
    at: UnixMillis,
) -> StoreResult<()> {
    let mut attrs = attributes(&ContactEdit {
        name: clean(&edit.name),
        email: clean(&edit.email),
        phone: clean(&edit.phone),
        address: clean(&edit.address),
    })?;
    attrs.insert("updated_at".into(), at.into());
    store
        .update(&contact_pk(site, contact_id), "PROFILE", attrs)
        .await
}

/// K2: the contact's tags become `tags` (trimmed, without duplicates ignoring case); new
/// ones join the site's list. Returns the tags as stored.
pub async fn set_tags<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    contact_id: &str,
    tags: &[String],
    at: UnixMillis,
) -> StoreResult<Vec<String>> {
    let mut kept: Vec<String> = Vec::new();
    for tag in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if !kept.iter().any(|k| k.to_lowercase() == tag.to_lowercase()) {
            kept.push(tag.to_string());
        }
    }
    let mut attrs = serde_json::Map::new();
    attrs.insert("tags".into(), serde_json::json!(kept));
    attrs.insert("updated_at".into(), at.into());
    store
        .update(&contact_pk(site, contact_id), "PROFILE", attrs)
        .await?;
    for tag in &kept {
        store
            .put(
                Item::new(
                    format!("TAGS#{site}"),
                    tag.to_lowercase(),
                    serde_json::json!({ "tag": tag }),
                ),
                Condition::Always,
            )
            .await?;
    }
    Ok(kept)
}

/// The site's tags (autocomplete), in order.
pub async fn site_tags<S: LocalStore + ?Sized>(store: &S, site: &str) -> StoreResult<Vec<String>> {
    let page = store
        .query(Query::prefix(format!("TAGS#{site}"), "").limit(500))
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| i.str("tag").map(str::to_string))
        .collect())
}

pub async fn add_note<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    contact_id: &str,
    note: &Note,
) -> StoreResult<()> {
    store
        .put(
            Item::of(
                contact_pk(site, contact_id),
                format!("NOTE#{:013}#{}", note.at, note.note_id),
                note,
            )?,
            Condition::NotExists,
        )
        .await
}

/// A task on the contact's card and in its assignee's open tasks, both or neither.
pub async fn put_task<S: LocalStore + ?Sized>(store: &S, task: &Task) -> StoreResult<()> {
    let mut writes = vec![Write::Put {
        item: Item::of(
            contact_pk(&task.site, &task.contact_id),
            format!("TASK#{}", task.task_id),
            task,
        )?,
        condition: Condition::Always,
    }];
    let open_sk = format!("{}#{}", task.site, task.task_id);
    writes.push(if task.done {
        Write::Delete {
            pk: tasks_pk(&task.assignee.agent_id),
            sk: open_sk,
        }
    } else {
        Write::Put {
            item: Item::of(tasks_pk(&task.assignee.agent_id), open_sk, task)?,
            condition: Condition::Always,
        }
    });
    store.transact(writes).await
}

pub async fn task<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    contact_id: &str,
    task_id: &str,
) -> StoreResult<Option<Task>> {
    match store
        .get(&contact_pk(site, contact_id), &format!("TASK#{task_id}"))
        .await?
    {
        Some(item) => item.decode().map(Some),
        None => Ok(None),
    }
}

/// An agent's open tasks, on every site, soonest due first (undated last).
pub async fn open_tasks<S: LocalStore + ?Sized>(
    store: &S,
    agent_id: &str,
) -> StoreResult<Vec<Task>> {
    let page = store
        .query(Query::prefix(tasks_pk(agent_id), "").limit(500))
        .await?;
    let mut tasks = page
        .items
        .iter()
        .map(Item::decode)
        .collect::<StoreResult<Vec<Task>>>()?;
    tasks.sort_by(|a, b| {
        (a.due.is_none(), &a.due, a.created_at).cmp(&(b.due.is_none(), &b.due, b.created_at))
    });
    Ok(tasks)
}

/// Stores a shop event once (a resend with the same ID writes nothing).
pub async fn record_event<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    visitor_id: &str,
    event: &StoredEvent,
) -> StoreResult<()> {
    let item = Item::of(
        browsing::visitor_pk(site, visitor_id),
        format!("EVENT#{}", event.event.event_id),
        event,
    )?;
    match store.put(item, Condition::NotExists).await {
        Err(StoreError::ConditionFailed) => Ok(()),
        other => other,
    }
}

/// A visitor's shop events, newest first (event IDs are time-sortable).
pub async fn events<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    visitor_id: &str,
) -> StoreResult<Vec<StoredEvent>> {
    let page = store
        .query(
            Query::prefix(browsing::visitor_pk(site, visitor_id), "EVENT#")
                .descending()
                .limit(100),
        )
        .await?;
    page.items.iter().map(Item::decode).collect()
}

/// The whole card of a contact (`None`: no such contact on this site). `products` is the
/// account's catalogue, to name what was viewed and left in the cart (K4).
pub async fn card<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    contact_id: &str,
    products: &[Product],
    now: UnixMillis,
) -> StoreResult<Option<ContactCard>> {
    let pk = contact_pk(site, contact_id);
    let Some(profile) = profile(store, site, contact_id).await? else {
        return Ok(None);
    };
    let mut links = store
        .query(Query::prefix(&pk, "VISITOR#").limit(MAX_VISITORS * 5))
        .await?
        .items;
    links.sort_by_key(|i| std::cmp::Reverse(i.u64("at").unwrap_or(0)));
    links.truncate(MAX_VISITORS as usize);
    let visitors: Vec<String> = links
        .iter()
        .filter_map(|i| i.str("visitor_id").map(str::to_string))
        .collect();
    let notes = store
        .query(Query::prefix(&pk, "NOTE#").descending().limit(50))
        .await?
        .items
        .iter()
        .map(Item::decode)
        .collect::<StoreResult<Vec<Note>>>()?;
    let mut tasks = store
        .query(Query::prefix(&pk, "TASK#").limit(100))
        .await?
        .items
        .iter()
        .map(Item::decode)
        .collect::<StoreResult<Vec<Task>>>()?;
    tasks.sort_by_key(|t| (t.done, std::cmp::Reverse(t.created_at)));

    let mut visits = 0;
    let mut page_views = 0;
    let mut last_seen_at = None;
    let mut viewed: Vec<VisitedPage> = Vec::new();
    let mut events: Vec<StoredEvent> = Vec::new();
    for visitor_id in &visitors {
        if let Some(details) = browsing::visitor_details(store, site, visitor_id).await? {
            visits += details.visit_count;
            page_views += details.page_view_count;
            let latest = details.page_views.first().map(|p| p.at);
            last_seen_at = last_seen_at.max(latest);
            viewed.extend(details.page_views);
        }
        events.extend(self::events(store, site, visitor_id).await?);
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
    let abandoned_cart = abandoned_cart(&events, products);
    let recommended = recommended(store, site, &viewed, abandoned_cart.as_ref(), products).await?;
    let purchases = events
        .iter()
        .filter(|e| e.event.kind == ShopEventKind::Purchase)
        .count() as u32;
    let mut score = Score {
        value: 0,
        visits,
        page_views,
        last_seen_at,
        cart_value: abandoned_cart.as_ref().map_or(0.0, |c| c.value),
        purchases,
    };
    score.value = score_value(&score, now);
    Ok(Some(ContactCard {
        profile,
        site: site.to_string(),
        visitors,
        notes,
        tasks,
        score,
        recently_viewed: recently_viewed(viewed, products),
        abandoned_cart,
        emails: super::mail::contact_emails(store, site, contact_id).await?,
        recommended,
    }))
}

/// How many products the card recommends.
pub const RECOMMENDED: usize = 5;

/// K4: what shoppers viewed next after this contact's recent views, as catalogue products.
async fn recommended<S: LocalStore + ?Sized>(
    store: &S,
    site: &str,
    viewed: &[VisitedPage],
    cart: Option<&AbandonedCart>,
    products: &[Product],
) -> StoreResult<Vec<Product>> {
    use crate::recommend::{self, page_key, HISTORY};
    if products.is_empty() {
        return Ok(Vec::new());
    }
    let mut recent: Vec<&VisitedPage> = viewed.iter().collect();
    recent.sort_by_key(|v| std::cmp::Reverse(v.at));
    let mut history: Vec<String> = Vec::new();
    for key in recent.iter().map(|v| page_key(&v.url)) {
        if !history.contains(&key) && history.len() < HISTORY {
            history.push(key);
        }
    }
    let mut exclude: std::collections::HashSet<String> =
        recent.iter().map(|v| page_key(&v.url)).collect();
    exclude.extend(
        cart.iter()
            .flat_map(|c| c.products.iter().map(|p| page_key(&p.url))),
    );
    let mut successors = std::collections::HashMap::new();
    for page in &history {
        successors.insert(page.clone(), browsing::successors(store, site, page).await?);
    }
    let popular = browsing::page_views_by_page(store, site).await?;
    let by_page: std::collections::HashMap<String, &Product> = products
        .iter()
        .rev()
        .map(|p| (page_key(&p.url), p))
        .collect();
    // Non-product pages (the cart, the home page) are dropped after ranking, so ask for more.
    let ranked = recommend::recommend(
        &history,
        |page| successors.get(page).cloned().unwrap_or_default(),
        &popular,
        &exclude,
        RECOMMENDED * 10,
    );
    Ok(ranked
        .iter()
        .filter_map(|page| by_page.get(page).map(|p| (*p).clone()))
        .take(RECOMMENDED)
        .collect())
}

/// K1's score, 0–100: visits (4 each, up to 20), page views (1 each, up to 20), recency
/// (20 seen today, 10 this week, 5 this month), an abandoned cart's value (1 per 10
/// currency units, up to 20), purchases (10 each, up to 20).
pub fn score_value(score: &Score, now: UnixMillis) -> u32 {
    let recency = match score.last_seen_at.map(|at| now.saturating_sub(at)) {
        Some(age) if age <= DAY_MS => 20,
        Some(age) if age <= 7 * DAY_MS => 10,
        Some(age) if age <= 30 * DAY_MS => 5,
        _ => 0,
    };
    (score.visits * 4).min(20)
        + score.page_views.min(20)
        + recency
        + ((score.cart_value / 10.0) as u32).min(20)
        + (score.purchases * 10).min(20)
}

/// The newest cart whose visit has no purchase after it. `events`: newest first.
pub fn abandoned_cart(events: &[StoredEvent], products: &[Product]) -> Option<AbandonedCart> {
    let (index, cart) = events
        .iter()
        .enumerate()
        .find(|(_, e)| e.event.kind == ShopEventKind::Cart)?;
    let bought_after = events[..index]
        .iter()
        .any(|e| e.event.kind == ShopEventKind::Purchase && e.visit_id == cart.visit_id);
    if bought_after || cart.event.items.is_empty() {
        return None;
    }
    let products = cart
        .event
        .items
        .iter()
        .map(|url| {
            product_at(products, url)
                .cloned()
                .unwrap_or_else(|| Product {
                    product_id: String::new(),
                    name: url.clone(),
                    brand: String::new(),
                    category: String::new(),
                    price: String::new(),
                    image_url: None,
                    url: url.clone(),
                })
        })
        .collect();
    Some(AbandonedCart {
        value: cart.event.value,
        currency: cart.event.currency.clone(),
        products,
        at: cart.at,
    })
}

/// The catalogue products among these page views, newest first, each once (at most 10).
pub fn recently_viewed(mut views: Vec<VisitedPage>, products: &[Product]) -> Vec<ViewedProduct> {
    views.sort_by_key(|v| std::cmp::Reverse(v.at));
    let mut seen: Vec<ViewedProduct> = Vec::new();
    for view in views {
        if let Some(product) = product_viewed(products, &view) {
            if !seen.iter().any(|s| s.product.url == product.url) {
                seen.push(ViewedProduct {
                    product: product.clone(),
                    at: view.at,
                });
            }
        }
        if seen.len() == 10 {
            break;
        }
    }
    seen
}

/// The product whose page `url` is (query and fragment aside, trailing slash aside).
pub fn product_at<'a>(products: &'a [Product], url: &str) -> Option<&'a Product> {
    products_at(products, url).next()
}

fn products_at<'a>(products: &'a [Product], url: &str) -> impl Iterator<Item = &'a Product> {
    let bare = |u: &str| {
        u.split(['?', '#'])
            .next()
            .unwrap_or(u)
            .trim_end_matches('/')
            .to_string()
    };
    let url = bare(url);
    products.iter().filter(move |p| bare(&p.url) == url)
}

/// The product a page view shows: of the products at its URL (a catalogue may list
/// variants on one page), the one the page's title names, else the first.
fn product_viewed<'a>(products: &'a [Product], view: &VisitedPage) -> Option<&'a Product> {
    let title = view.title.to_lowercase();
    let mut at = products_at(products, &view.url).peekable();
    let first = *at.peek()?;
    Some(
        at.find(|p| !p.name.is_empty() && title.contains(&p.name.to_lowercase()))
            .unwrap_or(first),
    )
}
