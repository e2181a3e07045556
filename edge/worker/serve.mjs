// Starts the built Worker (build/, `cargo xtask worker`) in workerd with `wrangler dev
// --local` (or, `--direct`, through Miniflare without wrangler's proxy: benchmarks), on
// 127.0.0.1, and waits until the Worker itself answers. One way to start it
// for every caller: xtask runs this file (`node serve.mjs PORT NAME=VALUE…`, stopped with
// its process group), the browser tests import `startWorker`.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The Worker in workerd through Miniflare, without `wrangler dev`'s proxy in front: what the
 * benchmarks use (the proxy, a Node process, costs more than the Worker does: see
 * BENCHMARKS.md). The same settings as wrangler.toml, written here once more.
 */
export async function startWorkerDirect({ port, vars }) {
  const { Miniflare } = await import('miniflare');
  const state = mkdtempSync(join(tmpdir(), 'vitrine-workerd-'));
  const mf = new Miniflare({
    host: '127.0.0.1',
    port,
    rootPath: here,
    modules: true,
    scriptPath: `${here}shim.mjs`,
    modulesRules: [
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
      { type: 'ESModule', include: ['**/*.js'] },
    ],
    compatibilityDate: '2026-04-01',
    durableObjects: { SITE_HUB: { className: 'SiteHub', useSQLite: true } },
    durableObjectsPersist: state,
    assets: { directory: `${here}../../web/dist`, binding: 'ASSETS', routerConfig: { has_user_worker: true } },
    bindings: { VITRINE_DYNAMODB_TABLE: 'vitrine', AWS_REGION: 'us-east-1', ...vars },
  });
  const url = await mf.ready;
  return {
    url: String(url).replace(/\/$/, ''),
    async stop() {
      await mf.dispose();
      rmSync(state, { recursive: true, force: true });
    },
  };
}

/** `vars`: the Worker's vars and secrets by name. `ownGroup`: the caller stops it with `stop()`. */
export async function startWorker({ port, vars, ownGroup = true }) {
  const state = mkdtempSync(join(tmpdir(), 'vitrine-workerd-'));
  const args = ['dev', '--local', '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-port', String(await freePort()), '--log-level', 'warn', '--show-interactive-dev-session=false',
    // Its own Durable Object storage: Workers side by side never share (or lock) one.
    '--persist-to', state];
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
  const child = spawn(`${here}node_modules/.bin/wrangler`, args, {
    cwd: here,
    stdio: ['ignore', 'inherit', 'inherit'],
    // No network here: workerd's placeholder `request.cf` without trying to fetch one.
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    detached: ownGroup,
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  // Up when the Worker answers an operator path without a token (401), not just workerd.
  const probe = () => fetch(`${url}/internal/stats?site=probe`, { signal: AbortSignal.timeout(5000) })
    .then((r) => r.status, () => 0);
  while ((await probe()) !== 401) {
    if (child.exitCode !== null) throw new Error(`wrangler exited with ${child.exitCode}`);
    if (Date.now() > deadline) {
      process.kill(ownGroup ? -child.pid : child.pid, 'SIGTERM');
      await exited;
      throw new Error('the Worker did not answer within 120 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) process.kill(ownGroup ? -child.pid : child.pid, 'SIGTERM');
      await exited;
      rmSync(state, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  // `node serve.mjs [--direct] PORT NAME=VALUE…`
  const args = process.argv.slice(2);
  const direct = args[0] === '--direct';
  const [port, ...pairs] = direct ? args.slice(1) : args;
  const vars = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  // Stopped with the caller's process group (wrangler, or Miniflare's workerd, included).
  const worker = direct
    ? await startWorkerDirect({ port: Number(port), vars })
    : await startWorker({ port: Number(port), vars, ownGroup: false });
  console.log(`the Worker is up in workerd at ${worker.url}${direct ? ' (Miniflare, no dev proxy)' : ''}`);
}
