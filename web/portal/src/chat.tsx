// The chat console (C1–C13): folders (Pending for everyone, Active for mine, Closed
// history with search), the conversation with its actions (take, transfer, block, end,
// reopen, minimise, open the visitor's page) and the composer (emoji, canned responses
// with a "/" picker, images, offers, product cards).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { CannedResponse, ChatMessage, ConversationSummary, MessageBody, Offer, Site } from '../../shared/protocol';
import { MAX_MESSAGE_CHARS } from '../../shared/protocol';
import { safeHref } from '../../shared/text';
import { api, type FoundConversation, type Gallery, type Me } from './api';
import { ErrorLine } from './error-line';
import type { Hub } from './live';
import { MessageList } from './messages';

type Folder = 'pending' | 'active' | 'closed';

export function contactLabel(c: ConversationSummary): string {
  return c.contact.name || c.contact.email || `Visitor ${c.visitor_id.slice(0, 8)}`;
}

export function ChatConsole({ me, site, hub, openId, onOpen }: { me: Me; site: Site; hub: Hub; openId: string | null; onOpen: (id: string | null) => void }) {
  const [folder, setFolder] = useState<Folder>('pending');
  const [closed, setClosed] = useState<FoundConversation[]>([]);
  const [query, setQuery] = useState('');
  const [siteFilter, setSiteFilter] = useState(site.site_key);
  const open = [...hub.state.conversations.values()];
  const pending = open.filter((c) => c.status === 'pending');
  const mine = open.filter((c) => c.status === 'active' && c.owner?.agent_id === me.agent.agent_id);

  const loadClosed = () =>
    api.conversations({ status: 'closed', q: query, site: siteFilter || undefined }).then(setClosed).catch(() => setClosed([]));
  useEffect(() => void (folder === 'closed' && loadClosed()), [folder, siteFilter, hub.state.conversations.size]);

  const list: ConversationSummary[] = folder === 'pending' ? pending : folder === 'active' ? mine : closed;
  return (
    <main class="chat">
      <section class="folders" aria-label="Conversations">
        <div class="tabs" role="tablist">
          {(['pending', 'active', 'closed'] as Folder[]).map((f) => (
            <button role="tab" aria-selected={folder === f} data-testid={`folder-${f}`} onClick={() => setFolder(f)}>
              {f[0].toUpperCase() + f.slice(1)}
              {f !== 'closed' && <span class="count" data-testid={`count-${f}`}>{f === 'pending' ? pending.length : mine.length}</span>}
              {f !== 'closed' && (f === 'pending' ? pending : mine).some((c) => c.unread > 0) && <span class="unread" />}
            </button>
          ))}
        </div>
        {folder === 'closed' && (
          <form class="search" onSubmit={(e) => (e.preventDefault(), loadClosed())}>
            <input type="search" placeholder="Name or e-mail" aria-label="Search by name or e-mail" value={query} onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
            {me.sites.length > 1 && (
              <select aria-label="Site" value={siteFilter} onChange={(e) => setSiteFilter((e.target as HTMLSelectElement).value)}>
                <option value="">All sites</option>
                {me.sites.map((s) => <option value={s.site_key}>{s.name}</option>)}
              </select>
            )}
            <button type="submit">Search</button>
          </form>
        )}
        <ul class="conv-list" data-testid="conversation-list">
          {list.length === 0 && <li class="empty">Nothing here.</li>}
          {list.map((c) => (
            <li class={`conv ${c.conversation_id === openId ? 'selected' : ''}`} data-conversation-id={c.conversation_id} onClick={() => onOpen(c.conversation_id)}>
              <b>{contactLabel(c)}</b>
              {c.unread > 0 && <span class="unread" title={`${c.unread} unread`} />}
              {c.proactive && <span class="badge">proactive</span>}
              <div class="muted">{c.preview}</div>
            </li>
          ))}
        </ul>
      </section>
      {openId ? (
        <Conversation key={openId} me={me} site={site} hub={hub} id={openId} fallback={closed.find((c) => c.conversation_id === openId)} onClose={() => onOpen(null)} />
      ) : (
        <p class="empty">Pick a conversation.</p>
      )}
    </main>
  );
}

