// The chat console (C1–C13): folders (Pending for everyone, Active for mine, Closed
// history with search), the conversation with its actions (take, transfer, block, end,
// reopen, minimise, open the visitor's page) and the composer (emoji, canned responses
// with a "/" picker, images, offers, product cards).
import type { RefObject } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { CannedResponse, ChatMessage, ConversationSummary, MessageBody, Offer, Site } from '../../shared/protocol';
import { MAX_MESSAGE_CHARS } from '../../shared/protocol';
import { safeHref } from '../../shared/text';
import { api, type FoundConversation, type Gallery, type Me } from './api';
import { useDialog } from './dialog';
import { EmojiPicker } from './emoji';
import { lang, t } from './i18n';
import { ErrorLine } from './error-line';
import type { Hub } from './live';
import { MessageList } from './messages';
import { VisitorPanel } from './visitor';
import { productBody } from './contact';

type Folder = 'pending' | 'active' | 'closed';

export function contactLabel(c: ConversationSummary): string {
  return c.contact.name || c.contact.email || t('chats.visitor', { id: c.visitor_id.slice(0, 8) });
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

  // The store's search, and what the hub said closed meanwhile (its write may still be on
  // its way): the newer of the two for each conversation.
  const closedNow = new Map(closed.map((c) => [c.conversation_id, c]));
  const q = query.trim().toLowerCase();
  for (const c of hub.state.closed.values()) {
    const matches = !q || [c.contact.name, c.contact.email, c.preview].some((x) => x?.toLowerCase().includes(q));
    const known = closedNow.get(c.conversation_id);
    if ((siteFilter === '' || siteFilter === site.site_key) && matches && (!known || known.updated_at < c.updated_at)) {
      closedNow.set(c.conversation_id, { ...c, site_key: site.site_key, site_name: site.name });
    }
  }
  const closedList = [...closedNow.values()].sort((a, b) => b.updated_at - a.updated_at);
  const list: ConversationSummary[] = folder === 'pending' ? pending : folder === 'active' ? mine : closedList;
  // Alt+N: the conversation waiting longest, other than the one open.
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (shortcut(e) !== 'next') return;
      e.preventDefault();
      const next = [...pending].sort((a, b) => a.created_at - b.created_at).find((c) => c.conversation_id !== openId);
      if (!next) return;
      setFolder('pending');
      onOpen(next.conversation_id);
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [pending.map((c) => c.conversation_id).join(), openId]);
  return (
    <main class="chat">
      <section class="folders" aria-label={t('chats.conversations')}>
        <div class="tabs" role="tablist">
          {(['pending', 'active', 'closed'] as Folder[]).map((f) => (
            <button role="tab" aria-selected={folder === f} data-testid={`folder-${f}`} onClick={() => setFolder(f)}>
              {t(`folder.${f}`)}
              {f !== 'closed' && <span class="count" data-testid={`count-${f}`}>{f === 'pending' ? pending.length : mine.length}</span>}
              {f !== 'closed' && (f === 'pending' ? pending : mine).some((c) => c.unread > 0) && <span class="unread" />}
            </button>
          ))}
        </div>
        {folder === 'closed' && (
          <form class="search" onSubmit={(e) => (e.preventDefault(), loadClosed())}>
            <input type="search" placeholder={t('chats.searchPlaceholder')} aria-label={t('chats.search')} value={query} onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
            {me.sites.length > 1 && (
              <select aria-label={t('header.site')} value={siteFilter} onChange={(e) => setSiteFilter((e.target as HTMLSelectElement).value)}>
                <option value="">{t('chats.allSites')}</option>
                {me.sites.map((s) => <option value={s.site_key}>{s.name}</option>)}
              </select>
            )}
            <button type="submit">{t('chats.searchButton')}</button>
          </form>
        )}
        <ul class="conv-list" data-testid="conversation-list">
          {list.length === 0 && <li class="empty">{t('chats.empty')}</li>}
          {list.map((c) => (
            <li class={`conv ${c.conversation_id === openId ? 'selected' : ''}`} data-conversation-id={c.conversation_id} onClick={() => onOpen(c.conversation_id)}>
              <b>{contactLabel(c)}</b>
              {c.unread > 0 && <span class="unread-count" data-testid="unread" aria-label={t('chats.unread', { count: c.unread })}>{c.unread > 99 ? '99+' : c.unread}</span>}
              {c.proactive && <span class="badge">{t('chats.proactive')}</span>}
              <div class="muted">{c.preview}</div>
            </li>
          ))}
        </ul>
      </section>
      {openId ? (
        <Conversation key={openId} me={me} site={site} hub={hub} id={openId} fallback={closedList.find((c) => c.conversation_id === openId)} onClose={() => onOpen(null)} />
      ) : (
        <div class="empty" data-testid="shortcuts">
          <p>{t('chats.pick')}</p>
          <h3>{t('shortcuts.title')}</h3>
          <dl class="shortcuts">{SHORTCUTS.map((s) => <><dt><kbd>{s.keys}</kbd></dt><dd>{t(`shortcuts.${s.key}`)}</dd></>)}</dl>
        </div>
      )}
    </main>
  );
}

