// Bundles the widget and the portal (Preact) into dist/, as the CDN serves them:
//
// - w/widget.<version>.js, w/widget-call.<version>.js: immutable, named by their content
// - widget.js: the loader a shop's tag names (short-lived), which loads this release's
//   widget with its integrity hash; widget.json publishes both for shops that pin (SRI)
// - _headers: caching and security headers (Cloudflare's format; the local server too)
//
// Writes dist/sizes.json with what a page loads first, loader + widget (budget 12 KB gz).
import { build } from 'esbuild';
import MessageFormat from '@messageformat/core';
import compileModuleCjs from '@messageformat/core/compile-module.js';

const compileModule = compileModuleCjs.default ?? compileModuleCjs;
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';

const here = new URL('.', import.meta.url).pathname;
const dist = `${here}dist`;
mkdirSync(`${dist}/portal`, { recursive: true });
mkdirSync(`${dist}/w`, { recursive: true });

// -- message catalogues (B4) -----------------------------------------------------------------
// web/i18n/<ui>/<lang>.json, ICU MessageFormat. Every language must have exactly English's
// keys, and every message must compile: otherwise the build stops here.
const LANGUAGES = ['en', 'fr', 'pl'];
const catalogue = (ui, lang) => JSON.parse(readFileSync(`${here}i18n/${ui}/${lang}.json`, 'utf8'));
for (const ui of ['widget', 'widget-call', 'widget-cobrowse', 'portal']) {
  const keys = Object.keys(catalogue(ui, 'en')).sort().join('\n');
  for (const lang of LANGUAGES) {
    const mine = Object.keys(catalogue(ui, lang)).sort().join('\n');
    if (mine !== keys) {
      const a = new Set(keys.split('\n')), b = new Set(mine.split('\n'));
      throw new Error(`i18n/${ui}/${lang}.json: missing ${[...a].filter((k) => !b.has(k)).join(', ') || 'nothing'}; extra ${[...b].filter((k) => !a.has(k)).join(', ') || 'nothing'}`);
    }
  }
}
/** `import m from 'catalog:<ui>/<lang>'`: the catalogue compiled to one function per key. */
const catalogs = {
  name: 'catalogs',
  setup(b) {
    b.onResolve({ filter: /^catalog:/ }, (a) => ({ path: a.path.slice('catalog:'.length), namespace: 'catalog' }));
    b.onLoad({ filter: /.*/, namespace: 'catalog' }, (a) => {
      const [ui, lang] = a.path.split('/');
      return { contents: compileModule(new MessageFormat(lang), catalogue(ui, lang)), resolveDir: here, loader: 'js' };
    });
  },
};

/** Bundles one entry in memory (an IIFE). */
async function bundle(entry, target, define = {}) {
  const out = await build({
    entryPoints: [`${here}widget/src/${entry}`],
    plugins: [catalogs],
    bundle: true,
    minify: true,
    format: 'iife',
    target: [target],
    legalComments: 'none',
    define,
    write: false,
  });
  return out.outputFiles[0].contents;
}

/** Writes an immutable file named by its content; its path and integrity hash. */
function versioned(name, code) {
  const version = createHash('sha256').update(code).digest('hex').slice(0, 12);
  const src = `/w/${name}.${version}.js`;
  writeFileSync(`${dist}${src}`, code);
  return { src, integrity: `sha384-${createHash('sha384').update(code).digest('base64')}` };
}

// The call UI, fetched by the widget only when a call starts.
const call = versioned('widget-call', await bundle('call-bundle.ts', 'es2020'));
// Co-browsing (rrweb's recorder), fetched only when an agent asks to view the page.
const cobrowse = versioned('widget-cobrowse', await bundle('cobrowse-bundle.ts', 'es2020'));
// French and Polish, fetched by the widget only on pages in those languages.
const languages = {};
const languageGzip = {};
for (const lang of LANGUAGES.filter((l) => l !== 'en')) {
  const out = await build({
    stdin: { contents: `import m from 'catalog:widget/${lang}'; (window.__vitrineLanguages ||= {})['${lang}'] = m;`, resolveDir: here, loader: 'js' },
    plugins: [catalogs], bundle: true, minify: true, format: 'iife', target: ['es2020'], legalComments: 'none', write: false,
  });
  const code = out.outputFiles[0].contents;
  languages[lang] = versioned(`widget-${lang}`, code);
  languageGzip[lang] = gzipSync(code, { level: 9 }).length;
}
const widgetCode = await bundle('widget.ts', 'es2019', { __CALL_BUNDLE__: JSON.stringify(call), __COBROWSE_BUNDLE__: JSON.stringify(cobrowse), __LANGUAGES__: JSON.stringify(languages) });
const widget = versioned('widget', widgetCode);
const loader = await bundle('loader.ts', 'es2019', { __WIDGET__: JSON.stringify(widget) });
writeFileSync(`${dist}/widget.js`, loader);
writeFileSync(`${dist}/widget.json`, JSON.stringify({ widget, call, cobrowse }, null, 2) + '\n');
copyFileSync(`${here}_headers`, `${dist}/_headers`);

