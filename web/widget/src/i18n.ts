// The widget's language: English ships inside widget.js; French and Polish are small
// immutable files (w/widget-fr.<hash>.js…) loaded with their integrity hash only on pages
// that need them, so the first load stays within budget.
import english from 'catalog:widget/en';
import type messages from '../../i18n/widget/en.json';
import { translator, type Catalog, type Language } from '../../shared/i18n';

export type WidgetKey = keyof typeof messages;

/** This release's language files, filled in by build.mjs. */
declare const __LANGUAGES__: Record<Exclude<Language, 'en'>, { src: string; integrity: string }>;

let current: Language = 'en';
let wanted: Language = 'en';
/** Translates `key` in the widget's current language. */
export let t = translator<WidgetKey>(english, english);

const loaded: Partial<Record<Language, Promise<Catalog>>> = { en: Promise.resolve(english) };

function load(lang: Exclude<Language, 'en'>, server: URL): Promise<Catalog> {
  return (loaded[lang] ??= new Promise<Catalog>((resolve, reject) => {
    const file = __LANGUAGES__[lang];
    const tag = document.createElement('script');
    tag.src = new URL(file.src, server).href;
    tag.integrity = file.integrity;
    tag.crossOrigin = 'anonymous';
    tag.onload = () => resolve((window as unknown as { __vitrineLanguages: Record<string, Catalog> }).__vitrineLanguages[lang]);
    tag.onerror = () => { delete loaded[lang]; reject(new Error(`the ${lang} messages did not load`)); };
    document.head.appendChild(tag);
  }));
}

/** Switches to `lang` (loading it first if needed), then calls `ready` to redraw. A
 *  language that fails to load leaves the widget in the one it had. */
export function useLanguage(lang: Language, server: URL, ready: () => void): void {
  wanted = lang;
  if (lang === current) return;
  const catalog = lang === 'en' ? loaded.en! : load(lang, server);
  catalog.then((c) => {
    if (wanted !== lang) return; // a later choice (the site's forced language) won
    current = lang;
    t = translator<WidgetKey>(c, english);
    ready();
  }, (e) => console.warn('[vitrine]', e));
}

export function language(): Language {
  return current;
}
