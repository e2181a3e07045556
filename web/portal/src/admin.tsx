// Admin pages (A1–A3): sites (one widget each: site key, allowed origins, consultants, on/off), agents and
// experts (invited by a single-use link), offers, canned responses and the product
// catalogue (with CSV/JSON import).
import { useEffect, useState } from 'preact/hooks';
import type { ApiKey, CannedResponse, Invited, Language, MailSettingsView, NewApiKey, Scope, Offer, Product, Role, Site, SiteIdentity, SmtpSecurity } from '../../shared/protocol';
import { LANGUAGE_NAMES, LANGUAGES } from '../../shared/i18n';
import { api } from './api';
import { t, type PortalKey } from './i18n';

const ROLES: Role[] = ['admin', 'agent', 'expert'];

type Tab = 'sites' | 'agents' | 'offers' | 'canned' | 'products' | 'email' | 'api';

export function Admin({ onChanged }: { onChanged: () => void }) {
  const [tab, setTab] = useState<Tab>('sites');
  return (
    <main class="admin">
      <nav class="tabs" role="tablist">
        {(['sites', 'agents', 'offers', 'canned', 'products', 'email', 'api'] as Tab[]).map((name) => (
          <button role="tab" aria-selected={tab === name} data-testid={`admin-${name}`} onClick={() => setTab(name)}>
            {t(`admin.tab.${name}`)}
          </button>
        ))}
      </nav>
      {tab === 'sites' && <Sites onChanged={onChanged} />}
      {tab === 'agents' && <Agents />}
      {tab === 'email' && <Mail />}
      {tab === 'api' && <ApiKeys />}
      {tab === 'offers' && <Items<Offer> load={api.offers} fields={['title', 'text', 'image_url', 'link_url']} idOf={(o) => o.offer_id} empty={{ offer_id: '', title: '', text: '', image_url: null, link_url: 'https://' }} />}
      {tab === 'canned' && <Items<CannedResponse> load={api.canned} fields={['shortcut', 'text']} idOf={(c) => c.canned_id} empty={{ canned_id: '', shortcut: '', text: '' }} />}
      {tab === 'products' && (
        <>
          <Import />
          <Items<Product> load={{ ...api.productsAdmin, list: () => api.products({}).then((g) => g.products) }} fields={['name', 'brand', 'category', 'price', 'image_url', 'url']} idOf={(p) => p.product_id} empty={{ product_id: '', name: '', brand: '', category: '', price: '', image_url: null, url: 'https://' }} />
        </>
      )}
    </main>
  );
}

function useLoad<T>(load: () => Promise<T>): [T | null, () => void, string, (e: unknown) => void] {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState('');
  const reload = () => void load().then((d) => (setData(d), setError(''))).catch((e) => setError(String(e.message ?? e)));
  useEffect(reload, []);
  return [data, reload, error, (e) => setError(e instanceof Error ? e.message : String(e))];
}