// A loader cached for minutes still names the previous release: keep the last few.
const kept = readdirSync(`${dist}/w`)
  .map((name) => ({ name, at: statSync(`${dist}/w/${name}`).mtimeMs }))
  .sort((a, b) => b.at - a.at);
const current = new Set([widget.src, call.src, cobrowse.src, ...Object.values(languages).map((l) => l.src)].map((src) => src.slice(3)));
for (const { name } of kept.filter((f) => !current.has(f.name)).slice(12)) rmSync(`${dist}/w/${name}`);

await build({
  entryPoints: [`${here}portal/src/main.tsx`],
  outfile: `${dist}/portal/app.js`,
  plugins: [catalogs],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
});
// P8's mirror: its own page, framed by the portal in a sandbox (see mirror/index.html).
mkdirSync(`${dist}/mirror`, { recursive: true });
await build({
  entryPoints: [`${here}mirror/mirror.ts`],
  outfile: `${dist}/mirror/mirror.js`,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none',
});
copyFileSync(`${here}mirror/index.html`, `${dist}/mirror/index.html`);
copyFileSync(`${here}mirror/mirror.css`, `${dist}/mirror/mirror.css`);
copyFileSync(`${here}node_modules/rrweb/dist/style.css`, `${dist}/mirror/rrweb.css`);
copyFileSync(`${here}portal/index.html`, `${dist}/portal/index.html`);
copyFileSync(`${here}portal/portal.css`, `${dist}/portal/portal.css`);
copyFileSync(`${here}portal/favicon.svg`, `${dist}/portal/favicon.svg`);

// The emoji picker's data, one file per language, fetched when the picker first opens:
// emojibase's CLDR names and keywords (emoji-picker-element-data), trimmed to what the
// search needs — [emoji, group, "name keyword keyword…"]. The skin-tone group (2) is left
// out, and emoji newer than 14.0 (not drawn by most systems' fonts yet).
mkdirSync(`${dist}/portal/emoji`, { recursive: true });
for (const [lang, file] of [['en', 'en/emojibase'], ['fr', 'fr/emojibase'], ['pl', 'pl/cldr']]) {
  const data = JSON.parse(readFileSync(`${here}node_modules/emoji-picker-element-data/${file}/data.json`, 'utf8'));
  const rows = data
    .filter((e) => e.group !== undefined && e.group !== 2 && e.version <= 14)
    .sort((a, b) => a.order - b.order)
    .map((e) => [e.emoji, e.group, [e.annotation, ...(e.tags ?? []), ...(e.shortcodes ?? [])].join(' ').toLowerCase()]);
  writeFileSync(`${dist}/portal/emoji/${lang}.json`, JSON.stringify(rows));
}

const gz = (code) => gzipSync(code, { level: 9 }).length;
const sizes = {
  loader_bytes: loader.length,
  widget_bytes: widgetCode.length,
  // A page in French or Polish loads its language file too: the budget counts the largest.
  language_gzip_bytes: languageGzip,
  first_load_gzip_bytes: gz(loader) + gz(widgetCode) + Math.max(...Object.values(languageGzip)),
};
writeFileSync(`${dist}/sizes.json`, JSON.stringify(sizes, null, 2) + '\n');
console.log(`widget ${widget.src}: loader ${sizes.loader_bytes} + widget ${sizes.widget_bytes} bytes, ${sizes.first_load_gzip_bytes} bytes gzipped with the largest language file`);
