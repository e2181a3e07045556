// Bundles the widget and the portal (Preact) into dist/, as the CDN serves them:
//
// - w/widget.<version>.js, w/widget-call.<version>.js: immutable, named by their content
// - widget.js: the loader a shop's tag names (short-lived), which loads this release's
//   widget with its integrity hash; widget.json publishes both for shops that pin (SRI)
// - _headers: caching and security headers (Cloudflare's format; the local server too)
//
// Writes dist/sizes.json with what a page loads first, loader + widget (budget 12 KB gz).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';

const here = new URL('.', import.meta.url).pathname;
const dist = `${here}dist`;
mkdirSync(`${dist}/portal`, { recursive: true });
mkdirSync(`${dist}/w`, { recursive: true });

/** Bundles one entry in memory (an IIFE). */
async function bundle(entry, target, define = {}) {
  const out = await build({
    entryPoints: [`${here}widget/src/${entry}`],
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
const widgetCode = await bundle('widget.ts', 'es2019', { __CALL_BUNDLE__: JSON.stringify(call) });
const widget = versioned('widget', widgetCode);
const loader = await bundle('loader.ts', 'es2019', { __WIDGET__: JSON.stringify(widget) });
writeFileSync(`${dist}/widget.js`, loader);
writeFileSync(`${dist}/widget.json`, JSON.stringify({ widget, call }, null, 2) + '\n');
copyFileSync(`${here}_headers`, `${dist}/_headers`);

// A loader cached for minutes still names the previous release: keep the last few.
const kept = readdirSync(`${dist}/w`)
  .map((name) => ({ name, at: statSync(`${dist}/w/${name}`).mtimeMs }))
  .sort((a, b) => b.at - a.at);
const current = new Set([widget.src, call.src].map((src) => src.slice(3)));
for (const { name } of kept.filter((f) => !current.has(f.name)).slice(6)) rmSync(`${dist}/w/${name}`);

await build({
  entryPoints: [`${here}portal/src/main.tsx`],
  outfile: `${dist}/portal/app.js`,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
});
copyFileSync(`${here}portal/index.html`, `${dist}/portal/index.html`);
copyFileSync(`${here}portal/portal.css`, `${dist}/portal/portal.css`);
copyFileSync(`${here}portal/favicon.svg`, `${dist}/portal/favicon.svg`);

const gz = (code) => gzipSync(code, { level: 9 }).length;
const sizes = {
  loader_bytes: loader.length,
  widget_bytes: widgetCode.length,
  first_load_gzip_bytes: gz(loader) + gz(widgetCode),
};
writeFileSync(`${dist}/sizes.json`, JSON.stringify(sizes, null, 2) + '\n');
console.log(`widget ${widget.src}: loader ${sizes.loader_bytes} + widget ${sizes.widget_bytes} bytes, ${sizes.first_load_gzip_bytes} bytes gzipped`);