function Conversation({ me, site, hub, id, fallback, onClose }: { me: Me; site: Site; hub: Hub; id: string; fallback?: ConversationSummary; onClose: () => void }) {
  const live = hub.state.conversations.get(id);
  const [stored, setStored] = useState<ConversationSummary | null>(null);
  const [minimised, setMinimised] = useState(false);
  const [confirm, setConfirm] = useState<'block' | 'end' | null>(null);
  // The hub's word first: a conversation it just closed may not be in the store yet.
  const summary = live ?? hub.state.closed.get(id) ?? stored ?? fallback ?? null;
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

  // The visitor beside the conversation (where they are, their pages, a call button),
  // shown unless the agent hid it; the choice is kept for the next conversations.
  const [side, setSide] = useState(localStorage.getItem('vitrine:side-panel') !== 'hidden');
  const showSide = (on: boolean) => {
    localStorage.setItem('vitrine:side-panel', on ? 'shown' : 'hidden');
    setSide(on);
  };
  // Keyboard (shown in the "Shortcuts" list): take, end (asks first), write.
  const composer = useRef<HTMLTextAreaElement>(null);
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const key = shortcut(e);
      if (!key || !summary) return;
      if (key === 'take' && summary.status === 'pending') hub.send({ type: 'take', conversation_id: id });
      else if (key === 'end' && summary.status !== 'closed' && (summary.status === 'pending' || mineActive)) setConfirm('end');
      else if (key === 'reply') composer.current?.focus();
      else return;
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [summary?.status, mineActive]);

  const gone = hub.state.gone.get(id);
  if (gone !== undefined && !live) {
    // A colleague has it now: say so, offer nothing that would fail.
    return (
      <section class="conversation" aria-label={t('chats.conversation')} data-testid="conversation" data-status="gone">
        <header>
          <h2>{summary ? contactLabel(summary) : t('chats.conversation')}</h2>
          <span class="spacer" />
          <button class="ghost" aria-label={t('chats.close')} onClick={onClose}>✕</button>
        </header>
        <p class="notice" role="status" data-testid="conversation-gone">
          {gone ? t('chats.goneTo', { name: gone.name }) : t('chats.goneColleague')} {t('chats.goneNotInFolders')}
        </p>
        <Unsent hub={hub} id={id} />
      </section>
    );
  }
  if (!summary) return <p class="empty">{t('common.loading')}</p>;
  const act = (frame: Parameters<Hub['send']>[0]) => hub.send(frame);
  const error = hub.state.errors.get(id);
  return (
    <>
    <section class={`conversation ${minimised ? 'minimised' : ''}`} aria-label={t('chats.conversation')} data-testid="conversation" data-status={summary.status}>
      <header>
        <h2>{contactLabel(summary)}</h2>
        <span class={`status ${summary.status}`} data-testid="conversation-status" data-value={summary.status}>{t(`folder.${summary.status}`)}</span>
        {summary.contact.email && <span class="muted">{summary.contact.email}</span>}
        <span class="spacer" />
        {visitor && safeHref(visitor.page.url) && (
          <a class="button ghost" data-testid="open-visitor-page" href={safeHref(visitor.page.url)} target="_blank" rel="noopener noreferrer">{t('chats.openPage')}</a>
        )}
        {summary.status === 'pending' && <button data-testid="take" aria-keyshortcuts="Alt+T" title={`${t('chats.take')} (Alt+T)`} onClick={() => act({ type: 'take', conversation_id: id })}>{t('chats.take')}</button>}
        {mineActive && targets.length > 0 && (
          <select data-testid="transfer" aria-label={t('chats.transferTo')} value="" onChange={(e) => {
            const to = (e.target as HTMLSelectElement).value;
            if (to) act({ type: 'transfer', conversation_id: id, to_agent_id: to });
          }}>
            <option value="">{t('chats.transferTo')}…</option>
            {targets.map((a) => <option value={a.agent_id}>{a.expert ? t('chats.expert', { name: a.name }) : a.name}</option>)}
          </select>
        )}
        {confirm === 'block' ? (
          <Confirm question={t('chats.blockQuestion')} action={t('chats.block')} testId="block-confirm"
            onYes={() => (act({ type: 'block', visitor_id: summary.visitor_id, blocked: true }), setConfirm(null))} onNo={() => setConfirm(null)} />
        ) : blocked ? (
          <button class="ghost" data-testid="unblock" onClick={() => act({ type: 'block', visitor_id: summary.visitor_id, blocked: false })}>{t('chats.unblock')}</button>
        ) : (
          <button class="ghost" data-testid="block" onClick={() => setConfirm('block')}>{t('chats.block')}</button>
        )}
        {summary.status === 'closed' ? (
          <button data-testid="reopen" onClick={() => (hub.clearError(id), act({ type: 'reopen', conversation_id: id }))}>{t('chats.reopen')}</button>
        ) : confirm === 'end' ? (
          <Confirm question={t('chats.endQuestion')} action={t('chats.end')} testId="end-confirm"
            onYes={() => (act({ type: 'end', conversation_id: id }), setConfirm(null))} onNo={() => setConfirm(null)} />
        ) : (
          <button data-testid="end" aria-keyshortcuts="Alt+X" title={`${t('chats.end')} (Alt+X)`} onClick={() => setConfirm('end')}>{t('chats.end')}</button>
        )}
        <button class="ghost" data-testid="toggle-side-panel" aria-pressed={side} onClick={() => showSide(!side)}>{t('chats.visitorPanel')}</button>
        <button class="ghost" data-testid="minimise" aria-pressed={minimised} onClick={() => setMinimised(!minimised)}>{t(minimised ? 'chats.restore' : 'chats.minimise')}</button>
        <button class="ghost" aria-label={t('chats.close')} onClick={onClose}>✕</button>
      </header>
      {!minimised && (
        <>
          {error && <ErrorLine text={error} testId="conversation-error" onDismiss={() => hub.clearError(id)} />}
          <MessageList messages={messages} />
          <Unsent hub={hub} id={id} />
          {draft && <p class="draft" data-testid="typing-preview" title={t('chats.draft')}>{draft}</p>}
          {summary.status !== 'closed' && (summary.status === 'pending' || mineActive) && <Composer id={id} hub={hub} input={composer} />}
        </>
      )}
    </section>
    {side && (
      <VisitorPanel site={site} visitorId={summary.visitor_id} live={visitor} hub={hub} me={me.agent} label={t('chats.visitorPanel')} testId="side-panel" onClose={() => showSide(false)}
        onSend={summary.status !== 'closed' && (summary.status === 'pending' || mineActive) ? (body) => hub.say(id, body) : undefined}>
        {(summary.contact.name || summary.contact.email) && (
          <p class="contact">{summary.contact.name}{summary.contact.name && summary.contact.email ? ' · ' : ''}{summary.contact.email}</p>
        )}
      </VisitorPanel>
    )}
    </>
  );
}

