// The contact card (K1–K5): who an identified visitor is, what agents noted of them, and
// what they looked at or left in their cart. Shown inside the visitor panel, beside the
// live list and beside a conversation; an anonymous visitor has none (K5).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ContactCard as Card, ContactEdit, MessageBody, Product, Task } from '../../shared/protocol';
import { safeHref } from '../../shared/text';
import { api } from './api';
import { date, dateTime, lang, t } from './i18n';

/** An amount in the shop's currency, in the portal's language. */
function money(value: number, currency: string | null): string {
  try {
    return currency ? new Intl.NumberFormat(lang, { style: 'currency', currency }).format(value) : String(value);
  } catch {
    return `${value} ${currency}`;
  }
}

export function productBody(p: Product): MessageBody {
  return { kind: 'product', name: p.name, brand: p.brand, price: p.price, image_url: p.image_url ?? null, url: p.url };
}

/** `identified`: the contact the live list names, and `refresh` the visitor's page views:
 *  the card is read again when either changes (what they viewed, their cart);
 *  `onSend`: sends a message in the open conversation, when there is one to write in. */
export function ContactCard({ site, visitorId, identified, refresh, me, onSend }: {
  site: string;
  visitorId: string;
  identified: string | null;
  refresh: number;
  me: { agent_id: string; name: string };
  onSend?: (body: MessageBody) => void;
}) {
  const [card, setCard] = useState<Card | null | undefined>(undefined);
  const [error, setError] = useState('');
  // Reads overlap (a page view, then a change): only the latest one's answer is shown.
  const latest = useRef(0);
  const load = () => {
    const mine = ++latest.current;
    return api.visitorContact(site, visitorId)
      .then((c) => mine === latest.current && (setCard(c.card), setError('')))
      .catch((e) => mine === latest.current && setError(e.message));
  };
  useEffect(() => setCard(undefined), [site, visitorId]);
  useEffect(() => void load(), [site, visitorId, identified, refresh]);
  // E-mails are sent by the mailer, apart from the hub: their outcome is read every 10 s.
  useEffect(() => {
    const timer = setInterval(() => void load(), 10_000);
    return () => clearInterval(timer);
  }, [site, visitorId]);
  // Every change answers with what is stored; errors are said beside the card.
  const act = (p: Promise<unknown>) => p.then(load, (e) => setError(e.message));

  if (card === undefined) return error ? <p class="error">{error}</p> : null;
  if (card === null) {
    return (
      <section class="contact-card" aria-label={t('contact.label')}>
        <p class="muted" data-testid="contact-anonymous">{t('contact.anonymous')}</p>
        {error && <p class="error" role="alert">{error}</p>}
        <NewContact onSave={(edit) => act(api.contacts.createForVisitor(site, visitorId, edit))} />
      </section>
    );
  }
  const id = card.profile.contact_id;
  const s = card.score;
  const scoreTitle = t('contact.scoreParts', {
    visits: s.visits, views: s.page_views, cart: money(s.cart_value, card.abandoned_cart?.currency ?? null), purchases: s.purchases,
    seen: s.last_seen_at ? dateTime(s.last_seen_at) : '—',
  });
  return (
    <section class="contact-card" aria-label={t('contact.label')} data-testid="contact-card">
      <Profile card={card} onSave={(edit) => act(api.contacts.edit(site, id, edit))} />
      <p>
        <span class="score" data-testid="contact-score" title={scoreTitle} tabIndex={0} aria-label={`${t('contact.score')} ${s.value}. ${scoreTitle}`}>
          {t('contact.score')} {s.value}
        </span>
        {!card.profile.verified && <span class="muted"> · {t('contact.unverified')}</span>}
      </p>
      {error && <p class="error" role="alert">{error}</p>}
      <Tags site={site} tags={card.profile.tags} onSet={(tags) => act(api.contacts.tags(site, id, tags))} />
      <h3>{t('contact.notes')}</h3>
      <ul class="notes" data-testid="contact-notes">
        {card.notes.map((n) => <li><p>{n.text}</p><small class="muted">{n.author.name} · {dateTime(n.at)}</small></li>)}
      </ul>
      <AddLine label={t('contact.addNote')} testId="note-input" multiline onAdd={(text) => act(api.contacts.note(site, id, text))} />
      <h3>{t('contact.tasks')}</h3>
      <TaskList tasks={card.tasks} onDone={(task, done) => act(api.contacts.task(site, id, task.task_id, done))} />
      <NewTask site={site} me={me} onAdd={(title, assignee_id, due) => act(api.contacts.addTask(site, id, { title, assignee_id, due }))} />
      {card.abandoned_cart && (
        <>
          <h3>{t('contact.abandonedCart')}</h3>
          <p class="muted" data-testid="abandoned-cart">
            {money(card.abandoned_cart.value, card.abandoned_cart.currency)} · {dateTime(card.abandoned_cart.at)}
          </p>
          <Products products={card.abandoned_cart.products} onSend={onSend} testId="cart-products" />
        </>
      )}
      {card.recommended.length > 0 && (
        <>
          <h3 title={t('contact.recommendedWhy')}>{t('contact.recommended')}</h3>
          <Products products={card.recommended} onSend={onSend} testId="recommended" />
        </>
      )}
      {card.emails.length > 0 && (
        <>
          <h3>{t('contact.emails')}</h3>
          <ul class="emails" data-testid="contact-emails">
            {card.emails.map((m) => (
              <li data-status={m.status}>
                <b>{m.subject}</b> <span class={`mail-status ${m.status}`}>{t(`contact.mail.${m.status}`)}</span>
                <br /><span class="muted">{m.to} · {dateTime(m.done_at ?? m.queued_at)}{m.error ? ` · ${m.error}` : ''}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      {card.recently_viewed.length > 0 && (
        <>
          <h3>{t('contact.recentlyViewed')}</h3>
          <Products products={card.recently_viewed.map((v) => v.product)} onSend={onSend} testId="recently-viewed" />
        </>
      )}
    </section>
  );
}

/** K1: the agent makes the card of a visitor who said who they are in the chat. */
function NewContact({ onSave }: { onSave: (edit: ContactEdit) => void }) {
  const [open, setOpen] = useState(false);
  if (!open) return <button class="ghost" data-testid="contact-create" onClick={() => setOpen(true)}>{t('contact.create')}</button>;
  return <ContactForm initial={{ name: null, email: null, phone: null, address: null }} onSave={(e) => (onSave(e), setOpen(false))} onCancel={() => setOpen(false)} />;
}

function ContactForm({ initial, onSave, onCancel }: { initial: ContactEdit; onSave: (edit: ContactEdit) => void; onCancel: () => void }) {
  const [form, setForm] = useState<ContactEdit>(initial);
  const field = (k: keyof ContactEdit, type = 'text') => (
    <label>{t(`contact.${k}`)}
      <input type={type} value={form[k] ?? ''} data-testid={`contact-${k}`}
        onInput={(e) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  return (
    <form class="contact-edit" onSubmit={(e) => { e.preventDefault(); onSave(form); }}>
      {field('name')}{field('email', 'email')}{field('phone', 'tel')}{field('address')}
      <div class="row">
        <button type="submit" data-testid="contact-save">{t('contact.save')}</button>
        <button type="button" class="ghost" onClick={onCancel}>{t('contact.cancel')}</button>
      </div>
    </form>
  );
}

function Profile({ card, onSave }: { card: Card; onSave: (edit: ContactEdit) => void }) {
  const p = card.profile;
  const [editing, setEditing] = useState(false);
  if (editing) {
    const initial = { name: p.name, email: p.email, phone: p.phone, address: p.address };
    return <ContactForm initial={initial} onSave={(e) => (onSave(e), setEditing(false))} onCancel={() => setEditing(false)} />;
  }
  const email = p.email && safeHref(`mailto:${p.email}`);
  return (
    <div class="contact-profile">
      <h3 data-testid="contact-name">{p.name ?? p.email ?? p.contact_id}</h3>
      <dl>
        {p.email && <><dt>{t('contact.email')}</dt><dd data-testid="contact-email">{email ? <a href={email}>{p.email}</a> : p.email}</dd></>}
        {p.phone && <><dt>{t('contact.phone')}</dt><dd>{p.phone}</dd></>}
        {p.address && <><dt>{t('contact.address')}</dt><dd>{p.address}</dd></>}
        <dt>{t('contact.since')}</dt><dd>{date(p.created_at)}</dd>
      </dl>
      <button class="ghost" data-testid="contact-edit" onClick={() => setEditing(true)}>
        {t('contact.edit')}
      </button>
    </div>
  );
}

function Tags({ site, tags, onSet }: { site: string; tags: string[]; onSet: (tags: string[]) => void }) {
  const [known, setKnown] = useState<string[]>([]);
  useEffect(() => { api.contacts.siteTags(site).then(setKnown).catch(() => {}); }, [site, tags.join('\n')]);
  const listId = `tags-${site}`;
  return (
    <div class="tags">
      <h3>{t('contact.tags')}</h3>
      <ul data-testid="contact-tags">
        {tags.map((tag) => (
          <li class="tag">{tag} <button class="ghost" aria-label={t('contact.removeTag', { tag })} onClick={() => onSet(tags.filter((x) => x !== tag))}>✕</button></li>
        ))}
      </ul>
      <datalist id={listId}>{known.filter((k) => !tags.includes(k)).map((k) => <option value={k} />)}</datalist>
      <AddLine label={t('contact.addTag')} testId="tag-input" list={listId} onAdd={(tag) => onSet([...tags, tag])} />
    </div>
  );
}

function AddLine({ label, testId, onAdd, multiline, list }: {
  label: string; testId: string; onAdd: (text: string) => void; multiline?: boolean; list?: string;
}) {
  const [text, setText] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    if (text.trim()) onAdd(text.trim());
    setText('');
  };
  const onInput = (e: Event) => setText((e.target as HTMLInputElement).value);
  return (
    <form class="add-line" onSubmit={submit}>
      {multiline
        ? <textarea aria-label={label} placeholder={label} value={text} data-testid={testId} rows={2} onInput={onInput} />
        : <input aria-label={label} placeholder={label} value={text} data-testid={testId} list={list} onInput={onInput} />}
      <button type="submit" data-testid={`${testId}-add`}>{t('contact.add')}</button>
    </form>
  );
}

export function TaskList({ tasks, onDone, showContact }: {
  tasks: Task[]; onDone: (task: Task, done: boolean) => void; showContact?: boolean;
}) {
  return (
    <ul class="tasks" data-testid="tasks">
      {tasks.map((task) => (
        <li class={task.done ? 'done' : ''}>
          <label>
            <input type="checkbox" checked={task.done} onChange={(e) => onDone(task, (e.target as HTMLInputElement).checked)} />
            {task.title}
          </label>
          <small class="muted">
            {' '}{task.assignee.name}{task.due ? ` · ${t('contact.due', { day: task.due })}` : ''}
            {showContact && task.contact_name ? ` · ${task.contact_name}` : ''}
          </small>
        </li>
      ))}
    </ul>
  );
}

function NewTask({ site, me, onAdd }: {
  site: string; me: { agent_id: string; name: string }; onAdd: (title: string, assignee: string, due: string | null) => void;
}) {
  const [title, setTitle] = useState('');
  const [assignee, setAssignee] = useState(me.agent_id);
  const [due, setDue] = useState('');
  // Everyone who works on the site, online or not; oneself first.
  const [colleagues, setColleagues] = useState<{ agent_id: string; name: string }[]>([]);
  useEffect(() => { api.contacts.siteAgents(site).then(setColleagues).catch(() => {}); }, [site]);
  const people = [me, ...colleagues.filter((a) => a.agent_id !== me.agent_id)];
  return (
    <form class="new-task" onSubmit={(e) => {
      e.preventDefault();
      if (!title.trim()) return;
      onAdd(title.trim(), assignee, due || null);
      setTitle('');
      setDue('');
    }}>
      <input aria-label={t('contact.taskTitle')} placeholder={t('contact.taskTitle')} value={title} data-testid="task-title" onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
      <select aria-label={t('contact.assignee')} value={assignee} data-testid="task-assignee" onChange={(e) => setAssignee((e.target as HTMLSelectElement).value)}>
        {people.map((p) => <option value={p.agent_id}>{p.name}</option>)}
      </select>
      <input type="date" aria-label={t('contact.dueDate')} value={due} data-testid="task-due" onInput={(e) => setDue((e.target as HTMLInputElement).value)} />
      <button type="submit" data-testid="task-add">{t('contact.addTask')}</button>
    </form>
  );
}

function Products({ products, onSend, testId }: { products: Product[]; onSend?: (body: MessageBody) => void; testId: string }) {
  return (
    <ul class="products" data-testid={testId}>
      {products.map((p) => (
        <li>
          <a href={safeHref(p.url)} target="_blank" rel="noopener noreferrer">{p.name}</a> {p.price && <span class="muted">{p.price}</span>}
          {onSend && p.product_id && (
            <button class="ghost" data-testid="recommend" aria-label={t('contact.sendProduct', { name: p.name })} onClick={() => onSend(productBody(p))}>
              {t('contact.send')}
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

/** The signed-in agent's open tasks, on every site they work on (K2). */
export function MyTasks() {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [error, setError] = useState('');
  const load = () => api.myTasks().then((x) => (setTasks(x), setError('')), (e) => setError(e.message));
  useEffect(() => void load(), []);
  return (
    <main class="tasks-page" data-testid="my-tasks">
      <h2>{t('tasks.title')}</h2>
      {error && <p class="error" role="alert">{error}</p>}
      {tasks && tasks.length === 0 && <p class="empty">{t('tasks.none')}</p>}
      {tasks && <TaskList tasks={tasks} showContact onDone={(task, done) => api.contacts.task(task.site, task.contact_id, task.task_id, done).then(load, (e) => setError(e.message))} />}
    </main>
  );
}
