// Bundles the widget (one IIFE, no globals but `Vitrine`) and the portal (Preact) into dist/.
// Writes dist/sizes.json with the widget's raw and gzipped size (its budget is 12 KB gz).
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';

const here = new URL('.', import.meta.url).pathname;
const dist = `${here}dist`;
mkdirSync(`${dist}/portal`, { recursive: true });

await build({
  entryPoints: [`${here}widget/src/widget.ts`],
  outfile: `${dist}/widget.js`,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2019'],
  legalComments: 'none',
});

// The call UI, fetched by the widget only when a call starts.
await build({
  entryPoints: [`${here}widget/src/call-bundle.ts`],
  outfile: `${dist}/widget-call.js`,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none',
});

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

const widget = readFileSync(`${dist}/widget.js`);
const sizes = { widget_bytes: widget.length, widget_gzip_bytes: gzipSync(widget, { level: 9 }).length };
writeFileSync(`${dist}/sizes.json`, JSON.stringify(sizes, null, 2) + '\n');
console.log(`widget.js: ${sizes.widget_bytes} bytes, ${sizes.widget_gzip_bytes} bytes gzipped`);
