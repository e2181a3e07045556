// The agent portal: sign in, watch the site's visitors live, open a visitor's details,
// chat (chat.tsx), and for admins manage sites, agents and content (admin.tsx).
import { render } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import type { AccountChoice, LiveVisitor, VisitorDetails } from '../../shared/protocol';
import { safeHref } from '../../shared/text';
import { Admin } from './admin';
import { api, type Me } from './api';
import { ChatConsole, StartChat } from './chat';
import { CallActions, CallPanel } from './call';
import { duration, GENERAL, useHub, useNow, type Hub, type Notice } from './live';
import { ErrorLine } from './error-line';

function App() {
  const [me, setMe] = useState<Me | null | false>(null);
  const refresh = () =>
    api.session().then((s) => setMe(s.me ?? false)).catch(() => window.setTimeout(refresh, 2000));
  useEffect(() => void refresh(), []);
  if (me === null) return <p class="empty">Loading…</p>;
  if (me === false) return <Login onDone={refresh} />;
  if (me.must_change_password)
    return <ChoosePassword forced onDone={refresh} onCancel={() => api.logout().finally(() => setMe(false))} />;
  return <Console me={me} onSignOut={() => api.logout().finally(() => setMe(false))} onChanged={refresh} />;
}

function Login({ onDone }: { onDone: () => void }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  // A person who is an agent of several accounts picks one.
  const [choices, setChoices] = useState<AccountChoice[] | null>(null);
  const signIn = async (form: HTMLFormElement, account?: string) => {
    const data = new FormData(form);
    setBusy(true);
    setError('');
    try {
      const answer = await api.login(String(data.get('email')), String(data.get('password')), account);
      signedInWith = String(data.get('password'));
      if (answer.outcome === 'choose_account') setChoices(answer.accounts);
      else onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="login" onSubmit={(e) => { e.preventDefault(); void signIn(e.target as HTMLFormElement); }}>
      <h1>Vitrine — sign in</h1>
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="username" required />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      {choices && (
        <fieldset class="accounts" data-testid="choose-account">
          <legend>Which account?</legend>
          {choices.map((c) => (
            <button type="button" class="ghost" disabled={busy}
              onClick={(e) => void signIn((e.target as HTMLElement).closest('form')!, c.account_id)}>
              {c.name} <span class="muted">({c.role})</span>
            </button>
          ))}
        </fieldset>
      )}
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

/** The password just typed at sign-in, so a one-time one need not be typed twice. */
let signedInWith: string | null = null;

/** The person's own password: forced after signing in with an invitation's one-time
 *  password (nothing else works until then), or chosen from the header any time. */
function ChoosePassword({ forced = false, onDone, onCancel }: { forced?: boolean; onDone: () => void; onCancel: () => void }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const knownCurrent = forced ? signedInWith : null;
  const submit = async (form: HTMLFormElement) => {
    const data = new FormData(form);
    const next = String(data.get('new'));
    if (next !== String(data.get('repeat'))) return setError('The two new passwords differ.');
    if ([...next].length < MIN_PASSWORD_CHARS) return setError(`Choose at least ${MIN_PASSWORD_CHARS} characters.`);
    setBusy(true);
    setError('');
    try {
      await api.changePassword(knownCurrent ?? String(data.get('current')), next);
      signedInWith = null;
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="login" data-testid="choose-password" onSubmit={(e) => { e.preventDefault(); void submit(e.target as HTMLFormElement); }}>
      <h1>{forced ? 'Choose your password' : 'Change your password'}</h1>
      {forced && <p class="muted">The password you were given works only once. Choose your own to continue.</p>}
      {!knownCurrent && (
        <>
          <label for="current">{forced ? 'The password you were given' : 'Current password'}</label>
          <input id="current" name="current" type="password" autocomplete="current-password" required />
        </>
      )}
      <label for="new">New password (at least {MIN_PASSWORD_CHARS} characters)</label>
      <input id="new" name="new" type="password" autocomplete="new-password" minLength={MIN_PASSWORD_CHARS} required />
      <label for="repeat">New password again</label>
      <input id="repeat" name="repeat" type="password" autocomplete="new-password" required />
      <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save password'}</button>
      <button type="button" class="ghost" onClick={onCancel}>{forced ? 'Sign out' : 'Cancel'}</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

/** The API's minimum (lambdas::auth::MIN_PASSWORD_CHARS), checked here first to say it sooner. */
const MIN_PASSWORD_CHARS = 10;

type Page = 'visitors' | 'chats' | 'admin' | 'password';

/** A short chime (WebAudio, no asset) for new chats (C13). */
function chime() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.4);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
  } catch {
    /* no audio: the menu still shows it */
  }
}

function Console({ me, onSignOut, onChanged }: { me: Me; onSignOut: () => void; onChanged: () => void }) {
  const [siteKey, setSiteKey] = useState<string | null>(me.sites[0]?.site_key ?? null);
  const [available, setAvailable] = useState(localStorage.getItem('vitrine:available') !== 'false');
  const [selected, setSelected] = useState<string | null>(null);
  // V4 "select users": a set of visitors to call together (null = not selecting).
  const [picked, setPicked] = useState<Set<string> | null>(null);
  const [fullscreen, setFullscreen] = useState(false);
  const [page, setPage] = useState<Page>('visitors');
  const [openConversation, setOpenConversation] = useState<string | null>(null);
  const [notices, setNotices] = useState<Notice[]>([]);
  const [seen, setSeen] = useState(0);
  const [menu, setMenu] = useState(false);
  const notify = (n: Notice) => {
    setNotices((list) => [n, ...list].slice(0, 30));
    chime();
    if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
      new Notification('Vitrine', { body: n.text });
    }
  };
  const hub = useHub(siteKey, me.agent.agent_id, available, notify);
  const live = hub.state;
  const now = useNow() + live.clockOffset;
  const site = me.sites.find((s) => s.site_key === siteKey) ?? null;

  useEffect(() => localStorage.setItem('vitrine:available', String(available)), [available]);
  // Full screen: a row's details open over the list; Esc closes them, then full screen.
  // A layout effect: registered before the next key press, not after the next frame.
  useLayoutEffect(() => {
    if (!fullscreen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return;
      if (selected) setSelected(null);
      else setFullscreen(false);
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [fullscreen, selected]);
  useEffect(() => {
    if (live.connection === 'signed-out') onSignOut();
  }, [live.connection]);
  // A proactive chat opens as soon as the hub has created it.
  const [startedWith, setStartedWith] = useState<string | null>(null);
  useEffect(() => {
    const started = [...live.conversations.values()].find((c) => c.visitor_id === startedWith && c.owner?.agent_id === me.agent.agent_id);
    if (started) {
      setStartedWith(null);
      openChat(started.conversation_id);
    }
  }, [live.conversations, startedWith]);

  const visitors = [...live.visitors.values()].sort(
    // Online first; then longest time on site first (P1).
    (a, b) => Number(a.status === 'offline') - Number(b.status === 'offline') || a.visit_started_at - b.visit_started_at,
  );
  const online = visitors.filter((v) => v.status !== 'offline').length;
  const chosen = selected ? live.visitors.get(selected) : undefined;
  const openChat = (id: string) => {
    setOpenConversation(id);
    setPage('chats');
  };
  const pendingCount = [...live.conversations.values()].filter((c) => c.status === 'pending').length;
  const unseen = notices.length - seen;

  return (
    <>
      <header class="top">
        <h1>Vitrine</h1>
        {me.sites.length > 1 && (
          <select aria-label="Site" value={siteKey ?? ''} onChange={(e) => setSiteKey((e.target as HTMLSelectElement).value)}>
            {me.sites.map((s) => <option value={s.site_key}>{s.name}</option>)}
          </select>
        )}
        <nav class="pages">
          <button aria-pressed={page === 'visitors'} data-testid="page-visitors" onClick={() => setPage('visitors')}>Visitors</button>
          <button aria-pressed={page === 'chats'} data-testid="page-chats" onClick={() => setPage('chats')}>
            Chats {pendingCount > 0 && <span class="count" data-testid="pending-badge">{pendingCount}</span>}
          </button>
          {me.agent.role === 'admin' && <button aria-pressed={page === 'admin'} data-testid="page-admin" onClick={() => setPage('admin')}>Admin</button>}
        </nav>
        <span class={`conn ${live.connection === 'live' ? '' : 'down'}`} data-testid="connection">
          {live.connection === 'live' ? '● live' : live.connection === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
        <span class="spacer" />
        <div class="notices">
          <button class="ghost" data-testid="notifications" aria-expanded={menu} aria-label={`Notifications (${unseen} new)`} onClick={() => {
            setMenu(!menu);
            setSeen(notices.length);
            if ('Notification' in window && Notification.permission === 'default') void Notification.requestPermission();
          }}>🔔{unseen > 0 && <span class="count">{unseen}</span>}</button>
          {menu && (
            <ul class="menu" data-testid="notification-menu">
              {notices.length === 0 && <li class="muted">No notifications.</li>}
              {notices.map((n) => (
                <li><button class="ghost" onClick={() => (n.conversationId && openChat(n.conversationId), setMenu(false))}>{new Date(n.at).toLocaleTimeString()} — {n.text}</button></li>
              ))}
            </ul>
          )}
        </div>
        <label class="switch">
          <input type="checkbox" data-testid="availability" checked={available} onChange={(e) => setAvailable((e.target as HTMLInputElement).checked)} />
          {available ? 'Available' : 'Away'}
        </label>
        {live.availability && (
          <span class="muted">{live.availability.agents_online} agent{live.availability.agents_online === 1 ? '' : 's'} online</span>
        )}
        <span class="muted">{me.agent.name}</span>
        <button class="ghost" data-testid="page-password" aria-pressed={page === 'password'} onClick={() => setPage('password')}>Password</button>
        <button class="ghost" onClick={onSignOut}>Sign out</button>
      </header>
      {live.errors.has(GENERAL) && (
        <div class="page-error"><ErrorLine text={live.errors.get(GENERAL)!} testId="hub-error" onDismiss={() => hub.clearError()} /></div>
      )}
      {page === 'password' ? (
        <ChoosePassword onDone={() => setPage('visitors')} onCancel={() => setPage('visitors')} />
      ) : page === 'admin' ? (
        <Admin onChanged={onChanged} />
      ) : !siteKey || !site ? (
        <p class="empty">You are not assigned to any chat yet{me.agent.role === 'admin' ? ': create one under Admin.' : '. Ask an admin.'}</p>
      ) : page === 'chats' ? (
        <ChatConsole me={me} site={site} hub={hub} openId={openConversation} onOpen={setOpenConversation} />
      ) : (
        <main class={chosen ? '' : 'no-details'}>
          <section class={`list ${fullscreen ? 'fullscreen' : ''}`} aria-label="Visitors on the site now">
            <div class="list-head">
              <h2>Visitors now <span class="muted" data-testid="online-count">{online}</span></h2>
              <span class="spacer" style="flex:1" />
              {live.calls.available && live.calls.enabled && (
                <SelectUsers hub={hub} picked={picked} setPicked={setPicked} />
              )}
              <button class="ghost" data-testid="fullscreen" aria-pressed={fullscreen} onClick={() => setFullscreen(!fullscreen)}>
                {fullscreen ? 'Exit full screen' : 'Full screen'}
              </button>
            </div>
            {visitors.length === 0 ? (
              <p class="empty">Nobody on the site right now. Open the demo shop in another window.</p>
            ) : (
              <table>
                <thead>
                  <tr>{picked && <th aria-label="Select" />}<th>Visitor</th><th>Location</th><th>Current page</th><th>On page</th><th>On site</th></tr>
                </thead>
                <tbody>
                  {visitors.map((v) => (
                    <VisitorRow v={v} now={now} selected={v.visitor_id === selected} onSelect={() => setSelected(v.visitor_id)}
                      picked={picked} onPick={(on) => setPicked((p) => {
                        const next = new Set(p);
                        if (on) next.add(v.visitor_id); else next.delete(v.visitor_id);
                        return next;
                      })} />
                  ))}
                </tbody>
              </table>
            )}
          </section>
          {chosen && <Details site={siteKey} visitor={chosen} hub={hub} onOpenChat={openChat} onStarted={setStartedWith} onClose={() => setSelected(null)} />}
          <CallPanel hub={hub} />
        </main>
      )}
    </>
  );
}

function place(v: LiveVisitor): string {
  const parts = [v.location.city, v.location.country].filter(Boolean);
  return parts.length ? parts.join(', ') : 'unknown';
}

/** Most visitors one group call may invite: 10 plus the agent (V4). */
const MAX_CALL_GUESTS = 10;

/** "Select users": pick up to ten visitors in the list, then call them all at once (V4),
 *  or invite them to the running call (V5). */
function SelectUsers({ hub, picked, setPicked }: { hub: Hub; picked: Set<string> | null; setPicked: (p: Set<string> | null) => void }) {
  const call = hub.state.call;
  if (!picked) {
    return <button class="ghost" data-testid="select-users" onClick={() => setPicked(new Set())}>Select users</button>;
  }
  const ids = [...picked].filter((id) => hub.state.visitors.has(id));
  const go = () => {
    if (call) hub.send({ type: 'call_add', call_id: call.call_id, visitor_ids: ids });
    else hub.send({ type: 'call_start', visitor_ids: ids });
    setPicked(null);
  };
  return (
    <span class="select-users">
      <span class="muted" data-testid="picked-count">{ids.length} of {MAX_CALL_GUESTS} selected</span>
      <button data-testid="call-selected" disabled={ids.length === 0} onClick={go}>{call ? 'Add and invite guests' : 'Start video call'}</button>
      <button class="ghost" onClick={() => setPicked(null)}>Cancel</button>
    </span>
  );
}

/** Status in words beside its shape (colour alone tells nothing to some agents). */
const STATUS_WORD: Record<LiveVisitor['status'], string> = { active: 'Active', idle: 'Idle', offline: 'Offline' };

function VisitorRow({ v, now, selected, onSelect, picked, onPick }: {
  v: LiveVisitor; now: number; selected: boolean; onSelect: () => void;
  picked: Set<string> | null; onPick: (on: boolean) => void;
}) {
  const isPicked = picked?.has(v.visitor_id) ?? false;
  // An offline visitor's clocks stop when they left.
  const until = v.status === 'offline' && v.left_at ? v.left_at : now;
  const full = (picked?.size ?? 0) >= MAX_CALL_GUESTS;
  return (
    <tr class={`visitor ${v.status} ${selected ? 'selected' : ''}`} data-visitor-id={v.visitor_id} onClick={onSelect}>
      {picked && (
        <td onClick={(e) => e.stopPropagation()}>
          <input type="checkbox" data-testid="pick" aria-label={`Select visitor ${v.visitor_id.slice(0, 8)}`} checked={isPicked}
            disabled={v.status === 'offline' || v.in_call || (full && !isPicked)}
            onChange={(e) => onPick((e.target as HTMLInputElement).checked)} />
        </td>
      )}
      <td>
        <span class="dot" data-status={v.status} aria-hidden="true" />
        <span class="status-word" data-testid="status-word">{STATUS_WORD[v.status]}</span>
        <span class="id">{v.visitor_id.slice(0, 8)}</span>
        {v.returning && <span class="badge" data-testid="returning" title={`visit ${v.visit_count}`}>returning</span>}
        {v.in_call && <span class="badge incall">in call</span>}
        {v.call_requested && <span class="badge call" title="asks for a call">📞</span>}
        {v.unread > 0 && <span class="unread" title={`${v.unread} unread`} />}
      </td>
      <td data-testid="location">{place(v)}</td>
      <td class="page">
        <a class="page-link" href={safeHref(v.page.url)} target="_blank" rel="noopener noreferrer" onClick={(e) => e.stopPropagation()}>
          {v.page.title || v.page.url}
        </a>
      </td>
      <td data-testid="time-on-page">{duration(until - v.page.opened_at)}</td>
      <td data-testid="time-on-site">{duration(until - v.visit_started_at)}</td>
    </tr>
  );
}

function Details({ site, visitor, hub, onOpenChat, onStarted, onClose }: { site: string; visitor: LiveVisitor; hub: Hub; onOpenChat: (id: string) => void; onStarted: (visitorId: string) => void; onClose: () => void }) {
  const [details, setDetails] = useState<VisitorDetails | null>(null);
  const [error, setError] = useState('');
  // Reload when the visitor opens another page, so the history stays current.
  useEffect(() => {
    let cancelled = false;
    api.visitor(site, visitor.visitor_id)
      .then((d) => !cancelled && (setDetails(d), setError('')))
      .catch((e) => !cancelled && setError(e.message));
    return () => void (cancelled = true);
  }, [site, visitor.visitor_id, visitor.page_views_this_visit, visitor.visit_count]);

  return (
    <aside class="details" aria-label="Visitor details" data-testid="details">
      <div style="display:flex;align-items:center">
        <h2 style="flex:1">Visitor <span class="id">{visitor.visitor_id.slice(0, 8)}</span></h2>
        <button class="ghost" onClick={onClose} aria-label="Close details">✕</button>
      </div>
      <p class="muted">{place(visitor)} · {visitor.status}</p>
      {hub.state.blocked.has(visitor.visitor_id) ? <p class="notice">Blocked on this site.</p> : <StartChat hub={hub} visitorId={visitor.visitor_id} onOpen={onOpenChat} onStarted={onStarted} />}
      {!hub.state.blocked.has(visitor.visitor_id) && <CallActions hub={hub} visitor={visitor} />}
      {error && <p class="error">{error}</p>}
      {details && (
        <>
          <div class="stats">
            <div class="stat"><b data-testid="visit-count">{details.visit_count}</b>visits</div>
            <div class="stat"><b data-testid="page-view-count">{details.page_view_count}</b>page views</div>
            <div class="stat"><b>{new Date(details.first_seen_at).toLocaleDateString()}</b>first seen</div>
          </div>
          <h3>Browsing history</h3>
          <ol class="history" data-testid="history">
            {details.page_views.map((p) => (
              <li>
                <a href={safeHref(p.url)} target="_blank" rel="noopener noreferrer">{p.title || p.url}</a>
                <br />
                <time>{new Date(p.at).toLocaleString()}</time>
              </li>
            ))}
          </ol>
        </>
      )}
    </aside>
  );
}

render(<App />, document.getElementById('app')!);