export type Shortcut = 'next' | 'take' | 'end' | 'reply';

/** The console's keys: Alt plus a letter, read by its physical key so they work on every
 *  keyboard layout (and with macOS's Option, which types accented letters). */
export const SHORTCUTS: { key: Shortcut; keys: string }[] = [
  { key: 'next', keys: 'Alt+N' },
  { key: 'take', keys: 'Alt+T' },
  { key: 'end', keys: 'Alt+X' },
  { key: 'reply', keys: 'Alt+R' },
];

export function shortcut(e: KeyboardEvent): Shortcut | null {
  if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return null;
  return ({ KeyN: 'next', KeyT: 'take', KeyX: 'end', KeyR: 'reply' } as const)[e.code as 'KeyN'] ?? null;
}

/** An inline question before an action that cannot be undone in one click: it takes the
 *  keyboard (Esc says no) and gives it back after. */
function Confirm({ question, action, testId, onYes, onNo }: { question: string; action: string; testId: string; onYes: () => void; onNo: () => void }) {
  const ref = useDialog<HTMLSpanElement>(onNo);
  return (
    <span class="confirm" role="alertdialog" aria-label={question} ref={ref}>
      {question}
      <button data-testid={testId} onClick={onYes}>{action}</button>
      <button class="ghost" onClick={onNo}>{t('common.cancel')}</button>
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
            <span class="why">{t('chats.notSent', { reason: o.refused })} <button class="link" onClick={() => hub.discard(o.client_id)}>{t('chats.discard')}</button></span>
          </p>
        ) : (
          <p class="msg agent sending">{text} · {t('chats.sending')}</p>
        );
      })}
    </>
  );
}

