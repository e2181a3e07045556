// A visitor behind a firewall (../shared/notes/hostile-networks.md): a network namespace
// with one veth pair to the host and an nftables rule dropping every UDP packet it sends,
// a Chromium started inside it, and coturn (the TURN relay) on the host side of the pair.
// Needs root (`ip netns`); everything made here is removed by `remove()`/`stop()`, and at
// exit if a test dies first.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const sh = (cmd, ...args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** A namespace `name` whose UDP is dropped; the host is `hostIp` on its side of the pair.
 *  Servers the visitor must reach listen on `hostIp` (reachable from the host as well). */
export function udpDroppingNetwork() {
  if (process.getuid?.() !== 0) throw new Error('a hostile network needs root (ip netns): run the tests as root');
  const id = `${process.pid % 100000}`;
  const name = `vit-${id}`;
  const [hostSide, guestSide] = [`vh${id}`, `vg${id}`];
  const subnet = 1 + (process.pid % 250);
  const hostIp = `10.99.${subnet}.1`;
  const guestIp = `10.99.${subnet}.2`;
  const dir = mkdtempSync(join(tmpdir(), 'vitrine-netns-'));
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    // Deleting the namespace deletes the pair with it.
    try { sh('ip', 'netns', 'del', name); } catch { /* already gone */ }
    try { sh('ip', 'link', 'del', hostSide); } catch { /* went with the namespace */ }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  try {
    sh('ip', 'netns', 'add', name);
    sh('ip', 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', guestSide);
    sh('ip', 'link', 'set', guestSide, 'netns', name);
    sh('ip', 'addr', 'add', `${hostIp}/30`, 'dev', hostSide);
    sh('ip', 'link', 'set', hostSide, 'up');
    const inside = (...args) => sh('ip', 'netns', 'exec', name, ...args);
    inside('ip', 'addr', 'add', `${guestIp}/30`, 'dev', guestSide);
    inside('ip', 'link', 'set', guestSide, 'up');
    inside('ip', 'link', 'set', 'lo', 'up');
    inside('nft', 'add', 'table', 'inet', 'fw');
    inside('nft', 'add', 'chain', 'inet', 'fw', 'out', '{ type filter hook output priority 0; policy accept; }');
    inside('nft', 'add', 'rule', 'inet', 'fw', 'out', 'meta', 'l4proto', 'udp', 'drop');
  } catch (e) {
    remove();
    throw new Error(`making the namespace failed: ${e.stderr ?? e.message}`);
  }
  // Playwright drives Chromium over pipes, which `ip netns exec` passes on.
  const wrapper = join(dir, 'chromium-in-namespace');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${name} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return {
    name, hostIp, guestIp, remove,
    /** Whether a UDP datagram from inside reaches the host (it must not). */
    udpBlocked() {
      try {
        sh('ip', 'netns', 'exec', name, 'python3', '-c',
          `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('${hostIp}', 9))`);
        return false;
      } catch (e) {
        return /Operation not permitted/.test(String(e.stderr));
      }
    },
    /** Chromium with fake camera and microphone, inside the namespace; `secure`: the
     *  http origins it treats as secure (cameras need it; the servers here are not on
     *  loopback, and production is https). */
    launchBrowser(secure) {
      return chromium.launch({
        executablePath: wrapper,
        headless: true,
        args: [`--unsafely-treat-insecure-origin-as-secure=${secure.join(',')}`, '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
      });
    },
  };
}

function freePortOn(ip) {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject).listen(0, ip, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** coturn on `ip` with the shared-secret scheme, relaying only to `ip` (the media node's
 *  address, as `infra/` configures it). `aheadSeconds`: its clock runs that far ahead
 *  (libfaketime), so credentials the hub issues now look expired to it. */
export async function startTurn({ ip, secret, aheadSeconds = 0 }) {
  const port = await freePortOn(ip);
  const dir = mkdtempSync(join(tmpdir(), 'vitrine-turn-'));
  const relayFrom = 50000 + Math.floor(Math.random() * 150) * 100;
  const args = ['-n', `--listening-ip=${ip}`, `--listening-port=${port}`, `--relay-ip=${ip}`,
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=vitrine.test', '--fingerprint',
    '--no-tls', '--no-dtls', '--no-cli', '--no-stun', `--allowed-peer-ip=${ip}`, '--denied-peer-ip=0.0.0.0-255.255.255.255',
    `--min-port=${relayFrom}`, `--max-port=${relayFrom + 99}`,
    '--log-file=stdout', '--simple-log', '--verbose', `--pidfile=${join(dir, 'pid')}`, `--db=${join(dir, 'turndb')}`];
  // Its own process group: `faketime` runs coturn as its child, and both must go at stop
  // (a coturn left behind keeps the test file from ever exiting).
  const command = aheadSeconds ? ['faketime', '-f', `+${aheadSeconds}s`, 'turnserver', ...args] : ['turnserver', ...args];
  const child = spawn(command[0], command.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
  });
  const closed = new Promise((r) => child.stdout.once('close', r));
  const killGroup = (signal) => { try { process.kill(-child.pid, signal); } catch { /* already gone */ } };
  process.once('exit', () => killGroup('SIGKILL'));
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const accepts = () => new Promise((resolve) => {
    const socket = connect(port, ip, () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
  const deadline = Date.now() + 15_000;
  while (!(await accepts())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      killGroup('SIGKILL');
      throw new Error(`coturn did not start: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    urls: [`turn:${ip}:${port}?transport=udp`, `turn:${ip}:${port}?transport=tcp`],
    /** What it logged (complete once stopped). */
    log: () => log,
    async stop() {
      killGroup('SIGTERM');
      await closed;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
