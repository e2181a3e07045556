// The composer's emoji picker: every emoji, searchable by its CLDR name and keywords in
// the agent's language (data built from emojibase, see build.mjs), recently used first.
// Keyboard: type to search, ↓ into the grid, arrows move, Enter inserts, Esc closes.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n';

type Row = [emoji: string, group: number, words: string];

/** emojibase's groups, by number (2, skin tones, is left out of the data). */
const GROUPS = ['emoji.smileys', 'emoji.people', '', 'emoji.animals', 'emoji.food', 'emoji.travel', 'emoji.activities', 'emoji.objects', 'emoji.symbols', 'emoji.flags'] as const;
const COLUMNS = 9;
const RECENT_KEY = 'vitrine:emoji:recent';
const RECENT_MAX = 18;

/** Loaded once per language, on first use (about 45 KB gzipped). */
const loaded = new Map<string, Promise<Row[]>>();
function load(lang: string): Promise<Row[]> {
  let p = loaded.get(lang);
  if (!p) {
    p = fetch(`/portal/emoji/${lang}.json`).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`emoji data: HTTP ${r.status}`))));
    p.catch(() => loaded.delete(lang));
    loaded.set(lang, p);
  }
  return p;
}

function recent(): string[] {
  try { return JSON.parse(localStorage.getItem(RECENT_KEY) || '[]'); } catch { return []; }
}

export function EmojiPicker({ lang = 'en', onPick, onClose }: { lang?: string; onPick: (emoji: string) => void; onClose: () => void }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState('');
  const [query, setQuery] = useState('');
  const search = useRef<HTMLInputElement>(null);
  const grid = useRef<HTMLDivElement>(null);
  useEffect(() => { load(lang).then(setRows, (e) => setError(String(e.message ?? e))); }, [lang]);
  useLayoutEffect(() => search.current?.focus(), []);

  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const found = rows && words.length
    ? rows.filter((r) => words.every((w) => r[2].includes(w)))
    : null;
  const pick = (emoji: string) => {
    localStorage.setItem(RECENT_KEY, JSON.stringify([emoji, ...recent().filter((e) => e !== emoji)].slice(0, RECENT_MAX)));
    onPick(emoji);
  };
  const button = (emoji: string, title: string) => (
    <button type="button" class="emoji-cell" title={title} aria-label={title} onClick={() => pick(emoji)}>{emoji}</button>
  );
  const name = (r: Row) => r[2].split(' ').slice(0, 4).join(' ');
  // Arrow keys move between the grid's buttons, row by row.
  const move = (e: KeyboardEvent) => {
    const cells = [...(grid.current?.querySelectorAll<HTMLButtonElement>('.emoji-cell') ?? [])];
    const at = cells.indexOf(document.activeElement as HTMLButtonElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS }[e.key];
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); onClose(); return; }
    if (step === undefined) return;
    e.preventDefault();
    if (at < 0) { cells[0]?.focus(); return; }
    const next = at + step;
    if (next < 0) search.current?.focus();
    else cells[Math.min(next, cells.length - 1)]?.focus();
  };

  return (
    <div class="picker emoji" role="dialog" aria-label={t('emoji.label')} data-testid="emoji-picker" onKeyDown={move}>
      <input ref={search} type="search" placeholder={t('emoji.search')} aria-label={t('emoji.search')} value={query}
        onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => { if (e.key === 'Enter' && found?.length) { e.preventDefault(); pick(found[0][0]); } }} />
      {error && <p class="error">{t('emoji.failed', { error })}</p>}
      {!rows && !error && <p class="muted">{t('common.loading')}</p>}
      <div class="emoji-grid" ref={grid}>
        {found ? (
          found.length ? <div class="emoji-row" role="group" aria-label={t('emoji.found', { count: found.length })}>{found.slice(0, 300).map((r) => button(r[0], name(r)))}</div>
            : <p class="muted" role="status">{t('emoji.none', { query })}</p>
        ) : rows && (
          <>
            {recent().length > 0 && (
              <><h4>{t('emoji.recent')}</h4><div class="emoji-row" role="group" aria-label={t('emoji.recent')}>{recent().map((e) => button(e, e))}</div></>
            )}
            {GROUPS.map((g, i) => g && (
              <><h4>{t(g)}</h4><div class="emoji-row" role="group" aria-label={t(g)}>{rows.filter((r) => r[1] === i).map((r) => button(r[0], name(r)))}</div></>
            ))}
          </>
        )}
      </div>
    </div>
  );
}
