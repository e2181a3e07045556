// The agent portal: sign in, watch the site's visitors live, open a visitor's details,
// chat (chat.tsx), and for admins manage sites, agents and content (admin.tsx).
import { render } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import type { AccountChoice, InvitationView, LiveVisitor, TranscriptConfirmation } from '../../shared/protocol';
import { safeHref } from '../../shared/text';
import { Admin } from './admin';
import { api, ApiError, type Me } from './api';
import { ChatConsole, StartChat } from './chat';
import { MyTasks } from './contact';
import { CallPanel } from './call';
import { Mirror } from './mirror';
import { place, VisitorPanel } from './visitor';
import { GENERAL, useHub, useNow, type Hub, type Notice } from './live';
import { chosenLanguage, duration, setLanguage, t, time } from './i18n';
import { LANGUAGE_NAMES, LANGUAGES, type Language } from '../../shared/i18n';
import { ErrorLine } from './error-line';

function App() {
  const [me, setMe] = useState<Me | null | false>(null);
  // Changing the language redraws everything in it (without reconnecting anything).
  const [, redraw] = useState(0);
  const onLanguage = (choice: Language | null) => { setLanguage(choice); redraw((n) => n + 1); };
  const refresh = () =>
    api.session().then((s) => setMe(s.me ?? false)).catch(() => window.setTimeout(refresh, 2000));
  useEffect(() => void refresh(), []);
  // A link from an e-mail (or passed on by an admin): an invitation or a password reset.
  const linkOf = () => /^#(invite|reset|transcript)=([0-9a-f]{16,128})$/.exec(location.hash);
  const [link, setLink] = useState(linkOf);
  // Another link opened in this tab changes only the fragment: no page load.
  useEffect(() => {
    const opened = () => setLink(linkOf());
    addEventListener('hashchange', opened);
    return () => removeEventListener('hashchange', opened);
  }, []);
  const leaveLink = () => { history.replaceState(null, '', location.pathname); setLink(null); void refresh(); };
  if (link?.[1] === 'invite') return <AcceptInvitation token={link[2]} onDone={leaveLink} />;
  if (link?.[1] === 'reset') return <ResetPassword token={link[2]} onDone={leaveLink} />;
  if (link?.[1] === 'transcript') return <ConfirmTranscript token={link[2]} />;
  if (me === null) return <p class="empty">{t('common.loading')}</p>;
  if (me === false) return <Login onDone={refresh} />;
  return <Console me={me} onSignOut={() => api.logout().finally(() => setMe(false))} onChanged={refresh} onLanguage={onLanguage} />;
}

/** The agent's language: the browser's, or one they choose (kept in this browser). */
function LanguagePicker({ onChange }: { onChange: (choice: Language | null) => void }) {
  return (
    <select aria-label={t('header.language')} data-testid="language" value={chosenLanguage() ?? ''}
      onChange={(e) => onChange(((e.target as HTMLSelectElement).value || null) as Language | null)}>
      <option value="">{t('header.browserLanguage')}</option>
      {LANGUAGES.map((l) => <option value={l} lang={l}>{LANGUAGE_NAMES[l]}</option>)}
    </select>
  );
}

/** Words for an API error: English keeps the API's own, other languages say its code. */
function apiError(err: unknown): string {
  return err instanceof ApiError && (err.code === 'unauthorized' || err.code === 'too_many_attempts')
    ? t(err.code === 'unauthorized' ? 'login.wrong' : 'login.tooMany', { reason: err.message })
    : err instanceof Error ? err.message : String(err);
}

