//! Contact cards (K1–K5) for agents, and the site's identity secret for admins.
//!
//! An agent reads and edits the contacts of the sites they work on (the same rule as a
//! visitor's details: another account's site, or one they are not assigned to, is "not
//! found"). Tasks go to agents who work on the site; each agent lists their own open ones.

use crate::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_core::clock::now_ms;
use vitrine_core::codec::{self, validate_contact_id, validate_id};
use vitrine_core::protocol::http::{
    IdentityInput, NoteInput, TagsInput, TaskInput, TaskUpdate, VisitorContact,
};
use vitrine_core::protocol::{AgentRef, Identity};
use vitrine_core::store::accounts::{self, Site, SiteIdentity};
use vitrine_core::store::agents;
use vitrine_core::store::browsing;
use vitrine_core::store::catalog::{self, Product};
use vitrine_core::store::contacts::{
    self, ContactCard, ContactEdit, Note, Task, MAX_NOTE_CHARS, MAX_TAGS, MAX_TAG_CHARS,
    MAX_TASK_CHARS,
};
use vitrine_core::store::StoreError;

use crate::admin::{admin_site, random_hex, site_changed};
use crate::{my_site, ApiError, ApiState, Backend, CurrentAgent};

fn me_ref(me: &CurrentAgent) -> AgentRef {
    AgentRef {
        agent_id: me.agent.agent_id.clone(),
        name: me.agent.name.clone(),
    }
}

fn no_contact() -> ApiError {
    ApiError::not_found("no such contact on this site")
}

/// The site, if this agent works on it, and the contact's ID checked.
async fn contact_site<S: Backend, B>(
    state: &ApiState<S, B>,
    me: &CurrentAgent,
    site: &str,
    contact_id: &str,
) -> Result<Site, ApiError> {
    let site = my_site(state, me, site).await.map_err(|_| no_contact())?;
    validate_contact_id(contact_id).map_err(|_| no_contact())?;
    Ok(site)
}

async fn products<S: Backend, B>(
    state: &ApiState<S, B>,
    site: &Site,
) -> Result<Vec<Product>, ApiError> {
    Ok(catalog::list_items::<_, Product>(&state.store, &site.account_id).await?)
}

/// The contact's card, or "not found" (agents' and the shop's API alike).
pub(crate) async fn card_of<S: Backend, B>(
    state: &ApiState<S, B>,
    site: &Site,
    contact_id: &str,
) -> Result<ContactCard, ApiError> {
    let products = products(state, site).await?;
    contacts::card(
        &state.store,
        &site.site_key,
        contact_id,
        &products,
        now_ms(),
    )
    .await?
    .ok_or_else(no_contact)
}

/// The card of the contact a visitor was identified as (K5: none for the anonymous).
pub async fn of_visitor<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, visitor_id)): Path<(String, String)>,
) -> Result<Json<VisitorContact>, ApiError> {
    let not_found = || ApiError::not_found("no such visitor on this site");
    let site = my_site(&state, &me, &site).await.map_err(|_| not_found())?;
    validate_id("visitor_id", &visitor_id).map_err(|_| not_found())?;
    let card = match contacts::contact_of_visitor(&state.store, &site.site_key, &visitor_id).await?
    {
        Some(contact_id) => Some(card_of(&state, &site, &contact_id).await?),
        None => None,
    };
    Ok(Json(VisitorContact { card }))
}

/// K1: an agent makes the card of an anonymous visitor (who gave their details in the
/// chat). Its ID is the e-mail address, so the shop's identity of the same address, or a
/// later form, is the same contact; without an e-mail, a new ID.
pub async fn create_for_visitor<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, visitor_id)): Path<(String, String)>,
    Json(input): Json<ContactEdit>,
) -> Result<(StatusCode, Json<ContactCard>), ApiError> {
    let not_found = || ApiError::not_found("no such visitor on this site");
    let site = my_site(&state, &me, &site).await.map_err(|_| not_found())?;
    validate_id("visitor_id", &visitor_id).map_err(|_| not_found())?;
    if contacts::contact_of_visitor(&state.store, &site.site_key, &visitor_id)
        .await?
        .is_some()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "this visitor has a contact card already: edit it",
        ));
    }
    let email = input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if email.is_none() && name.is_none() {
        return Err(ApiError::bad_request("a contact needs a name or an e-mail"));
    }
    let id = email
        .map(str::to_lowercase)
        .filter(|e| validate_contact_id(e).is_ok())
        .unwrap_or_else(|| format!("agent-made-{}", random_hex(8)));
    let identity = Identity {
        id: id.clone(),
        name: input.name.clone(),
        email: input.email.clone(),
        phone: input.phone.clone(),
        address: input.address.clone(),
    };
    codec::validate_identity(&identity)?;
    if browsing::visitor_details(&state.store, &site.site_key, &visitor_id)
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    // What an agent types is vouched for: the shop's unsigned claims cannot change it.
    contacts::identify(
        &state.store,
        &site.site_key,
        &visitor_id,
        &identity,
        true,
        now_ms(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(card_of(&state, &site, &id).await?),
    ))
}