function Conversation({ me, site, hub, id, fallback, onClose }: { me: Me; site: Site; hub: Hub; id: string; fallback?: ConversationSummary; onClose: () => void }) {
  const live = hub.state.conversations.get(id);
  const [stored, setStored] = useState<ConversationSummary | null>(null);
  const [minimised, setMinimised] = useState(false);
  const [confirm, setConfirm] = useState<'block' | 'end' | null>(null);
  const summary = live ?? stored ?? fallback ?? null;
  const messages = hub.state.messages.get(id) ?? [];
  const draft = hub.state.drafts.get(id);
  const mineActive = summary?.status === 'active' && summary.owner?.agent_id === me.agent.agent_id;
  const visitor = summary ? hub.state.visitors.get(summary.visitor_id) : undefined;
  const blocked = summary ? hub.state.blocked.has(summary.visitor_id) : false;
  const targets = hub.state.agents.filter((a) => a.agent_id !== me.agent.agent_id);

  // History from the store (covers anything missed while disconnected, and closed chats).
  useEffect(() => {
    api.messages(site.site_key, id).then((page) => {
      setStored(page.conversation);
      hub.addHistory(id, page.messages);
    }).catch(() => {});
  }, [id, live?.status, hub.state.connection]);
  // Reading it clears the unread mark (P7).
  const lastSeq = messages.length ? messages[messages.length - 1].seq : 0;
  useEffect(() => {
    if (live && live.unread > 0 && !minimised) hub.send({ type: 'mark_read', conversation_id: id, seq: lastSeq });
  }, [lastSeq, live?.unread, minimised]);

  const gone = hub.state.gone.get(id);
  if (gone !== undefined && !live) {
    // A colleague has it now: say so, offer nothing that would fail.
    return (
      <section class="conversation" aria-label="Conversation" data-testid="conversation" data-status="gone">
        <header>
          <h2>{summary ? contactLabel(summary) : 'Conversation'}</h2>
          <span class="spacer" />
          <button class="ghost" aria-label="Close conversation" onClick={onClose}>✕</button>
        </header>
        <p class="notice" role="status" data-testid="conversation-gone">
          {gone ? `${gone.name} has this conversation now.` : 'A colleague has this conversation now.'} It is no longer in your folders.
        </p>
        <Unsent hub={hub} id={id} />
      </section>
    );
  }
  if (!summary) return <p class="empty">Loading…</p>;
  const act = (frame: Parameters<Hub['send']>[0]) => hub.send(frame);
  const error = hub.state.errors.get(id);
  return (
    <section class={`conversation ${minimised ? 'minimised' : ''}`} aria-label="Conversation" data-testid="conversation" data-status={summary.status}>
      <header>
        <h2>{contactLabel(summary)}</h2>
        <span class={`status ${summary.status}`} data-testid="conversation-status">{summary.status}</span>
        {summary.contact.email && <span class="muted">{summary.contact.email}</span>}
        <span class="spacer" />
        {visitor && safeHref(visitor.page.url) && (
          <a class="button ghost" data-testid="open-visitor-page" href={safeHref(visitor.page.url)} target="_blank" rel="noopener noreferrer">Open visitor's page</a>
        )}
        {summary.status === 'pending' && <button data-testid="take" onClick={() => act({ type: 'take', conversation_id: id })}>Take</button>}
        {mineActive && targets.length > 0 && (
          <select data-testid="transfer" aria-label="Transfer to" value="" onChange={(e) => {
            const to = (e.target as HTMLSelectElement).value;
            if (to) act({ type: 'transfer', conversation_id: id, to_agent_id: to });
          }}>
            <option value="">Transfer to…</option>
            {targets.map((a) => <option value={a.agent_id}>{a.name}{a.expert ? ' (expert)' : ''}</option>)}
          </select>
        )}
        {confirm === 'block' ? (
          <Confirm question="Block this visitor? They can no longer chat or call." action="Block" testId="block-confirm"
            onYes={() => (act({ type: 'block', visitor_id: summary.visitor_id, blocked: true }), setConfirm(null))} onNo={() => setConfirm(null)} />
        ) : blocked ? (
          <button class="ghost" data-testid="unblock" onClick={() => act({ type: 'block', visitor_id: summary.visitor_id, blocked: false })}>Unblock</button>
        ) : (
          <button class="ghost" data-testid="block" onClick={() => setConfirm('block')}>Block</button>
        )}
        {summary.status === 'closed' ? (
          <button data-testid="reopen" onClick={() => (hub.clearError(id), act({ type: 'reopen', conversation_id: id }))}>Reopen</button>
        ) : confirm === 'end' ? (
          <Confirm question="End this conversation?" action="End" testId="end-confirm"
            onYes={() => (act({ type: 'end', conversation_id: id }), setConfirm(null))} onNo={() => setConfirm(null)} />
        ) : (
          <button data-testid="end" onClick={() => setConfirm('end')}>End</button>
        )}
        <button class="ghost" data-testid="minimise" aria-pressed={minimised} onClick={() => setMinimised(!minimised)}>{minimised ? 'Restore' : 'Minimise'}</button>
        <button class="ghost" aria-label="Close conversation" onClick={onClose}>✕</button>
      </header>
      {!minimised && (
        <>
          {error && <ErrorLine text={error} testId="conversation-error" onDismiss={() => hub.clearError(id)} />}
          <MessageList messages={messages} />
          <Unsent hub={hub} id={id} />
          {draft && <p class="draft" data-testid="typing-preview" title="The visitor is typing (not sent yet)">{draft}</p>}
          {summary.status !== 'closed' && (summary.status === 'pending' || mineActive) && <Composer id={id} hub={hub} />}
        </>
      )}
    </section>
  );
}