/** A form's submission: busy while it runs, and what went wrong, in words. */
function useSubmit(): { busy: boolean; error: string; setError: (e: string) => void; submit: (action: () => Promise<unknown>) => Promise<void> } {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError('');
    try {
      await action();
    } catch (err) {
      setError(apiError(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, submit };
}

/** What is wrong with a new password and its repetition, if anything (said before asking the API). */
function newPasswordProblem(next: string, repeat: string): string | null {
  if (next !== repeat) return t('password.differ');
  if ([...next].length < MIN_PASSWORD_CHARS) return t('password.tooShort', { min: MIN_PASSWORD_CHARS });
  return null;
}

/** An invitation's link: who invites to what; the invitee chooses a password, or one who
 *  already signs in confirms with theirs. Nothing is granted before. */
function AcceptInvitation({ token, onDone }: { token: string; onDone: () => void }) {
  const [view, setView] = useState<InvitationView | null>(null);
  const { busy, error, setError, submit } = useSubmit();
  useEffect(() => void api.invitation(token).then(setView).catch((e) => setError(apiError(e))), [token]);
  const accept = (form: HTMLFormElement) => {
    const data = new FormData(form);
    const password = String(data.get('password'));
    const problem = view && !view.has_sign_in ? newPasswordProblem(password, String(data.get('repeat'))) : null;
    if (problem) return setError(problem);
    void submit(() => api.acceptInvitation(token, password).then(onDone));
  };
  return (
    <form class="login" data-testid="accept-invitation" onSubmit={(e) => { e.preventDefault(); accept(e.target as HTMLFormElement); }}>
      <h1>{t('invitation.title')}</h1>
      {!view && !error && <p class="empty">{t('common.loading')}</p>}
      {view && (
        <>
          <p>{t('invitation.offer', { inviter: view.invited_by, account: view.account_name, role: t(`admin.role.${view.role}`) })}</p>
          <label for="email">{t('login.email')}</label>
          <input id="email" name="email" type="email" autocomplete="username" value={view.email} readOnly />
          <label for="password">{view.has_sign_in ? t('invitation.yourPassword') : t('password.new', { min: MIN_PASSWORD_CHARS })}</label>
          <input id="password" name="password" type="password" required
            autocomplete={view.has_sign_in ? 'current-password' : 'new-password'} />
          {!view.has_sign_in && (
            <>
              <label for="repeat">{t('password.repeat')}</label>
              <input id="repeat" name="repeat" type="password" autocomplete="new-password" required />
            </>
          )}
          <button type="submit" disabled={busy}>{busy ? t('login.signingIn') : t('invitation.accept')}</button>
        </>
      )}
      <button type="button" class="ghost" onClick={onDone}>{t('invitation.notNow')}</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

/** K3: a visitor typed this address for their chat's transcript; its owner says yes here
 *  (nothing the visitor wrote was sent before). */
function ConfirmTranscript({ token }: { token: string }) {
  const [view, setView] = useState<TranscriptConfirmation | null>(null);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => void api.transcript(token).then(setView).catch((e) => setError(apiError(e))), [token]);
  const send = () => api.confirmTranscript(token).then(() => setSent(true)).catch((e) => setError(apiError(e)));
  return (
    <div class="login" data-testid="confirm-transcript">
      <h1>{t('transcript.title')}</h1>
      {view && !sent && (
        <>
          <p>{t('transcript.question', { site: view.site_name, email: view.email })}</p>
          <button type="button" onClick={() => void send()}>{t('transcript.send')}</button>
        </>
      )}
      {sent && <p role="status">{t('transcript.sent')}</p>}
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}

/** A new password, twice, and the button that saves it. */
function NewPassword({ busy }: { busy: boolean }) {
  return (
    <>
      <label for="new">{t('password.new', { min: MIN_PASSWORD_CHARS })}</label>
      <input id="new" name="new" type="password" autocomplete="new-password" minLength={MIN_PASSWORD_CHARS} required />
      <label for="repeat">{t('password.repeat')}</label>
      <input id="repeat" name="repeat" type="password" autocomplete="new-password" required />
      <button type="submit" disabled={busy}>{busy ? t('common.saving') : t('password.save')}</button>
    </>
  );
}

/** A password reset link: a new password, then sign in with it. */
function ResetPassword({ token, onDone }: { token: string; onDone: () => void }) {
  const [done, setDone] = useState(false);
  const { busy, error, setError, submit } = useSubmit();
  const reset = (form: HTMLFormElement) => {
    const data = new FormData(form);
    const next = String(data.get('new'));
    const problem = newPasswordProblem(next, String(data.get('repeat')));
    if (problem) return setError(problem);
    void submit(() => api.resetPassword(token, next).then(() => setDone(true)));
  };
  if (done)
    return (
      <div class="login" data-testid="reset-done">
        <h1>{t('reset.title')}</h1>
        <p role="status">{t('reset.done')}</p>
        <button type="button" onClick={onDone}>{t('login.signIn')}</button>
      </div>
    );
  return (
    <form class="login" data-testid="reset-password" onSubmit={(e) => { e.preventDefault(); reset(e.target as HTMLFormElement); }}>
      <h1>{t('reset.title')}</h1>
      <NewPassword busy={busy} />
      <button type="button" class="ghost" onClick={onDone}>{t('common.cancel')}</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

function Login({ onDone }: { onDone: () => void }) {
  const { busy, error, setError, submit } = useSubmit();
  // "Forgot your password?": the address a reset link goes to, and whether it was asked.
  const [forgot, setForgot] = useState<'asking' | 'sent' | null>(null);
  // A person who is an agent of several accounts picks one.
  const [choices, setChoices] = useState<AccountChoice[] | null>(null);
  const signIn = async (form: HTMLFormElement, account?: string) => {
    const data = new FormData(form);
    await submit(async () => {
      const answer = await api.login(String(data.get('email')), String(data.get('password')), account);
      if (answer.outcome === 'choose_account') setChoices(answer.accounts);
      else onDone();
    });
  };
  const askReset = async (form: HTMLFormElement) => {
    const email = String(new FormData(form).get('email') ?? '');
    if (!email) return setError(t('reset.emailFirst'));
    await submit(() => api.forgotPassword(email).then(() => setForgot('sent')));
  };
  if (forgot)
    return (
      <form class="login" data-testid="forgot" onSubmit={(e) => { e.preventDefault(); void askReset(e.target as HTMLFormElement); }}>
        <h1>{t('reset.title')}</h1>
        {forgot === 'sent'
          ? <p role="status" data-testid="forgot-sent">{t('reset.sent')}</p>
          : (
            <>
              <p class="muted">{t('reset.explain')}</p>
              <label for="email">{t('login.email')}</label>
              <input id="email" name="email" type="email" autocomplete="username" required />
              <button type="submit" disabled={busy}>{t('reset.send')}</button>
            </>
          )}
        <button type="button" class="ghost" onClick={() => { setForgot(null); setError(''); }}>{t('reset.back')}</button>
        {error && <p class="error" role="alert">{error}</p>}
      </form>
    );
  return (
    <form class="login" onSubmit={(e) => { e.preventDefault(); void signIn(e.target as HTMLFormElement); }}>
      <h1>{t('login.title')}</h1>
      <label for="email">{t('login.email')}</label>
      <input id="email" name="email" type="email" autocomplete="username" required />
      <label for="password">{t('login.password')}</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <button type="submit" disabled={busy}>{busy ? t('login.signingIn') : t('login.signIn')}</button>
      {choices && (
        <fieldset class="accounts" data-testid="choose-account">
          <legend>{t('login.whichAccount')}</legend>
          {choices.map((c) => (
            <button type="button" class="ghost" disabled={busy}
              onClick={(e) => void signIn((e.target as HTMLElement).closest('form')!, c.account_id)}>
              {c.name} <span class="muted">({c.role})</span>
            </button>
          ))}
        </fieldset>
      )}
      <button type="button" class="ghost" data-testid="forgot-password" onClick={() => { setForgot('asking'); setError(''); }}>{t('reset.forgot')}</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

/** The person's own password, changed from the header menu. */
function ChoosePassword({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const { busy, error, setError, submit } = useSubmit();
  const change = (form: HTMLFormElement) => {
    const data = new FormData(form);
    const next = String(data.get('new'));
    const problem = newPasswordProblem(next, String(data.get('repeat')));
    if (problem) return setError(problem);
    void submit(() => api.changePassword(String(data.get('current')), next).then(onDone));
  };
  return (
    <form class="login" data-testid="choose-password" onSubmit={(e) => { e.preventDefault(); change(e.target as HTMLFormElement); }}>
      <h1>{t('password.change')}</h1>
      <label for="current">{t('password.current')}</label>
      <input id="current" name="current" type="password" autocomplete="current-password" required />
      <NewPassword busy={busy} />
      <button type="button" class="ghost" onClick={onCancel}>{t('common.cancel')}</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

/** The API's minimum (lambdas::auth::MIN_PASSWORD_CHARS), checked here first to say it sooner. */
const MIN_PASSWORD_CHARS = 10;

type Page = 'visitors' | 'chats' | 'tasks' | 'admin' | 'password';

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

function Console({ me, onSignOut, onChanged, onLanguage }: { me: Me; onSignOut: () => void; onChanged: () => void; onLanguage: (choice: Language | null) => void }) {
  const [siteKey, setSiteKey] = useState<string | null>(me.sites[0]?.site_key ?? null);
  const [available, setAvailable] = useState(localStorage.getItem('vitrine:available') !== 'false');
  const [selected, setSelected] = useState<string | null>(null);
  // V4 "select users": a set of visitors to call together (null = not selecting).
  const [picked, setPicked] = useState<Set<string> | null>(null);
  const [fullscreen, setFullscreen] = useState(false);
  const [page, setPage] = useState<Page>('visitors');
  const [openConversation, setOpenConversation] = useState<string | null>(null);
  // P8: the visitor whose page is shown (from a live row or a call's tile).
  const [mirrorOf, setMirrorOf] = useState<string | null>(null);
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
          <select aria-label={t('header.site')} value={siteKey ?? ''} onChange={(e) => setSiteKey((e.target as HTMLSelectElement).value)}>
            {me.sites.map((s) => <option value={s.site_key}>{s.name}</option>)}
          </select>
        )}
        <nav class="pages">
          <button aria-pressed={page === 'visitors'} data-testid="page-visitors" onClick={() => setPage('visitors')}>{t('header.visitors')}</button>
          <button aria-pressed={page === 'chats'} data-testid="page-chats" onClick={() => setPage('chats')}>
            {t('header.chats')} {pendingCount > 0 && <span class="count" data-testid="pending-badge">{pendingCount}</span>}
          </button>
          <button aria-pressed={page === 'tasks'} data-testid="page-tasks" onClick={() => setPage('tasks')}>{t('header.tasks')}</button>
          {me.agent.role === 'admin' && <button aria-pressed={page === 'admin'} data-testid="page-admin" onClick={() => setPage('admin')}>{t('header.admin')}</button>}
        </nav>
        <span class={`conn ${live.connection === 'live' ? '' : 'down'}`} data-testid="connection">
          {live.connection === 'live' ? `● ${t('header.live')}` : t(live.connection === 'connecting' ? 'header.connecting' : 'header.reconnecting')}
        </span>
        <span class="spacer" />
        <div class="notices">
          <button class="ghost" data-testid="notifications" aria-expanded={menu} onClick={() => {
            setMenu(!menu);
            setSeen(notices.length);
            if ('Notification' in window && Notification.permission === 'default') void Notification.requestPermission();
          }}><span aria-hidden="true">🔔</span>{unseen > 0 && <span class="count" aria-hidden="true">{unseen}</span>}<span class="sr-only">{t('header.notifications', { count: unseen })}</span></button>
          {menu && (
            <ul class="menu" data-testid="notification-menu">
              {notices.length === 0 && <li class="muted">{t('header.noNotifications')}</li>}
              {notices.map((n) => (
                <li><button class="ghost" onClick={() => (n.conversationId && openChat(n.conversationId), setMenu(false))}>{time(n.at)} — {n.text}</button></li>
              ))}
            </ul>
          )}
        </div>
        <label class="switch">
          <input type="checkbox" data-testid="availability" checked={available} onChange={(e) => setAvailable((e.target as HTMLInputElement).checked)} />
          {t(available ? 'header.available' : 'header.away')}
        </label>
        {live.availability && (
          <span class="muted">{t('header.agentsOnline', { count: live.availability.agents_online })}</span>
        )}
        <span class="muted">{me.agent.name}</span>
        <button class="ghost" data-testid="page-password" aria-pressed={page === 'password'} onClick={() => setPage('password')}>{t('header.password')}</button>
        <LanguagePicker onChange={onLanguage} />
        <button class="ghost" onClick={onSignOut}>{t('header.signOut')}</button>
      </header>
      {/* New chats, transfers and missed calls, said to screen readers as they come. */}
      <div class="sr-only" role="status" data-testid="announce">{notices[0]?.text ?? ''}</div>
      {live.errors.has(GENERAL) && (
        <div class="page-error"><ErrorLine text={live.errors.get(GENERAL)!} testId="hub-error" onDismiss={() => hub.clearError()} /></div>
      )}
      {page === 'password' ? (
        <ChoosePassword onDone={() => setPage('visitors')} onCancel={() => setPage('visitors')} />
      ) : page === 'admin' ? (
        <Admin onChanged={onChanged} />
      ) : page === 'tasks' ? (
        <MyTasks />
      ) : !siteKey || !site ? (
        <p class="empty">{t(me.agent.role === 'admin' ? 'visitors.noSiteAdmin' : 'visitors.noSite')}</p>
      ) : page === 'chats' ? (
        <ChatConsole me={me} site={site} hub={hub} openId={openConversation} onOpen={setOpenConversation} />
      ) : (
        <main class={chosen ? '' : 'no-details'}>
          <section class={`list ${fullscreen ? 'fullscreen' : ''}`} aria-label={t('visitors.region')}>
            <div class="list-head">
              <h2>{t('visitors.title')} <span class="muted" data-testid="online-count">{online}</span></h2>
              <span class="spacer" style="flex:1" />
              {live.calls.available && live.calls.enabled && (
                <SelectUsers hub={hub} picked={picked} setPicked={setPicked} />
              )}
              <button class="ghost" data-testid="fullscreen" aria-pressed={fullscreen} onClick={() => setFullscreen(!fullscreen)}>
                {t(fullscreen ? 'visitors.exitFullScreen' : 'visitors.fullScreen')}
              </button>
            </div>
            {visitors.length === 0 ? (
              <p class="empty">{t('visitors.nobody')}</p>
            ) : (
              <table>
                <thead>
                  <tr>{picked && <th aria-label={t('visitors.select')} />}<th>{t('visitors.visitor')}</th><th>{t('visitors.location')}</th><th>{t('visitors.page')}</th><th>{t('visitors.onPage')}</th><th>{t('visitors.onSite')}</th></tr>
                </thead>
                <tbody>
                  {visitors.map((v) => (
                    <VisitorRow v={v} now={now} selected={v.visitor_id === selected} onSelect={() => setSelected(v.visitor_id)} onView={() => setMirrorOf(v.visitor_id)}
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
          {chosen && (
            <VisitorPanel site={site} visitorId={chosen.visitor_id} live={chosen} hub={hub} me={me.agent} label={t('details.label')} testId="details" onClose={() => setSelected(null)}>
              <StartChat hub={hub} visitorId={chosen.visitor_id} onOpen={openChat} onStarted={setStartedWith} />
            </VisitorPanel>
          )}
        </main>
      )}
      {/* On every page: a call goes on while the agent chats or works elsewhere. */}
      <CallPanel hub={hub} onView={setMirrorOf} />
      {mirrorOf && <Mirror hub={hub} visitorId={mirrorOf} origins={site?.allowed_origins ?? []} onClose={() => setMirrorOf(null)} />}
    </>
  );
}

/** Most visitors one group call may invite: 10 plus the agent (V4). */
const MAX_CALL_GUESTS = 10;

/** "Select users": pick up to ten visitors in the list, then call them all at once (V4),
 *  or invite them to the running call (V5). */
function SelectUsers({ hub, picked, setPicked }: { hub: Hub; picked: Set<string> | null; setPicked: (p: Set<string> | null) => void }) {
  const call = hub.state.call;
  if (!picked) {
    return <button class="ghost" data-testid="select-users" onClick={() => setPicked(new Set())}>{t('select.users')}</button>;
  }
  const ids = [...picked].filter((id) => hub.state.visitors.has(id));
  const go = () => {
    if (call) hub.send({ type: 'call_add', call_id: call.call_id, visitor_ids: ids });
    else hub.send({ type: 'call_start', visitor_ids: ids });
    setPicked(null);
  };
  return (
    <span class="select-users">
      <span class="muted" data-testid="picked-count">{t('select.count', { count: ids.length, max: MAX_CALL_GUESTS })}</span>
      <button data-testid="call-selected" disabled={ids.length === 0} onClick={go}>{t(call ? 'select.addGuests' : 'call.start')}</button>
      <button class="ghost" onClick={() => setPicked(null)}>{t('common.cancel')}</button>
    </span>
  );
}

/** Status in words beside its shape (colour alone tells nothing to some agents). */
const STATUS_WORD = { active: 'status.active', idle: 'status.idle', offline: 'status.offline' } as const;

function VisitorRow({ v, now, selected, onSelect, onView, picked, onPick }: {
  v: LiveVisitor; now: number; selected: boolean; onSelect: () => void; onView: () => void;
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
          <input type="checkbox" data-testid="pick" aria-label={t('select.visitor', { id: v.visitor_id.slice(0, 8) })} checked={isPicked}
            disabled={v.status === 'offline' || v.in_call || (full && !isPicked)}
            onChange={(e) => onPick((e.target as HTMLInputElement).checked)} />
        </td>
      )}
      <td>
        <span class="dot" data-status={v.status} aria-hidden="true" />
        <span class="status-word" data-testid="status-word">{t(STATUS_WORD[v.status])}</span>
        {v.contact
          ? <span class="contact-name" data-testid="row-contact">{v.contact.name ?? v.contact.email ?? v.contact.contact_id}</span>
          : <span class="id">{v.visitor_id.slice(0, 8)}</span>}
        {v.returning && <span class="badge" data-testid="returning" title={t('visitors.visitNumber', { n: v.visit_count })}>{t('visitors.returning')}</span>}
        {v.in_call && <span class="badge incall">{t('visitors.inCall')}</span>}
        {v.call_requested && <span class="badge call" title={t('visitors.asksCall')}>📞</span>}
        {v.unread > 0 && <span class="unread-count" aria-label={t('chats.unread', { count: v.unread })}>{v.unread}</span>}
      </td>
      <td data-testid="location">{place(v)}</td>
      <td class="page">
        <a class="page-link" href={safeHref(v.page.url)} target="_blank" rel="noopener noreferrer" onClick={(e) => e.stopPropagation()}>
          {v.page.title || v.page.url}
        </a>
        {v.status !== 'offline' && (
          <button type="button" class="ghost row-view" data-testid="row-view-page" title={t('mirror.view')}
            aria-label={t('mirror.viewOf', { name: v.contact?.name ?? t('chats.visitor', { id: v.visitor_id.slice(0, 6) }) })} onClick={(e) => (e.stopPropagation(), onView())}>👁</button>
        )}
      </td>
      <td data-testid="time-on-page">{duration(until - v.page.opened_at)}</td>
      <td data-testid="time-on-site">{duration(until - v.visit_started_at)}</td>
    </tr>
  );
}

render(<App />, document.getElementById('app')!);
