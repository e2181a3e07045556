// The portal's language: the agent's choice (kept in this browser), else the browser's.
// All three catalogues ship in app.js (the portal has no size budget; switching is
// instant). Dates, times and durations follow the same language.
import en from 'catalog:portal/en';
import fr from 'catalog:portal/fr';
import pl from 'catalog:portal/pl';
import type messages from '../../i18n/portal/en.json';
import { LANGUAGES, pickLanguage, translator, type Catalog, type Language } from '../../shared/i18n';

export type PortalKey = keyof typeof messages;

const CATALOGS: Record<Language, Catalog> = { en, fr, pl };
const KEY = 'vitrine:language';

/** The agent's own choice, or null to follow the browser. */
export function chosenLanguage(): Language | null {
  const saved = localStorage.getItem(KEY);
  return (LANGUAGES as readonly string[]).includes(saved ?? '') ? (saved as Language) : null;
}

export let lang: Language = chosenLanguage() ?? pickLanguage(navigator.languages);
/** Translates `key` in the portal's current language. */
export let t = translator<PortalKey>(CATALOGS[lang], en);
document.documentElement.lang = lang;

/** Switches the language (null: the browser's); the caller redraws. */
export function setLanguage(choice: Language | null): void {
  if (choice) localStorage.setItem(KEY, choice); else localStorage.removeItem(KEY);
  lang = choice ?? pickLanguage(navigator.languages);
  t = translator<PortalKey>(CATALOGS[lang], en);
  document.documentElement.lang = lang;
}

export const time = (ms: number) => new Date(ms).toLocaleTimeString(lang);
export const date = (ms: number) => new Date(ms).toLocaleDateString(lang);
export const dateTime = (ms: number) => new Date(ms).toLocaleString(lang);

/** "1 h 05 min", "3 min 07 s", "42 s", in the portal's language. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return t('duration.hours', { h, m: two(m) });
  if (m > 0) return t('duration.minutes', { m, s: two(s % 60) });
  return t('duration.seconds', { s });
}