/** An inline question before an action that cannot be undone in one click; Esc says no. */
function Confirm({ question, action, testId, onYes, onNo }: { question: string; action: string; testId: string; onYes: () => void; onNo: () => void }) {
  const yes = useRef<HTMLButtonElement>(null);
  // A layout effect: Esc works from the moment the question shows, not a frame later.
  useLayoutEffect(() => {
    yes.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      onNo();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  return (
    <span class="confirm" role="group" aria-label={question}>
      {question}
      <button ref={yes} data-testid={testId} onClick={onYes}>{action}</button>
      <button class="ghost" onClick={onNo}>Cancel</button>
    </span>
  );
}

/** This conversation's messages still in the outbox: sending, or refused with why. */
function Unsent({ hub, id }: { hub: Hub; id: string }) {
  return (
    <>
      {hub.state.outbox.filter((o) => o.conversation_id === id).map((o) => {
        const text = o.body.kind === 'text' ? o.body.text : `[${o.body.kind}]`;
        return o.refused ? (
          <p class="msg agent refused" data-testid="refused">
            {text}
            <span class="why">Not sent: {o.refused}. <button class="link" onClick={() => hub.discard(o.client_id)}>Discard</button></span>
          </p>
        ) : (
          <p class="msg agent sending">{text} · sending…</p>
        );
      })}
    </>
  );
}

const EMOJI = ['😊', '👍', '🙏', '🎉', '👋', '❤️', '😉', '✅'];

function Composer({ id, hub }: { id: string; hub: Hub }) {
  const [text, setText] = useState('');
  const [canned, setCanned] = useState<CannedResponse[]>([]);
  const [offers, setOffers] = useState<Offer[]>([]);
  const [panel, setPanel] = useState<'none' | 'emoji' | 'offers' | 'products'>('none');
  const [error, setError] = useState('');
  const typing = useRef(false);
  useEffect(() => {
    api.canned.list().then(setCanned).catch(() => {});
    api.offers.list().then(setOffers).catch(() => {});
  }, []);
  const setTyping = (on: boolean) => {
    if (typing.current === on) return;
    typing.current = on;
    hub.send({ type: 'typing', conversation_id: id, typing: on });
  };
  const send = (body: MessageBody) => {
    hub.say(id, body);
    setTyping(false);
    setPanel('none');
  };
  const submit = (e?: Event) => {
    e?.preventDefault();
    const t = text.trim();
    if (!t) return;
    if (t.length > MAX_MESSAGE_CHARS) return setError(`At most ${MAX_MESSAGE_CHARS} characters.`);
    send({ kind: 'text', text: t });
    setText('');
    setDismissed(null);
  };
  // The "/" picker: a listbox the keyboard drives (arrows move, Enter or Tab picks, Esc
  // closes); while it is open Enter never sends the "/…" text itself.
  const [active, setActive] = useState(0);
  // Esc closes it for the text as it was then (and what is typed after it), so "/path"
  // can still be written as text; any other text opens it again.
  const [dismissed, setDismissed] = useState<string | null>(null);
  const closed = dismissed !== null && text.startsWith(dismissed);
  const slash = text.startsWith('/') && !closed ? text.slice(1).toLowerCase() : null;
  const matches = slash === null ? [] : canned.filter((c) => c.shortcut.toLowerCase().includes(slash) || c.text.toLowerCase().includes(slash));
  const current = Math.min(active, Math.max(matches.length - 1, 0));
  const pick = (c: CannedResponse) => {
    setText(c.text);
    setTyping(true);
    setActive(0);
  };
  const pickerKey = (e: KeyboardEvent): boolean => {
    if (slash === null) return false;
    if (e.key === 'Escape') {
      setDismissed(text);
      return true;
    }
    if (matches.length === 0) return e.key === 'Enter' && !e.shiftKey; // nothing to pick: nothing sent
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const step = e.key === 'ArrowDown' ? 1 : matches.length - 1;
      setActive((current + step) % matches.length);
      return true;
    }
    if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
      pick(matches[current]);
      return true;
    }
    return false;
  };
  const upload = async (file: File | undefined) => {
    if (!file) return;
    setError('');
    try {
      const { blob_id } = await api.upload(file);
      send({ kind: 'image', blob_id });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <form class="composer" onSubmit={submit}>
      {slash !== null && (
        <ul class="picker" id={`canned-${id}`} role="listbox" aria-label="Canned responses" data-testid="canned-picker">
          {matches.length === 0 && <li class="muted">No canned response matches “/{slash}” (Esc to write it as text).</li>}
          {matches.map((c, i) => (
            <li
              id={`canned-${id}-${i}`}
              role="option"
              aria-selected={i === current}
              class={i === current ? 'active' : ''}
              onMouseDown={(e) => e.preventDefault() /* keep the composer's focus */}
              onClick={() => pick(c)}
            >
              <b>/{c.shortcut}</b> {c.text}
            </li>
          ))}
        </ul>
      )}
      {panel === 'emoji' && <div class="picker emoji">{EMOJI.map((e) => <button type="button" onClick={() => setText(text + e)}>{e}</button>)}</div>}
      {panel === 'offers' && (
        <ul class="picker" data-testid="offer-picker">
          {offers.length === 0 && <li class="muted">No offers yet (admins prepare them).</li>}
          {offers.map((o) => <li><button type="button" onClick={() => send({ kind: 'offer', title: o.title, text: o.text, image_url: o.image_url ?? null, link_url: o.link_url })}>{o.title}</button></li>)}
        </ul>
      )}
      {panel === 'products' && <ProductGallery onPick={(body) => send(body)} />}
      {error && <p class="error" role="alert">{error}</p>}
      <textarea
        data-testid="composer"
        aria-label="Message"
        placeholder="Write a message — type / for canned responses"
        value={text}
        maxLength={MAX_MESSAGE_CHARS}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={slash !== null}
        aria-controls={slash !== null ? `canned-${id}` : undefined}
        aria-activedescendant={matches.length > 0 ? `canned-${id}-${current}` : undefined}
        onInput={(e) => {
          const value = (e.target as HTMLTextAreaElement).value;
          setText(value);
          setTyping(value.length > 0);
          setActive(0);
        }}
        onBlur={() => setTyping(false)}
        onKeyDown={(e) => {
          if (pickerKey(e)) return e.preventDefault();
          if (e.key === 'Enter' && !e.shiftKey) submit(e);
        }}
      />
      <div class="tools">
        <button type="button" class="ghost" aria-label="Emoji" onClick={() => setPanel(panel === 'emoji' ? 'none' : 'emoji')}>😊</button>
        <label class="button ghost">Image<input type="file" accept="image/png,image/jpeg,image/gif,image/webp" hidden onChange={(e) => upload((e.target as HTMLInputElement).files?.[0])} /></label>
        <button type="button" class="ghost" data-testid="offers" onClick={() => setPanel(panel === 'offers' ? 'none' : 'offers')}>Offer</button>
        <button type="button" class="ghost" data-testid="products" onClick={() => setPanel(panel === 'products' ? 'none' : 'products')}>Product</button>
        <span class="spacer" />
        <button type="submit" data-testid="send">Send</button>
      </div>
    </form>
  );
}

export function ProductGallery({ onPick }: { onPick: (body: MessageBody) => void }) {
  const [q, setQ] = useState('');
  const [brand, setBrand] = useState('');
  const [category, setCategory] = useState('');
  const [gallery, setGallery] = useState<Gallery | null>(null);
  useEffect(() => {
    api.products({ q, brand, category }).then(setGallery).catch(() => {});
  }, [q, brand, category]);
  return (
    <div class="picker gallery" data-testid="product-gallery">
      <div class="row">
        <input type="search" placeholder="Search products" aria-label="Search products" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        <select aria-label="Brand" value={brand} onChange={(e) => setBrand((e.target as HTMLSelectElement).value)}>
          <option value="">All brands</option>
          {gallery?.brands.map((b) => <option>{b}</option>)}
        </select>
        <select aria-label="Category" value={category} onChange={(e) => setCategory((e.target as HTMLSelectElement).value)}>
          <option value="">All categories</option>
          {gallery?.categories.map((c) => <option>{c}</option>)}
        </select>
      </div>
      <ul>
        {gallery?.products.map((p) => (
          <li>
            <button type="button" data-product-id={p.product_id} onClick={() => onPick({ kind: 'product', name: p.name, brand: p.brand, price: p.price, image_url: p.image_url ?? null, url: p.url })}>
              <b>{p.name}</b> <span class="muted">{p.brand} · {p.category} · {p.price}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A proactive chat from a visitor's details (C2). */
export function StartChat({ hub, visitorId, onOpen, onStarted }: { hub: Hub; visitorId: string; onOpen: (id: string) => void; onStarted: (visitorId: string) => void }) {
  const [text, setText] = useState('');
  const open = [...hub.state.conversations.values()].find((c) => c.visitor_id === visitorId);
  if (open) return <button data-testid="open-chat" onClick={() => onOpen(open.conversation_id)}>Open chat</button>;
  return (
    <form class="start-chat" onSubmit={(e) => {
      e.preventDefault();
      if (!text.trim()) return;
      hub.start(visitorId, { kind: 'text', text: text.trim() });
      onStarted(visitorId);
      setText('');
    }}>
      <textarea data-testid="proactive-text" aria-label="Message to the visitor" placeholder="Say hello to this visitor…" value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <button type="submit" data-testid="start-chat">Start chat</button>
    </form>
  );
}

export type { ChatMessage };