pub async fn card<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, contact_id)): Path<(String, String)>,
) -> Result<Json<ContactCard>, ApiError> {
    let site = contact_site(&state, &me, &site, &contact_id).await?;
    Ok(Json(card_of(&state, &site, &contact_id).await?))
}

/// K1: an agent corrects or completes the card. What an agent types counts as verified:
/// the shop's unsigned claims can no longer change it.
pub async fn edit<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, contact_id)): Path<(String, String)>,
    Json(input): Json<ContactEdit>,
) -> Result<Json<ContactCard>, ApiError> {
    let site = contact_site(&state, &me, &site, &contact_id).await?;
    codec::validate_identity(&Identity {
        id: contact_id.clone(),
        name: input.name.clone(),
        email: input.email.clone(),
        phone: input.phone.clone(),
        address: input.address.clone(),
    })?;
    match contacts::edit(&state.store, &site.site_key, &contact_id, &input, now_ms()).await {
        Err(StoreError::ConditionFailed) => return Err(no_contact()),
        other => other?,
    }
    Ok(Json(card_of(&state, &site, &contact_id).await?))
}

/// K2: the contact's tags, whole.
pub async fn set_tags<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, contact_id)): Path<(String, String)>,
    Json(input): Json<TagsInput>,
) -> Result<Json<Vec<String>>, ApiError> {
    let site = contact_site(&state, &me, &site, &contact_id).await?;
    if input.tags.len() > MAX_TAGS {
        return Err(ApiError::bad_request(format!(
            "a contact has at most {MAX_TAGS} tags"
        )));
    }
    for tag in &input.tags {
        codec::validate_text("tag", tag, MAX_TAG_CHARS)?;
    }
    match contacts::set_tags(
        &state.store,
        &site.site_key,
        &contact_id,
        &input.tags,
        now_ms(),
    )
    .await
    {
        Err(StoreError::ConditionFailed) => Err(no_contact()),
        other => Ok(Json(other?)),
    }
}

/// The site's tags, for autocomplete.
pub async fn site_tags<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(site): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    let site = my_site(&state, &me, &site).await?;
    Ok(Json(
        contacts::site_tags(&state.store, &site.site_key).await?,
    ))
}

pub async fn add_note<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, contact_id)): Path<(String, String)>,
    Json(input): Json<NoteInput>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let site = contact_site(&state, &me, &site, &contact_id).await?;
    codec::validate_text("text", &input.text, MAX_NOTE_CHARS)?;
    contacts::profile(&state.store, &site.site_key, &contact_id)
        .await?
        .ok_or_else(no_contact)?;
    let note = Note {
        note_id: random_hex(8),
        author: me_ref(&me),
        text: input.text.trim().to_string(),
        at: now_ms(),
    };
    contacts::add_note(&state.store, &site.site_key, &contact_id, &note).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// A calendar day as the portal's date field gives it.
fn validate_day(day: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = day.split('-').collect();
    let ok = matches!(parts.as_slice(), [y, m, d]
        if y.len() == 4 && m.len() == 2 && d.len() == 2
            && [y, m, d].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && (1..=12).contains(&m.parse::<u32>().unwrap_or(0))
            && (1..=31).contains(&d.parse::<u32>().unwrap_or(0)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request("due must be a date, YYYY-MM-DD"))
    }
}

