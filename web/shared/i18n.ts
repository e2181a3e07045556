// Languages (B4): the widget and the portal speak English, French and Polish. Messages are
// ICU MessageFormat in one catalogue per UI and language (web/i18n/<ui>/<lang>.json),
// compiled at build time by messageformat into plain functions (plural rules from CLDR,
// Polish's one/few/many included), so no parser ships to browsers.
import type { ChatEvent, Language } from './protocol';

export type { Language };
export const LANGUAGES: readonly Language[] = ['en', 'fr', 'pl'];
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', fr: 'Français', pl: 'Polski' };

/** A compiled catalogue: one function per message key. */
export type Catalog = Record<string, (values?: Record<string, unknown>) => string>;

/** The first of `wanted` (BCP 47 tags, most preferred first) that we speak; else English. */
export function pickLanguage(wanted: readonly string[]): Language {
  for (const tag of wanted) {
    const base = tag.toLowerCase().split('-')[0];
    if ((LANGUAGES as readonly string[]).includes(base)) return base as Language;
  }
  return 'en';
}

/** `t(key, values)` over `catalog`, falling back to English for a key it lacks (the build
 *  refuses catalogues whose keys differ, so this only guards a stale cached file). */
export function translator<K extends string>(catalog: Catalog, english: Catalog) {
  return (key: K, values?: Record<string, unknown>): string => (catalog[key] ?? english[key] ?? (() => key))(values);
}

type EventKey = 'event.joined' | 'event.transferred' | 'event.endedBy' | 'event.endedByVisitor'
  | 'event.reopened' | 'event.callStarted' | 'event.callEnded';

/** A conversation's lifecycle note in the UI's language (both catalogues have these keys;
 *  the widget's "ended by the visitor" says "you"). */
export function chatEvent(e: ChatEvent, t: (key: EventKey, values?: Record<string, unknown>) => string): string {
  switch (e.type) {
    case 'joined': return t('event.joined', { name: e.name });
    case 'transferred': return t('event.transferred', { from: e.from, to: e.to });
    case 'ended': return e.by === null ? t('event.endedByVisitor') : t('event.endedBy', { name: e.by });
    case 'reopened': return t('event.reopened', { name: e.name });
    case 'call_started': return t('event.callStarted', { agent: e.agent });
    case 'call_ended': return t('event.callEnded', { duration: `${Math.floor(e.seconds / 60)}:${String(e.seconds % 60).padStart(2, '0')}` });
  }
}
