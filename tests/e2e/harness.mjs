// Shared by the browser end-to-end tests: start the real server binary on free ports with a
// fresh data directory, launch Debian's Chromium through playwright-core, stop both by PID.
//
// With VITRINE_E2E_EDGE_DYNAMODB (`cargo xtask e2e --edge`), the same tests run on the edge
// stack: each test gets its own DynamoDB table, a server on it (the API and the demo
// shop), and a Worker in workerd in front (portal, widget, every socket; /api carried to
// that server), as `cargo xtask dev --edge` runs the product.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { after, afterEach, before, beforeEach } from 'node:test';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from 'node:net';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { freePort, startWorker } from '../../edge/worker/serve.mjs';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const ADMIN = { email: 'admin@demo.shop', password: 'vitrine-demo' };

/** Where a test saves a screenshot named `name` for people to look at (outside the clone:
 *  VITRINE_SCREENSHOTS, or the system's temporary directory). */
export function screenshot(name) {
  const dir = process.env.VITRINE_SCREENSHOTS ?? join(tmpdir(), 'vitrine-screenshots');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}${edge ? '-edge' : ''}.png`);
}

const EDGE_DYNAMODB = process.env.VITRINE_E2E_EDGE_DYNAMODB;
/** Whether the tests run on the edge stack. */
export const edge = Boolean(EDGE_DYNAMODB);
// With VITRINE_E2E_CARGO_LAMBDA too, the portal's API is `vitrine-api-lambda` under
// cargo-lambda's Runtime API emulator instead of the server (which still seeds the table
// and serves the demo shop).
const LAMBDA = edge && process.env.VITRINE_E2E_CARGO_LAMBDA
  ? { emulator: process.env.VITRINE_E2E_CARGO_LAMBDA, bin: process.env.VITRINE_E2E_API_LAMBDA, s3: process.env.VITRINE_E2E_S3 }
  : null;

/** The emulator and the API Lambda polling it, on the test's table. */
async function startLambda(workerVars, serverEnv) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const emulator = spawn(LAMBDA.emulator, ['lambda', 'watch', '--only-lambda-apis', '--disable-cors',
    '--invoke-address', '127.0.0.1', '--invoke-port', String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  // The Runtime API is up before the function starts, as in Lambda.
  const listening = Date.now() + 30_000;
  const accepts = () => new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
  while (!(await accepts())) {
    if (Date.now() > listening) throw new Error('the Lambda emulator did not listen in 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const fn = spawn(LAMBDA.bin, [], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...serverEnv, RUST_LOG: 'warn',
      AWS_LAMBDA_RUNTIME_API: `${origin}/.rt`, AWS_LAMBDA_FUNCTION_NAME: '_',
      AWS_LAMBDA_FUNCTION_VERSION: '1', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      VITRINE_DYNAMODB_TABLE: workerVars.VITRINE_DYNAMODB_TABLE, VITRINE_DYNAMODB_ENDPOINT: EDGE_DYNAMODB,
      VITRINE_S3_BUCKET: `e2e-blobs`, VITRINE_S3_ENDPOINT: LAMBDA.s3,
      VITRINE_SECURE_COOKIES: 'false',
    },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${origin}/api/health`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the API Lambda did not answer in 30 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const stopped = (child) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  return {
    origin,
    async stop() {
      fn.kill('SIGTERM');
      emulator.kill('SIGTERM');
      await Promise.all([stopped(fn), stopped(emulator)]);
    },
  };
}

/**
 * The local server (and, on the edge stack, a Worker in front of it and maybe the API as a
 * Lambda). The Worker's port is picked before the server starts (the server must know its
 * public URL), so another process may take it meanwhile: a start that fails stops what it
 * started and tries again on new ports, at most three times.
 */
export async function startServer(extraArgs = [], { host = '127.0.0.1' } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(extraArgs, host);
    } catch (e) {
      if (attempt === 3) throw e;
      console.warn(`# the test stack did not start (${e.message}); trying again on new ports`);
    }
  }
}

