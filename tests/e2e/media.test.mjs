// The media node with real Chromium pages and fake camera/microphone: media flows through
// the SFU to every other participant (checked with getStats), screen share arrives, a
// removed participant stops receiving, a joiner sees video quickly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CALL_KEY, launchCallBrowser, startMediaNode, whipClient } from './harness.mjs';

// This release's call UI, as the widget would load it.
const dist = new URL('../../web/dist/', import.meta.url);
const { call } = JSON.parse(readFileSync(new URL('widget.json', dist), 'utf8'));
const CALL_BUNDLE = readFileSync(new URL(call.src.slice(1), dist), 'utf8');
// A blank page on 127.0.0.1 (a secure context for getUserMedia, and in the same local
// address space as the node, so Chromium's local-network checks let the socket through).
const pages = createServer((_, res) => { res.setHeader('content-type', 'text/html'); res.end('<!doctype html><title>call</title>'); });
await new Promise((r) => pages.listen(0, '127.0.0.1', r));
const PAGE = `http://127.0.0.1:${pages.address().port}/call-test`;
test.after(() => pages.close());

async function participant(browser, node, room, id, role, opts = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', (m) => { if (process.env.CALL_DEBUG || m.text().startsWith('call error')) console.log(`[${id}] ${m.text()}`); });
  await page.goto(PAGE);
  await page.addScriptTag({ content: CALL_BUNDLE });
  const token = node.token({ room, participant: id, name: id, role });
  await page.evaluate(async ({ url, room, token, role, camera, screen }) => {
    const { CallSession } = window.__vitrineCall;
    window.ended = null;
    window.remotes = [];
    const joinStartedAt = performance.now();
    window.session = new CallSession({ url, room, token, role, ice_servers: [] }, {
      onChange: (r) => { window.remotes = r; },
      onEnded: (reason) => { window.ended = reason; console.log(`call ended: ${reason}`); },
      onError: (code, message) => console.log(`call error ${code}: ${message}`),
    });
    window.firstFrameMs = null;
    (async () => {
      const deadline = performance.now() + 15_000;
      while (window.firstFrameMs === null && performance.now() < deadline) {
        for (const s of (await window.session.pc?.getStats())?.values() ?? []) {
          if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) {
            window.firstFrameMs = Math.round(performance.now() - joinStartedAt);
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    if (role !== 'preview') await window.session.publish({ microphone: true, camera });
    if (screen) {
      // A canvas stands in for getDisplayMedia (which needs a user gesture and a picker).
      const canvas = document.createElement('canvas');
      canvas.width = 320; canvas.height = 180;
      const ctx = canvas.getContext('2d');
      setInterval(() => { ctx.fillStyle = `hsl(${Date.now() / 10 % 360},80%,50%)`; ctx.fillRect(0, 0, 320, 180); }, 50);
      await window.session.setScreen(true, canvas.captureStream(15));
    }
  }, { url: node.ws, room, token, role, camera: opts.camera ?? true, screen: opts.screen ?? false });
  return { page, context, id };
}

/** Per remote track id: decoded video frames / received audio packets (or all packets). */
async function inbound(page, packets = false) {
  return page.evaluate(async (packets) => {
    const stats = await window.session.pc.getStats();
    const byMid = {};
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp') byMid[s.mid] = s.kind === 'video' && !packets ? s.framesDecoded ?? 0 : s.packetsReceived ?? 0;
    }
    const out = {};
    for (const [id, t] of window.session.receiving) out[id] = byMid[t.mid] ?? 0;
    return out;
  }, packets);
}

async function waitFor(page, predicate, what, timeout = 10_000, packets = false) {
  const started = Date.now();
  let last;
  while (Date.now() - started < timeout) {
    last = await inbound(page, packets);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: ${JSON.stringify(last)}`);
}

const flowing = (ids, kinds = ['microphone', 'camera']) => (s) =>
  ids.every((id) => kinds.every((k) => (s[`${id}/${k}`] ?? 0) > 5));

test('1:1 call through the node: both sides decode the other\'s video and audio; a joiner sees video fast', async (t) => {
  const node = await startMediaNode();
  const browser = await launchCallBrowser();
  t.after(async () => { await browser.close(); await node.stop(); });

  const agent = await participant(browser, node, 'room-1', 'agent', 'host');
  const joinedAt = Date.now();
  const visitor = await participant(browser, node, 'room-1', 'visitor', 'guest');
  await waitFor(visitor.page, (s) => (s['agent/camera'] ?? 0) > 0, 'visitor got no agent video');
  const firstFrameMs = Date.now() - joinedAt;
  // Measured in the page, from creating the session (signaling, ICE, DTLS, keyframe) to
  // the first decoded frame; the figure above adds the context, page load and fake
  // getUserMedia, at the 200 ms granularity of waitFor.
  const joinToFrameMs = await visitor.page.evaluate(() => window.firstFrameMs);
  console.log(`page start → first remote video frame: ${firstFrameMs} ms; join → first decoded frame: ${joinToFrameMs} ms`);
  assert.ok(firstFrameMs < 5_000, `first frame after ${firstFrameMs} ms`);
  assert.ok(joinToFrameMs > 0, 'the page saw no decoded frame');
  await waitFor(visitor.page, flowing(['agent']), 'visitor: agent media');
  await waitFor(agent.page, flowing(['visitor']), 'agent: visitor media');

  // The metrics endpoint counts what was forwarded.
  const metrics = await (await fetch(`${node.http}/metrics`)).text();
  assert.match(metrics, /vitrine_media_participants 2/);
  assert.match(metrics, /vitrine_media_forwarded_frames_total [1-9]/);
});

/** An unmodified aiortc as a guest of a Chromium host in room `room`, for `seconds`. */
async function aiortcGuest(t, room, seconds) {
  const python = process.env.VITRINE_AIORTC_PYTHON;
  assert.ok(python, 'VITRINE_AIORTC_PYTHON is not set: run the tests with `cargo xtask test`');
  const node = await startMediaNode();
  const browser = await launchCallBrowser();
  t.after(async () => { await browser.close(); await node.stop(); });
  const host = await participant(browser, node, room, 'agent', 'host');
  const token = node.token({ room, participant: 'py', name: 'aiortc', role: 'guest' });
  const client = promisify(execFile)(python, [new URL('../interop/aiortc_client.py', import.meta.url).pathname,
    node.ws, room, token, String(seconds)], { timeout: 30_000 });
  return { host, client };
}

test('an unmodified aiortc joins a Chromium host: ICE comes up, it publishes and the host decodes it, it decodes the host\'s audio and video', async (t) => {
  const { host, client } = await aiortcGuest(t, 'room-py', 8);
  // The host decodes what aiortc sends (its synthetic camera and microphone)…
  const seen = (async () => {
    await waitFor(host.page, flowing(['py']), 'the host receives aiortc\'s media', 15_000, true);
    await waitFor(host.page, (s) => (s['py/camera'] ?? 0) > 5, 'the host decodes aiortc\'s video', 15_000);
  })();
  // …and aiortc is told of the host's tracks and receives them.
  const { stdout } = await client;
  const result = JSON.parse(stdout.trim().split('\n').at(-1));
  console.log(`# aiortc: ${JSON.stringify(result)}`);
  await seen;
  assert.equal(result.ice, 'completed');
  assert.deepEqual(result.tracks, ['agent/camera', 'agent/microphone']);
  assert.ok(result.received.audio > 50, `aiortc decoded ${result.received.audio} audio frames`);
  assert.ok(result.received.video > 20, `aiortc decoded ${result.received.video} video frames`);
});

test('WHIP and WHEP: aiortc publishes into a call and a showroom; three aiortc viewers watch the host; bad tokens are refused', async (t) => {
  const node = await startMediaNode();
  const browser = await launchCallBrowser();
  t.after(async () => { await browser.close(); await node.stop(); });
  const whip = (room) => `${node.http}/whip/${room}`;
  const whep = (room) => `${node.http}/whep/${room}`;

  // Into a call: a WHIP publisher takes a guest seat, and the Chromium host decodes it.
  const host = await participant(browser, node, 'call-w', 'agent', 'host');
  const guest = node.token({ room: 'call-w', participant: 'encoder', name: 'Encoder', role: 'guest' });
  const publishing = whipClient('publish', whip('call-w'), guest, 8);
  // The agent in the browser presents to a WHEP viewer at the same time.
  const audience = node.token({ room: 'call-w', participant: 'audience', name: 'Audience', role: 'viewer' });
  const watching = whipClient('watch', whep('call-w'), audience, 6);
  await waitFor(host.page, (s) => (s['encoder/camera'] ?? 0) > 5, 'the host decodes the WHIP publisher\'s video', 15_000);
  const watched = await watching;
  console.log(`# WHEP viewer of a Chromium host: ${JSON.stringify(watched)}`);
  assert.ok(watched.received.video > 20, `the viewer decoded ${watched.received.video} frames of the agent's camera`);
  const published = await publishing;
  assert.equal(published.status, 201, JSON.stringify(published));
  assert.equal(published.connection, 'connected');
  assert.equal(published.deleted, 200);
  assert.equal(published.deleted_again, 404, 'a session is deleted once');

  // A showroom: a WHIP publisher is its host; three viewers share one viewer token.
  const viewer = node.token({ room: 'showroom', participant: 'audience', name: 'Audience', role: 'viewer' });
  assert.equal((await whipClient('watch', whep('showroom'), viewer, 0)).status, 409, 'nobody presents yet');
  const presenter = node.token({ room: 'showroom', participant: 'studio', name: 'Studio', role: 'host' });
  const presenting = whipClient('publish', whip('showroom'), presenter, 14);
  await new Promise((r) => setTimeout(r, 1_500));
  const watchers = await Promise.all([1, 2, 3].map(() => whipClient('watch', whep('showroom'), viewer, 6)));
  for (const w of watchers) {
    console.log(`# WHEP viewer: ${JSON.stringify(w)}`);
    assert.equal(w.status, 201, JSON.stringify(w));
    assert.ok(w.received.video > 20, `a viewer decoded ${w.received.video} video frames`);
    assert.ok(w.received.audio > 50, `a viewer decoded ${w.received.audio} audio frames`);
    assert.equal(w.deleted, 200);
  }
  assert.equal((await presenting).status, 201);

  // Refusals: a viewer token cannot publish, a seat's token cannot watch, a forged or
  // missing token opens nothing, and an offer must be SDP.
  assert.equal((await whipClient('publish', whip('showroom'), viewer, 0)).status, 403);
  assert.equal((await whipClient('watch', whep('showroom'), presenter, 0)).status, 403);
  assert.equal((await whipClient('watch', whep('showroom'), `${viewer}x`, 0)).status, 401);
  const noToken = await fetch(whep('showroom'), { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0' });
  assert.equal(noToken.status, 401);
  assert.equal(noToken.headers.get('www-authenticate'), 'Bearer');
  const notSdp = await fetch(whep('showroom'), { method: 'POST', headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(notSdp.status, 415);
  const badSdp = await fetch(whip('showroom'), { method: 'POST', headers: { authorization: `Bearer ${presenter}`, 'content-type': 'application/sdp' }, body: 'v=0 nonsense' });
  assert.equal(badSdp.status, 400);
});

test('4-party call with screen share; a removed participant stops receiving; the host ending it ends it for all', async (t) => {
  const node = await startMediaNode();
  const browser = await launchCallBrowser();
  t.after(async () => { await browser.close(); await node.stop(); });

  const host = await participant(browser, node, 'room-4', 'host', 'host', { screen: true });
  const guests = [];
  for (const id of ['g1', 'g2', 'g3']) guests.push(await participant(browser, node, 'room-4', id, 'guest'));
  const everyone = [host, ...guests];
  for (const p of everyone) {
    const others = everyone.filter((o) => o !== p).map((o) => o.id);
    await waitFor(p.page, flowing(others), `${p.id} receives all others`, 20_000);
  }
  for (const g of guests) await waitFor(g.page, (s) => (s['host/screen'] ?? 0) > 5, `${g.id} gets the screen share`);
  const names = await guests[0].page.evaluate(() => window.remotes.map((r) => r.participant).sort());
  assert.deepEqual(names, ['g2', 'g3', 'host']);

  // Remove g3: it is told so, and its counters stop growing.
  await host.page.evaluate(() => window.session.remove('g3'));
  await guests[2].page.waitForFunction(() => window.ended !== null);
  assert.equal(await guests[2].page.evaluate(() => window.ended), 'removed');
  await guests[0].page.waitForFunction(() => !window.remotes.some((r) => r.participant === 'g3'));
  // The others stop getting g3's tracks (renegotiated away).
  await waitFor(guests[0].page, (s) => !('g3/camera' in s), 'g1 still subscribed to g3');

  await host.page.evaluate(() => window.session.end());
  for (const g of guests.slice(0, 2)) {
    await g.page.waitForFunction(() => window.ended !== null);
    // The node's `ended` frame, not a dropped connection ('connection_closed').
    assert.equal(await g.page.evaluate(() => window.ended), 'ended');
  }
});

test('interop: a str0m client (not Chromium) and Chromium exchange audio and video through the node', async (t) => {
  const node = await startMediaNode();
  const browser = await launchCallBrowser();
  t.after(async () => { await browser.close(); await node.stop(); });

  const agent = await participant(browser, node, 'room-x', 'agent', 'host');
  const bin = process.env.VITRINE_MEDIALOAD_BIN;
  assert.ok(bin, 'VITRINE_MEDIALOAD_BIN is not set: run the tests with `cargo xtask test`');
  const rust = promisify(execFile)(bin, ['--ws', node.ws, '--key', CALL_KEY, '--room', 'room-x', '--name', 'rust',
    '--per-room', '1', '--seconds', '4']);
  // Chromium receives the str0m client's RTP (its synthetic payloads are not decodable
  // pictures, so count packets, not decoded frames).
  await waitFor(agent.page, flowing(['rust']), 'Chromium receives the str0m client', 15_000, true);
  const { stdout } = await rust;
  const report = JSON.parse(stdout);
  assert.ok(report.tracks['agent/camera'] > 10, stdout);
  assert.ok(report.tracks['agent/microphone'] > 10, stdout);
});