/// K2: a task on the card, for an agent who works on the site.
pub async fn add_task<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, contact_id)): Path<(String, String)>,
    Json(input): Json<TaskInput>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let site = contact_site(&state, &me, &site, &contact_id).await?;
    codec::validate_text("title", &input.title, MAX_TASK_CHARS)?;
    if let Some(due) = &input.due {
        validate_day(due)?;
    }
    let unknown = || ApiError::bad_request("the assignee is no agent of this site");
    validate_id("assignee_id", &input.assignee_id).map_err(|_| unknown())?;
    let assignee = agents::agent(&state.store, &input.assignee_id)
        .await?
        .filter(|a| site.admits(a))
        .ok_or_else(unknown)?;
    let profile = contacts::profile(&state.store, &site.site_key, &contact_id)
        .await?
        .ok_or_else(no_contact)?;
    let task = Task {
        task_id: random_hex(8),
        site: site.site_key.clone(),
        contact_id,
        contact_name: profile.name.or(profile.email),
        title: input.title.trim().to_string(),
        assignee: AgentRef {
            agent_id: assignee.agent_id,
            name: assignee.name,
        },
        due: input.due,
        done: false,
        created_by: me_ref(&me),
        created_at: now_ms(),
    };
    contacts::put_task(&state.store, &task).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// K2: who a task may go to — every agent who works on the site, online or not.
pub async fn site_agents<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(site): Path<String>,
) -> Result<Json<Vec<AgentRef>>, ApiError> {
    let site = my_site(&state, &me, &site)
        .await
        .map_err(|_| ApiError::not_found("no such site"))?;
    let mut agents: Vec<AgentRef> = agents::account_agents(&state.store, &site.account_id)
        .await?
        .into_iter()
        .filter(|a| site.admits(a))
        .map(|a| AgentRef {
            agent_id: a.agent_id,
            name: a.name,
        })
        .collect();
    agents.sort_by_key(|a| a.name.to_lowercase());
    Ok(Json(agents))
}

/// Completes a task (or opens it again).
pub async fn update_task<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path((site, contact_id, task_id)): Path<(String, String, String)>,
    Json(input): Json<TaskUpdate>,
) -> Result<Json<Task>, ApiError> {
    let site = contact_site(&state, &me, &site, &contact_id).await?;
    let not_found = || ApiError::not_found("no such task");
    validate_id("task_id", &task_id).map_err(|_| not_found())?;
    let mut task = contacts::task(&state.store, &site.site_key, &contact_id, &task_id)
        .await?
        .ok_or_else(not_found)?;
    task.done = input.done;
    contacts::put_task(&state.store, &task).await?;
    Ok(Json(task))
}

/// The signed-in agent's open tasks, on the sites they still work on.
pub async fn my_tasks<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
) -> Result<Json<Vec<Task>>, ApiError> {
    let sites = accounts::agent_sites(&state.store, &me.agent).await?;
    let tasks = contacts::open_tasks(&state.store, &me.agent.agent_id).await?;
    Ok(Json(
        tasks
            .into_iter()
            .filter(|t| sites.iter().any(|s| s.site_key == t.site))
            .collect(),
    ))
}

// -- the identity secret (admins) -----------------------------------------------------------

/// A new identity secret: 32 random bytes, hex.
pub fn new_identity_secret() -> String {
    random_hex(32)
}

/// K1: the site's identity secret, made on first read (required by default).
pub async fn identity<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(site_key): Path<String>,
) -> Result<Json<SiteIdentity>, ApiError> {
    let site = admin_site(&state, &me, &site_key).await?;
    if let Some(identity) = accounts::site_identity(&state.store, &site.site_key).await? {
        return Ok(Json(identity));
    }
    let identity = SiteIdentity {
        secret: new_identity_secret(),
        required: true,
    };
    accounts::put_site_identity(&state.store, &site.site_key, &identity).await?;
    site_changed(&state, &site.site_key).await;
    Ok(Json(identity))
}

/// Requires signatures or not; rotates the secret (the old one stops working at once).
pub async fn set_identity<S: Backend, B>(
    State(state): State<ApiState<S, B>>,
    me: CurrentAgent,
    Path(site_key): Path<String>,
    Json(input): Json<IdentityInput>,
) -> Result<Json<SiteIdentity>, ApiError> {
    let site = admin_site(&state, &me, &site_key).await?;
    let current = accounts::site_identity(&state.store, &site.site_key).await?;
    let identity = SiteIdentity {
        secret: match current {
            Some(current) if !input.rotate => current.secret,
            _ => new_identity_secret(),
        },
        required: input.required,
    };
    accounts::put_site_identity(&state.store, &site.site_key, &identity).await?;
    site_changed(&state, &site.site_key).await;
    Ok(Json(identity))
}