async function startServerOnce(extraArgs, host) {
  const bin = process.env.VITRINE_BIN;
  if (!bin) throw new Error('VITRINE_BIN is not set: run the tests with `cargo xtask test`');
  const dataDir = mkdtempSync(join(tmpdir(), 'vitrine-e2e-'));
  // aiosmtpd listens on 127.0.0.1: accounts may use a loopback server here.
  const env = { ...process.env, RUST_LOG: 'warn', VITRINE_MAIL_PRIVATE_HOSTS: 'true' };
  let worker;
  let operatorToken;
  if (edge) {
    const id = randomBytes(6).toString('hex');
    const workerUrl = `http://127.0.0.1:${await freePort()}`;
    const keys = { visitor: `e2e-visitor-${id}`, changes: `e2e-changes-${id}`, operator: `e2e-operator-${id}` };
    operatorToken = keys.operator;
    Object.assign(env, {
      VITRINE_VISITOR_KEY: keys.visitor, VITRINE_CHANGES_KEY: keys.changes, VITRINE_EDGE_ORIGIN: workerUrl,
      AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1',
    });
    extraArgs = [...extraArgs, '--store', 'dynamodb', '--dynamodb-endpoint', EDGE_DYNAMODB,
      '--dynamodb-table', `e2e-${id}`, '--public-url', workerUrl];
    const grace = extraArgs.indexOf('--offline-grace-ms');
    worker = {
      port: Number(new URL(workerUrl).port),
      vars: {
        VITRINE_DYNAMODB_ENDPOINT: EDGE_DYNAMODB, VITRINE_DYNAMODB_TABLE: `e2e-${id}`,
        VITRINE_VISITOR_KEY: keys.visitor, VITRINE_CHANGES_KEY: keys.changes, VITRINE_OPERATOR_TOKEN: keys.operator,
        AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local',
        ...(grace >= 0 ? { VITRINE_OFFLINE_GRACE_MS: extraArgs[grace + 1] } : {}),
      },
    };
  }
  const spawnServer = async (app, demo) => {
    const child = spawn(bin, ['--bind', app, '--demo-bind', demo, '--data-dir', dataDir, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    });
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start in 30 s')), 30_000);
      lines.once('line', (line) => { clearTimeout(timer); resolve(line); });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    lines.on('line', () => {}); // keep draining stdout
    return { child, ...JSON.parse(first) };
  };
  const exited = (child) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  let running = await spawnServer(`${host}:0`, `${host}:0`);
  const { app, demo } = running;
  let lambda;
  if (worker) {
    try {
      let apiOrigin = `http://${app}`;
      if (LAMBDA) {
        lambda = await startLambda(worker.vars, env);
        apiOrigin = lambda.origin;
      }
      worker = await startWorker({ port: worker.port, vars: { ...worker.vars, VITRINE_API_ORIGIN: apiOrigin } });
    } catch (e) {
      // Nothing started here may outlive the failure: a live child keeps the test file
      // from ever exiting.
      await lambda?.stop();
      running.child.kill('SIGTERM');
      await exited(running.child);
      rmSync(dataDir, { recursive: true, force: true });
      throw e;
    }
  }
  return {
    app: worker ? worker.url : `http://${app}`,
    demo: `http://${demo}`,
    /** The server process (benchmarks read its CPU time). */
    pid: running.child.pid,
    /** On the edge stack: drops the site's Durable Object's memory, as an eviction does
     *  (its sockets stay). */
    async evict(site) {
      const res = await fetch(`${worker.url}/internal/evict?site=${encodeURIComponent(site)}`, {
        method: 'POST', headers: { authorization: `Bearer ${operatorToken}` },
      });
      if (!res.ok) throw new Error(`evict: ${res.status}`);
    },
    /** Kills the server at once (no drain), as a crash would. */
    async crash() {
      running.child.kill('SIGKILL');
      await exited(running.child);
    },
    /** Starts it again on the same addresses and data directory. */
    async restart() {
      running = await spawnServer(app, demo);
    },
    async stop() {
      await worker?.stop();
      await lambda?.stop();
      running.child.kill('SIGTERM');
      await exited(running.child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
}

/** One browser for the test file and a fresh server (fresh store, fresh hubs) per test,
 *  so no test can leave state behind for the next: `env.browser`, `env.server`. */
export function perTestServer({ calls = false } = {}) {
  const env = { browser: undefined, server: undefined };
  before(async () => { env.browser = await (calls ? launchCallBrowser() : launchBrowser()); });
  after(async () => { await env.browser?.close(); });
  beforeEach(async () => { env.server = await startServer(); });
  afterEach(async () => {
    await env.server?.stop();
    env.server = undefined;
  });
  return env;
}

/** Signs an agent (the admin by default) in and waits until the live list is connected. */
export async function openPortal(browser, server, who = ADMIN, { init } = {}) {
  const context = await browser.newContext();
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  await page.goto(`${server.app}/portal/`);
  await page.fill('#email', who.email);
  await page.fill('#password', who.password);
  await page.click('button[type=submit]');
  await page.locator('[data-testid=connection]', { hasText: 'live' }).waitFor();
  return page;
}

/** Fails the test on any uncaught error in the shop page: the widget must never break it. */
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** WCAG 2.2 AA problems axe-core finds on the page as it is now, serious or critical
 *  only, inside open shadow roots too (the widget's). Each as "rule: target — summary".
 *  `evaluate` runs outside the page's CSP, so the portal's strict policy stays on. */
export async function accessibilityProblems(page, context = 'document') {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const violations = await page.evaluate(async (context) => {
    const result = await window.axe.run(context === 'document' ? document : context, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => `${JSON.stringify(n.target)} — ${n.failureSummary.split('\n')[1]?.trim()}`) }));
  }, context);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n}`));
}

export const CALL_KEY = 'e2e-call-key-0123456789';

/** Starts the media node binary on free ports; `token()` signs call tokens with its key. */
export async function startMediaNode(extraArgs = []) {
  const bin = process.env.VITRINE_MEDIA_BIN;
  if (!bin) throw new Error('VITRINE_MEDIA_BIN is not set: run the tests with `cargo xtask test`');
  const env = { ...process.env, RUST_LOG: 'warn', VITRINE_CALL_KEY: CALL_KEY };
  const child = spawn(bin, ['--http', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--drain-seconds', '1', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'], env,
  });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('media node did not start in 30 s')), 30_000);
    lines.once('line', (line) => { clearTimeout(timer); resolve(line); });
    child.once('exit', (code) => reject(new Error(`media node exited with ${code}`)));
  });
  lines.on('line', () => {});
  const http = first.match(/http:\/\/\S+/)[0];
  return {
    http,
    ws: `${http.replace('http://', 'ws://')}/ws/call`,
    token({ room, participant, name, role, ttlSeconds = 120, site = 'demo-shop' }) {
      const out = execFileSync(bin, ['sign-token', '--site', site, '--room', room, '--participant', participant,
        '--name', name, '--role', role, '--ttl-seconds', String(ttlSeconds)], { env });
      return out.toString().trim();
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    },
  };
}

/** Chromium with fake camera/microphone that may reach a media node on 127.0.0.1. */
export async function launchCallBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection', ...extraArgs,
    ],
  });
}

/** A real SMTP server (aiosmtpd, VITRINE_AIOSMTPD) on a free port, keeping what arrives in
 *  its own maildir: `smtp.port`, `await smtp.waitFor([...parts])`, `smtp.stop()`. */
export async function startSmtp() {
  const bin = process.env.VITRINE_AIOSMTPD;
  if (!bin) throw new Error('VITRINE_AIOSMTPD is not set: run the browser tests with `cargo xtask test` or `cargo xtask e2e`');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vitrine-smtp-'));
  const child = spawn(bin, ['-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', join(dir, 'maildir')], { stdio: 'ignore' });
  const accepts = () => new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
  const deadline = Date.now() + 15_000;
  while (!(await accepts())) {
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`aiosmtpd did not listen on ${port}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const received = () => {
    try {
      return readdirSync(join(dir, 'maildir', 'new')).map((f) => readFileSync(join(dir, 'maildir', 'new', f), 'utf8'));
    } catch {
      return [];
    }
  };
  return {
    port,
    received,
    async waitFor(parts, timeout = 20_000) {
      const until = Date.now() + timeout;
      for (;;) {
        const found = received().find((m) => parts.every((p) => m.includes(p)));
        if (found) return found;
        if (Date.now() > until) throw new Error(`no e-mail with ${JSON.stringify(parts)}; got ${received().length}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stop() {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An unmodified aiortc as a WHIP publisher (`mode` publish) or WHEP viewer (watch) of
 *  `url` for `seconds` (tests/interop/whip_client.py): its report, as JSON. */
export async function whipClient(mode, url, token, seconds) {
  const python = process.env.VITRINE_AIORTC_PYTHON;
  if (!python) throw new Error('VITRINE_AIORTC_PYTHON is not set: run the tests with `cargo xtask test`');
  const { stdout } = await promisify(execFile)(python,
    [new URL('../interop/whip_client.py', import.meta.url).pathname, mode, url, token, String(seconds)],
    { timeout: 40_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}