function Sites({ onChanged }: { onChanged: () => void }) {
  const [sites, reload, error, fail] = useLoad(api.sites.list);
  const [agents] = useLoad(api.agents.list);
  // The current widget release and its hash, as published for shops that pin it.
  const [release] = useLoad(() => fetch('/widget.json').then((r) => r.json()).then((j: { widget: { src: string; integrity: string } }) => j.widget));
  const [editing, setEditing] = useState<Site | 'new' | null>(null);
  const save = async (form: HTMLFormElement, key: string | null) => {
    const data = new FormData(form);
    const input = {
      name: String(data.get('name')),
      active: data.get('active') === 'on',
      allowed_origins: String(data.get('origins')).split(/[\s,]+/).filter(Boolean),
      consultants: data.getAll('consultants').map(String),
      language: (String(data.get('language') || '') || null) as Language | null,
      typing_preview: data.get('typing_preview') === 'on',
      cobrowse_consent: data.get('cobrowse_consent') === 'on',
    };
    try {
      if (key) await api.sites.update(key, input);
      else await api.sites.create(input);
      setEditing(null);
      reload();
      onChanged();
    } catch (e) {
      fail(e);
    }
  };
  return (
    <section>
      {error && <p class="error" role="alert">{error}</p>}
      <table>
        <thead><tr><th>{t('admin.site')}</th><th>{t('admin.siteTag')}</th><th>{t('admin.status')}</th><th>{t('admin.consultants')}</th><th /></tr></thead>
        <tbody>
          {sites?.map((s) => (
            <tr data-site-key={s.site_key}>
              <td>{s.name}</td>
              <td>
                <code>{`<script src="${location.origin}/widget.js" data-site="${s.site_key}" async></script>`}</code>
                {release && (
                  <details>
                    <summary>{t('admin.pinned')}</summary>
                    <p>{t('admin.pinnedNote')}</p>
                    <code data-testid="sri-tag">{`<script src="${location.origin}${release.src}" integrity="${release.integrity}" crossorigin="anonymous" data-site="${s.site_key}" async></script>`}</code>
                  </details>
                )}
                <IdentitySecret site={s.site_key} onError={fail} />
              </td>
              <td>{t(s.active ? 'admin.active' : 'admin.deactivated')}</td>
              <td>{s.consultants.map((c) => agents?.find((a) => a.agent_id === c)?.name ?? c).join(', ') || '—'}</td>
              <td>
                <button class="ghost" onClick={() => setEditing(s)}>{t('admin.edit')}</button>
                <button class="ghost" onClick={() => confirm(t('admin.deleteSite', { name: s.name })) && api.sites.remove(s.site_key).then(() => (reload(), onChanged())).catch(fail)}>{t('admin.delete')}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button onClick={() => setEditing('new')} data-testid="new-site">{t('admin.newSite')}</button>
      {editing && (
        <form class="editor" key={editing === 'new' ? 'new' : editing.site_key} onSubmit={(e) => (e.preventDefault(), save(e.target as HTMLFormElement, editing === 'new' ? null : editing.site_key))}>
          <label>{t('admin.name')} <input name="name" required maxLength={120} defaultValue={editing === 'new' ? '' : editing.name} /></label>
          <label><input type="checkbox" name="active" defaultChecked={editing === 'new' ? true : editing.active} /> {t('admin.activeField')}</label>
          <label>{t('admin.origins')} <input name="origins" defaultValue={editing === 'new' ? '' : editing.allowed_origins.join(' ')} placeholder="https://shop.example" /></label>
          <label>{t('admin.language')}{' '}
            <select name="language" data-testid="site-language">
              <option value="">{t('admin.languageBrowser')}</option>
              {LANGUAGES.map((l) => <option value={l} selected={editing !== 'new' && editing.language === l}>{LANGUAGE_NAMES[l]}</option>)}
            </select>
          </label>
          <label><input type="checkbox" name="typing_preview" data-testid="site-typing-preview" defaultChecked={editing === 'new' ? true : editing.typing_preview} /> {t('admin.typingPreview')}</label>
          <label><input type="checkbox" name="cobrowse_consent" data-testid="site-cobrowse-consent" defaultChecked={editing === 'new' ? true : editing.cobrowse_consent} /> {t('admin.cobrowseConsent')}</label>
          <fieldset><legend>{t('admin.consultants')}</legend>
            {agents?.map((a) => (
              <label><input type="checkbox" name="consultants" value={a.agent_id} defaultChecked={editing !== 'new' && editing.consultants.includes(a.agent_id)} /> {a.name} ({t(`admin.role.${a.role}`)})</label>
            ))}
          </fieldset>
          <button type="submit">{t('admin.save')}</button> <button type="button" class="ghost" onClick={() => setEditing(null)}>{t('common.cancel')}</button>
        </form>
      )}
    </section>
  );
}

/** K1: the secret a shop's backend signs its customers' IDs with (shown on demand). */
function IdentitySecret({ site, onError }: { site: string; onError: (e: unknown) => void }) {
  const [identity, setIdentity] = useState<SiteIdentity | null>(null);
  const set = (required: boolean, rotate: boolean) =>
    api.sites.setIdentity(site, { required, rotate }).then(setIdentity, onError);
  return (
    <details data-testid="identity" onToggle={(e) => (e.target as HTMLDetailsElement).open && !identity && api.sites.identity(site).then(setIdentity, onError)}>
      <summary>{t('admin.identity')}</summary>
      <p>{t('admin.identityNote')}</p>
      {identity && (
        <>
          <code data-testid="identity-secret">{identity.secret}</code>
          <label><input type="checkbox" data-testid="identity-required" checked={identity.required} onChange={(e) => set((e.target as HTMLInputElement).checked, false)} /> {t('admin.identityRequired')}</label>
          {!identity.required && <p class="notice">{t('admin.identityOff')}</p>}
          <button type="button" class="ghost" data-testid="identity-rotate" onClick={() => confirm(t('admin.identityRotateQuestion')) && set(identity.required, true)}>{t('admin.identityRotate')}</button>
        </>
      )}
    </details>
  );
}

function Agents() {
  const [agents, reload, error, fail] = useLoad(api.agents.list);
  const [pending, reloadPending] = useLoad(api.agents.pending);
  const [invited, setInvited] = useState<Invited | null>(null);
  const link = invited?.link_path ? `${location.origin}${invited.link_path}` : null;
  return (
    <section>
      {error && <p class="error" role="alert">{error}</p>}
      <table>
        <thead><tr><th>{t('admin.name')}</th><th>{t('admin.email')}</th><th>{t('admin.roleLabel')}</th><th /></tr></thead>
        <tbody>
          {agents?.map((a) => (
            <tr>
              <td>{a.name}</td><td>{a.email}</td>
              <td>
                <select aria-label={t('admin.roleOf', { name: a.name })} value={a.role} onChange={(e) => api.agents.update(a.agent_id, { name: a.name, role: (e.target as HTMLSelectElement).value as Role }).then(reload).catch(fail)}>
                  {ROLES.map((r) => <option value={r}>{t(`admin.role.${r}`)}</option>)}
                </select>
              </td>
              <td><button class="ghost" onClick={() => confirm(t('admin.removeAgent', { name: a.name })) && api.agents.remove(a.agent_id).then(reload).catch(fail)}>{t('admin.remove')}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="editor" onSubmit={async (e) => {
        e.preventDefault();
        const data = new FormData(e.target as HTMLFormElement);
        try {
          setInvited(await api.agents.invite({ email: String(data.get('email')), name: String(data.get('name')), role: String(data.get('role')) as Role }));
          (e.target as HTMLFormElement).reset();
          reloadPending();
        } catch (err) {
          fail(err);
        }
      }}>
        <h3>{t('admin.invite')}</h3>
        <label>{t('admin.name')} <input name="name" required /></label>
        <label>{t('admin.email')} <input name="email" type="email" required /></label>
        <label>{t('admin.roleLabel')} <select name="role">{(['agent', 'expert', 'admin'] as const).map((r) => <option value={r}>{t(`admin.role.${r}`)}</option>)}</select></label>
        <button type="submit">{t('admin.invite')}</button>
      </form>
      {invited && (
        <div class="notice" data-testid="invited">
          {invited.emailed && <p>{t('admin.invitedEmailed', { email: invited.invitation.email })}</p>}
          {invited.email_error && <p>{t('admin.invitedNotEmailed', { reason: invited.email_error })}</p>}
          {link && (
            <>
              <p>{t('admin.invitedLink', { email: invited.invitation.email })}</p>
              <p><input class="link" readOnly value={link} data-testid="invite-link" aria-label={t('admin.inviteLink')}
                onFocus={(e) => (e.target as HTMLInputElement).select()} />
              <button type="button" class="ghost" onClick={() => void navigator.clipboard?.writeText(link)}>{t('admin.copy')}</button></p>
            </>
          )}
          <p>{t('admin.assign')}</p>
        </div>
      )}
      {pending && pending.length > 0 && (
        <>
          <h3>{t('admin.pendingInvitations')}</h3>
          <table data-testid="pending-invitations">
            <thead><tr><th>{t('admin.name')}</th><th>{t('admin.email')}</th><th>{t('admin.roleLabel')}</th><th>{t('admin.expires')}</th><th /></tr></thead>
            <tbody>
              {pending.map((p) => (
                <tr>
                  <td>{p.name}</td><td>{p.email}</td><td>{t(`admin.role.${p.role}`)}</td>
                  <td>{new Date(p.expires_at * 1000).toLocaleDateString()}</td>
                  <td><button class="ghost" onClick={() => api.agents.withdraw(p.email).then(reloadPending).catch(fail)}>{t('admin.withdraw')}</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

const SECURITY: SmtpSecurity[] = ['start_tls', 'tls', 'none'];

/** K3: the SMTP server the account's e-mail goes through (invitations, transcripts, answers). */
function Mail() {
  const [view, reload, error, fail] = useLoad(api.mail.get);
  const [notice, setNotice] = useState('');
  if (!view) return error ? <p class="error" role="alert">{error}</p> : null;
  const save = async (form: HTMLFormElement) => {
    const data = new FormData(form);
    const password = String(data.get('password') ?? '');
    try {
      await api.mail.put({
        host: String(data.get('host')).trim(),
        port: Number(data.get('port')),
        security: String(data.get('security')) as SmtpSecurity,
        username: String(data.get('username') ?? '').trim() || null,
        from: String(data.get('from')).trim(),
        // Empty: keep the stored one.
        ...(password ? { password } : {}),
      });
      setNotice(t('admin.mailSaved'));
      reload();
    } catch (e) {
      fail(e);
    }
  };
  const v: MailSettingsView = view;
  return (
    <section data-testid="mail-settings">
      {error && <p class="error" role="alert">{error}</p>}
      <p>{t('admin.mailNote')}</p>
      <form class="editor" onSubmit={(e) => { e.preventDefault(); void save(e.target as HTMLFormElement); }}>
        <label>{t('admin.mailHost')} <input name="host" required defaultValue={v.host} data-testid="mail-host" /></label>
        <label>{t('admin.mailPort')} <input name="port" type="number" min={1} max={65535} required defaultValue={String(v.port)} data-testid="mail-port" /></label>
        <label>{t('admin.mailSecurity')} <select name="security" data-testid="mail-security">{SECURITY.map((s) => <option value={s} selected={s === v.security}>{t(`admin.mailSecurity.${s}`)}</option>)}</select></label>
        <label>{t('admin.mailUsername')} <input name="username" defaultValue={v.username ?? ''} autocomplete="off" /></label>
        <label>{t('admin.mailPassword')} <input name="password" type="password" autocomplete="new-password" placeholder={v.has_password ? t('admin.mailPasswordKept') : ''} /></label>
        <label>{t('admin.mailFrom')} <input name="from" required defaultValue={v.from} placeholder="Maison <shop@example.com>" data-testid="mail-from" /></label>
        <button type="submit" data-testid="mail-save">{t('admin.save')}</button>
      </form>
      {v.configured && (
        <form class="editor" onSubmit={(e) => {
          e.preventDefault();
          const to = String(new FormData(e.target as HTMLFormElement).get('to'));
          api.mail.test(to).then(() => setNotice(t('admin.mailTestSent', { email: to })), fail);
        }}>
          <label>{t('admin.mailTestTo')} <input name="to" type="email" required /></label>
          <button type="submit" class="ghost">{t('admin.mailTest')}</button>
          <button type="button" class="ghost" onClick={() => confirm(t('admin.mailRemoveQuestion')) && api.mail.remove().then(reload, fail)}>{t('admin.remove')}</button>
        </form>
      )}
      {notice && <p class="notice" role="status" data-testid="mail-notice">{notice}</p>}
    </section>
  );
}

const SCOPES: Scope[] = ['contacts:read', 'contacts:write'];

/** K1: keys for the shop's backend (its REST API), each with scopes; the token is shown once. */
function ApiKeys() {
  const [keys, reload, error, fail] = useLoad(api.apiKeys.list);
  const [made, setMade] = useState<NewApiKey | null>(null);
  return (
    <section data-testid="api-keys">
      {error && <p class="error" role="alert">{error}</p>}
      <p>{t('admin.apiNote')}</p>
      <table>
        <thead><tr><th>{t('admin.name')}</th><th>{t('admin.apiScopes')}</th><th>{t('admin.apiCreated')}</th><th /></tr></thead>
        <tbody>
          {keys?.map((k: ApiKey) => (
            <tr data-testid="api-key">
              <td>{k.name}</td>
              <td>{k.scopes.join(', ')}</td>
              <td>{new Date(k.created_at).toLocaleDateString()} · {k.created_by}</td>
              <td><button class="ghost" data-testid="api-key-revoke" onClick={() => confirm(t('admin.apiRevokeQuestion', { name: k.name })) && api.apiKeys.revoke(k.key_id).then(reload, fail)}>{t('admin.apiRevoke')}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="editor" onSubmit={async (e) => {
        e.preventDefault();
        const form = e.target as HTMLFormElement;
        const data = new FormData(form);
        try {
          setMade(await api.apiKeys.create({ name: String(data.get('name')), scopes: SCOPES.filter((s) => data.get(s)) }));
          form.reset();
          reload();
        } catch (err) {
          fail(err);
        }
      }}>
        <h3>{t('admin.apiNew')}</h3>
        <label>{t('admin.name')} <input name="name" required maxLength={80} data-testid="api-key-name" /></label>
        {SCOPES.map((s) => <label><input type="checkbox" name={s} defaultChecked={s === 'contacts:read'} /> {s}</label>)}
        <button type="submit" data-testid="api-key-create">{t('admin.apiCreate')}</button>
      </form>
      {made && (
        <p class="notice" data-testid="api-key-token">
          {t('admin.apiTokenOnce', { name: made.key.name })} <code>{made.token}</code>
        </p>
      )}
    </section>
  );
}

interface Crud<T> {
  list: () => Promise<T[]>;
  create: (item: T) => Promise<T>;
  update: (id: string, item: T) => Promise<T>;
  remove: (id: string) => Promise<void>;
}

function Items<T extends object>({ load, fields, idOf, empty }: { load: Crud<T>; fields: (keyof T & string)[]; idOf: (item: T) => string; empty: T }) {
  const [items, reload, error, fail] = useLoad(load.list);
  const [editing, setEditing] = useState<T | null>(null);
  const save = async (form: HTMLFormElement) => {
    const data = new FormData(form);
    const item = { ...(editing as T) } as Record<string, unknown>;
    fields.forEach((f) => {
      const v = String(data.get(f) ?? '').trim();
      item[f] = f === 'image_url' ? v || null : v;
    });
    try {
      const id = idOf(editing as T);
      if (id) await load.update(id, item as T);
      else await load.create(item as T);
      setEditing(null);
      reload();
    } catch (e) {
      fail(e);
    }
  };
  return (
    <section>
      {error && <p class="error" role="alert">{error}</p>}
      <table>
        <thead><tr>{fields.map((f) => <th>{t(`admin.field.${f}` as PortalKey)}</th>)}<th /></tr></thead>
        <tbody>
          {items?.map((it) => (
            <tr>
              {fields.map((f) => <td>{String((it as Record<string, unknown>)[f] ?? '')}</td>)}
              <td>
                <button class="ghost" onClick={() => setEditing(it)}>{t('admin.edit')}</button>
                <button class="ghost" onClick={() => load.remove(idOf(it)).then(reload).catch(fail)}>{t('admin.delete')}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button onClick={() => setEditing(empty)}>{t('admin.add')}</button>
      {editing && (
        <form class="editor" key={idOf(editing)} onSubmit={(e) => (e.preventDefault(), save(e.target as HTMLFormElement))}>
          {fields.map((f) => (
            <label>{t(`admin.field.${f}` as PortalKey)} <input name={f} defaultValue={String((editing as Record<string, unknown>)[f] ?? '')} /></label>
          ))}
          <button type="submit">{t('admin.save')}</button> <button type="button" class="ghost" onClick={() => setEditing(null)}>{t('common.cancel')}</button>
        </form>
      )}
    </section>
  );
}

function Import() {
  const [result, setResult] = useState('');
  return (
    <p class="import">
      <label class="button ghost">{t('admin.import')}
        <input type="file" accept=".csv,.json,text/csv,application/json" hidden data-testid="import" onChange={async (e) => {
          const file = (e.target as HTMLInputElement).files?.[0];
          if (!file) return;
          try {
            const { imported } = await api.importProducts(await file.text());
            setResult(t('admin.imported', { count: imported }));
          } catch (err) {
            setResult(err instanceof Error ? err.message : String(err));
          }
        }} />
      </label>
      <span role="status"> {result}</span>
    </p>
  );
}
