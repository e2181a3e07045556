// Admin pages (A1–A3): sites (one widget each: site key, allowed origins, consultants, on/off), agents and
// experts (invite with a one-time password), offers, canned responses and the product
// catalogue (with CSV/JSON import).
import { useEffect, useState } from 'preact/hooks';
import type { CannedResponse, Invited, Offer, Product, Role, Site } from '../../shared/protocol';
import { api } from './api';

type Tab = 'sites' | 'agents' | 'offers' | 'canned' | 'products';

export function Admin({ onChanged }: { onChanged: () => void }) {
  const [tab, setTab] = useState<Tab>('sites');
  return (
    <main class="admin">
      <nav class="tabs" role="tablist">
        {(['sites', 'agents', 'offers', 'canned', 'products'] as Tab[]).map((t) => (
          <button role="tab" aria-selected={tab === t} data-testid={`admin-${t}`} onClick={() => setTab(t)}>
            {{ sites: 'Sites', agents: 'Agents', offers: 'Offers', canned: 'Canned responses', products: 'Products' }[t]}
          </button>
        ))}
      </nav>
      {tab === 'sites' && <Sites onChanged={onChanged} />}
      {tab === 'agents' && <Agents />}
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
        <thead><tr><th>Site</th><th>Site key / script tag</th><th>Status</th><th>Consultants</th><th /></tr></thead>
        <tbody>
          {sites?.map((s) => (
            <tr data-site-key={s.site_key}>
              <td>{s.name}</td>
              <td>
                <code>{`<script src="${location.origin}/widget.js" data-site="${s.site_key}" async></script>`}</code>
                {release && (
                  <details>
                    <summary>Pinned to this release, with SRI</summary>
                    <p>Never changes under you; you update it yourself for each release.</p>
                    <code data-testid="sri-tag">{`<script src="${location.origin}${release.src}" integrity="${release.integrity}" crossorigin="anonymous" data-site="${s.site_key}" async></script>`}</code>
                  </details>
                )}
              </td>
              <td>{s.active ? 'active' : 'deactivated'}</td>
              <td>{s.consultants.map((c) => agents?.find((a) => a.agent_id === c)?.name ?? c).join(', ') || '—'}</td>
              <td>
                <button class="ghost" onClick={() => setEditing(s)}>Edit</button>
                <button class="ghost" onClick={() => confirm(`Delete site "${s.name}"? Its widget stops working.`) && api.sites.remove(s.site_key).then(() => (reload(), onChanged())).catch(fail)}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button onClick={() => setEditing('new')} data-testid="new-site">New site</button>
      {editing && (
        <form class="editor" onSubmit={(e) => (e.preventDefault(), save(e.target as HTMLFormElement, editing === 'new' ? null : editing.site_key))}>
          <label>Name <input name="name" required maxLength={120} value={editing === 'new' ? '' : editing.name} /></label>
          <label><input type="checkbox" name="active" checked={editing === 'new' ? true : editing.active} /> Active (a deactivated site's widget stays silent)</label>
          <label>Allowed origins (space-separated, empty = any) <input name="origins" value={editing === 'new' ? '' : editing.allowed_origins.join(' ')} placeholder="https://shop.example" /></label>
          <fieldset><legend>Consultants</legend>
            {agents?.map((a) => (
              <label><input type="checkbox" name="consultants" value={a.agent_id} checked={editing !== 'new' && editing.consultants.includes(a.agent_id)} /> {a.name} ({a.role})</label>
            ))}
          </fieldset>
          <button type="submit">Save</button> <button type="button" class="ghost" onClick={() => setEditing(null)}>Cancel</button>
        </form>
      )}
    </section>
  );
}

function Agents() {
  const [agents, reload, error, fail] = useLoad(api.agents.list);
  const [invited, setInvited] = useState<Invited | null>(null);
  return (
    <section>
      {error && <p class="error" role="alert">{error}</p>}
      <table>
        <thead><tr><th>Name</th><th>E-mail</th><th>Role</th><th /></tr></thead>
        <tbody>
          {agents?.map((a) => (
            <tr>
              <td>{a.name}</td><td>{a.email}</td>
              <td>
                <select aria-label={`Role of ${a.name}`} value={a.role} onChange={(e) => api.agents.update(a.agent_id, { name: a.name, role: (e.target as HTMLSelectElement).value as Role }).then(reload).catch(fail)}>
                  <option value="admin">admin</option><option value="agent">agent</option><option value="expert">expert</option>
                </select>
              </td>
              <td><button class="ghost" onClick={() => confirm(`Remove ${a.name}?`) && api.agents.remove(a.agent_id).then(reload).catch(fail)}>Remove</button></td>
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
          reload();
        } catch (err) {
          fail(err);
        }
      }}>
        <h3>Invite</h3>
        <label>Name <input name="name" required /></label>
        <label>E-mail <input name="email" type="email" required /></label>
        <label>Role <select name="role"><option value="agent">agent</option><option value="expert">expert</option><option value="admin">admin</option></select></label>
        <button type="submit">Invite</button>
      </form>
      {invited && (
        <p class="notice" data-testid="invited">
          {invited.password
            ? <>{invited.agent.email} can sign in with the one-time password <code>{invited.password}</code>.</>
            : <>{invited.agent.email} already uses Vitrine: they sign in with their own password and pick this account.</>}
          {' '}Assign them to sites under Sites.
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

function Items<T extends object>({ load, fields, idOf, empty }: { load: Crud<T>; fields: (keyof T & string)[]; idOf: (t: T) => string; empty: T }) {
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
        <thead><tr>{fields.map((f) => <th>{f.replace('_', ' ')}</th>)}<th /></tr></thead>
        <tbody>
          {items?.map((it) => (
            <tr>
              {fields.map((f) => <td>{String((it as Record<string, unknown>)[f] ?? '')}</td>)}
              <td>
                <button class="ghost" onClick={() => setEditing(it)}>Edit</button>
                <button class="ghost" onClick={() => load.remove(idOf(it)).then(reload).catch(fail)}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button onClick={() => setEditing(empty)}>Add</button>
      {editing && (
        <form class="editor" onSubmit={(e) => (e.preventDefault(), save(e.target as HTMLFormElement))}>
          {fields.map((f) => (
            <label>{f.replace('_', ' ')} <input name={f} value={String((editing as Record<string, unknown>)[f] ?? '')} /></label>
          ))}
          <button type="submit">Save</button> <button type="button" class="ghost" onClick={() => setEditing(null)}>Cancel</button>
        </form>
      )}
    </section>
  );
}

function Import() {
  const [result, setResult] = useState('');
  return (
    <p class="import">
      <label class="button ghost">Import catalogue (CSV or JSON)
        <input type="file" accept=".csv,.json,text/csv,application/json" hidden data-testid="import" onChange={async (e) => {
          const file = (e.target as HTMLInputElement).files?.[0];
          if (!file) return;
          try {
            const { imported } = await api.importProducts(await file.text());
            setResult(`Imported ${imported} products.`);
          } catch (err) {
            setResult(err instanceof Error ? err.message : String(err));
          }
        }} />
      </label>
      <span role="status"> {result}</span>
    </p>
  );
}