function Composer({ id, hub, input }: { id: string; hub: Hub; input: RefObject<HTMLTextAreaElement> }) {
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
    const trimmed = text.trim();
    if (!trimmed) return;
    if (trimmed.length > MAX_MESSAGE_CHARS) return setError(t('chats.tooLong', { max: MAX_MESSAGE_CHARS }));
    send({ kind: 'text', text: trimmed });
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
        <ul class="picker" id={`canned-${id}`} role="listbox" aria-label={t('chats.canned')} data-testid="canned-picker">
          {matches.length === 0 && <li class="muted">{t('chats.noCanned', { slash })}</li>}
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
      {panel === 'emoji' && (
        <EmojiPicker lang={lang} onPick={(e) => { setText((t) => t + e); setTyping(true); }}
          onClose={() => { setPanel('none'); input.current?.focus(); }} />
      )}
      {panel === 'offers' && (
        <ul class="picker" data-testid="offer-picker">
          {offers.length === 0 && <li class="muted">{t('chats.noOffers')}</li>}
          {offers.map((o) => <li><button type="button" onClick={() => send({ kind: 'offer', title: o.title, text: o.text, image_url: o.image_url ?? null, link_url: o.link_url })}>{o.title}</button></li>)}
        </ul>
      )}
      {panel === 'products' && <ProductGallery onPick={(body) => send(body)} />}
      {error && <p class="error" role="alert">{error}</p>}
      <textarea
        ref={input}
        aria-keyshortcuts="Alt+R"
        data-testid="composer"
        aria-label={t('chats.message')}
        placeholder={t('chats.messagePlaceholder')}
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
        <button type="button" class="ghost" aria-label={t('emoji.label')} aria-expanded={panel === 'emoji'} data-testid="emoji" onClick={() => setPanel(panel === 'emoji' ? 'none' : 'emoji')}>😊</button>
        <label class="button ghost">{t('chats.image')}<input type="file" accept="image/png,image/jpeg,image/gif,image/webp" hidden onChange={(e) => upload((e.target as HTMLInputElement).files?.[0])} /></label>
        <button type="button" class="ghost" data-testid="offers" onClick={() => setPanel(panel === 'offers' ? 'none' : 'offers')}>{t('chats.offer')}</button>
        <button type="button" class="ghost" data-testid="products" onClick={() => setPanel(panel === 'products' ? 'none' : 'products')}>{t('chats.product')}</button>
        <span class="spacer" />
        <button type="submit" data-testid="send">{t('chats.send')}</button>
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
        <input type="search" placeholder={t('products.search')} aria-label={t('products.search')} value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        <select aria-label={t('products.brand')} value={brand} onChange={(e) => setBrand((e.target as HTMLSelectElement).value)}>
          <option value="">{t('products.allBrands')}</option>
          {gallery?.brands.map((b) => <option>{b}</option>)}
        </select>
        <select aria-label={t('products.category')} value={category} onChange={(e) => setCategory((e.target as HTMLSelectElement).value)}>
          <option value="">{t('products.allCategories')}</option>
          {gallery?.categories.map((c) => <option>{c}</option>)}
        </select>
      </div>
      <ul>
        {gallery?.products.map((p) => (
          <li>
            <button type="button" data-product-id={p.product_id} onClick={() => onPick(productBody(p))}>
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
  if (open) return <button data-testid="open-chat" onClick={() => onOpen(open.conversation_id)}>{t('start.open')}</button>;
  return (
    <form class="start-chat" onSubmit={(e) => {
      e.preventDefault();
      if (!text.trim()) return;
      hub.start(visitorId, { kind: 'text', text: text.trim() });
      onStarted(visitorId);
      setText('');
    }}>
      <textarea data-testid="proactive-text" aria-label={t('start.label')} placeholder={t('start.placeholder')} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <button type="submit" data-testid="start-chat">{t('start.button')}</button>
    </form>
  );
}

export type { ChatMessage };
