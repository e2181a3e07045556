// V1–V5 on a network that drops UDP: a visitor's Chromium in a network namespace whose
// every UDP packet is dropped calls an agent outside it, through coturn over TCP (the
// credentials the hub issued with the call token), audio and video both ways, measured
// from getStats(). Then a relay whose clock says those credentials expired: refused, and
// the widget says why. Real parts only: the server and its media node, coturn, nftables.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, launchCallBrowser, openPortal, screenshot, startServer } from './harness.mjs';
import { startTurn, udpDroppingNetwork } from './hostile.mjs';

const SECRET = 'e2e-turn-secret-7c1d';
const W = '[data-vitrine-widget]';
const CALL = '[data-vitrine-call] .call';

let net;

before(() => { net = udpDroppingNetwork(); });
after(() => net?.remove());

/** Every RTCPeerConnection the page makes, for getStats(). */
function recordPeerConnections() {
  const Original = window.RTCPeerConnection;
  window.peerConnections = [];
  window.RTCPeerConnection = new Proxy(Original, {
    construct(target, args) {
      const pc = Reflect.construct(target, args);
      window.peerConnections.push(pc);
      return pc;
    },
  });
}

/** The last connection's media figures: the pair ICE chose, and bytes and frames per kind. */
function mediaStats() {
  return (async () => {
    const pc = window.peerConnections.at(-1);
    if (!pc) return null;
    const stats = [...(await pc.getStats()).values()];
    const transport = stats.find((s) => s.type === 'transport');
    const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId);
    const local = stats.find((s) => s.id === pair?.localCandidateId);
    const sum = (type, kind, field) => stats.filter((s) => s.type === type && s.kind === kind)
      .reduce((n, s) => n + (s[field] ?? 0), 0);
    return {
      at: performance.now(),
      candidate: local ? `${local.candidateType}/${local.relayProtocol ?? local.protocol}` : 'none',
      rttMs: pair?.currentRoundTripTime != null ? pair.currentRoundTripTime * 1000 : null,
      audioIn: sum('inbound-rtp', 'audio', 'bytesReceived'),
      videoIn: sum('inbound-rtp', 'video', 'bytesReceived'),
      framesDecoded: sum('inbound-rtp', 'video', 'framesDecoded'),
      packetsLost: sum('inbound-rtp', 'video', 'packetsLost') + sum('inbound-rtp', 'audio', 'packetsLost'),
      packetsReceived: sum('inbound-rtp', 'video', 'packetsReceived') + sum('inbound-rtp', 'audio', 'packetsReceived'),
      audioOut: sum('outbound-rtp', 'audio', 'bytesSent'),
      videoOut: sum('outbound-rtp', 'video', 'bytesSent'),
    };
  })();
}

async function waitFor(what, check, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last?.ok) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: ${JSON.stringify(last)}`);
}

/** The server, its media node and its pages on the host side of the pair; calls get the
 *  relay. The agent's Chromium outside the namespace, the visitor's inside it. */
async function startStack(t, relay) {
  const turn = await startTurn({ ip: net.hostIp, secret: SECRET, ...relay });
  t.after(() => turn.stop());
  const server = await startServer(['--media-http', `${net.hostIp}:0`, '--media-udp', `${net.hostIp}:0`,
    ...turn.urls.flatMap((url) => ['--turn-url', url]), '--turn-secret', SECRET], { host: net.hostIp });
  t.after(() => server.stop());
  const secure = [server.app, server.demo];
  const outside = await launchCallBrowser([`--unsafely-treat-insecure-origin-as-secure=${secure.join(',')}`]);
  t.after(() => outside.close());
  const inside = await net.launchBrowser(secure);
  t.after(() => inside.close());
  return { server, outside, inside, turn };
}

const portalOf = ({ server, outside }) => openPortal(outside, server, ADMIN, { init: recordPeerConnections });

/** The visitor's shop page, inside the namespace; the agent calls them. */
async function callVisitor({ server, inside }, portal) {
  const context = await inside.newContext();
  await context.addInitScript(recordPeerConnections);
  const shop = await context.newPage();
  if (process.env.CALL_DEBUG) shop.on('console', (m) => console.log(`[shop] ${m.text()}`));
  if (process.env.CALL_DEBUG) portal.on('console', (m) => console.log(`[portal] ${m.text()}`));
  await shop.goto(`${server.demo}/product-lamp.html`);
  await shop.locator(`${W} button.launcher`).waitFor();
  const id = await shop.evaluate(() => window.Vitrine.visitorId());
  await portal.click('[data-testid=page-visitors]');
  await portal.locator(`tr.visitor[data-visitor-id="${id}"] .id`).click();
  await portal.click('[data-testid=details] [data-testid=start-call]');
  await shop.locator(CALL, { hasText: 'is calling you' }).waitFor();
  return shop;
}

test('a visitor whose network drops UDP calls through the relay over TCP: audio and video both ways', { timeout: 120_000 }, async (t) => {
  assert.ok(net.udpBlocked(), 'UDP from the namespace is dropped');
  const stack = await startStack(t, {});
  const portal = await portalOf(stack);
  const shop = await callVisitor(stack, portal);

  const accepted = Date.now();
  await shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  // The visitor turns their camera on, so video flows both ways.
  await shop.locator(`${CALL} button`, { hasText: 'Camera' }).click();
  const first = await waitFor('the visitor sees the agent', async () => {
    const s = await shop.evaluate(mediaStats);
    return { ok: s?.framesDecoded > 0, ...s };
  });
  const joinToFirstFrame = Date.now() - accepted;
  assert.equal(first.candidate, 'relay/tcp', 'the visitor is relayed over TCP');
  await waitFor('the agent sees and hears the visitor', async () => {
    const s = await portal.evaluate(mediaStats);
    return { ok: s?.framesDecoded > 0 && s.audioIn > 0, ...s };
  });

  // Five seconds of the call, measured at both ends.
  const [v0, a0] = [await shop.evaluate(mediaStats), await portal.evaluate(mediaStats)];
  await new Promise((r) => setTimeout(r, 5_000));
  const [v1, a1] = [await shop.evaluate(mediaStats), await portal.evaluate(mediaStats)];
  const kbps = (b, a, field) => Math.round(((b[field] - a[field]) * 8) / (b.at - a.at));
  const figures = {
    joinToFirstFrameMs: joinToFirstFrame,
    visitor: { candidate: v1.candidate, rttMs: v1.rttMs, videoInKbps: kbps(v1, v0, 'videoIn'), audioInKbps: kbps(v1, v0, 'audioIn'),
      videoOutKbps: kbps(v1, v0, 'videoOut'), audioOutKbps: kbps(v1, v0, 'audioOut'),
      lossPercent: +((100 * v1.packetsLost) / Math.max(1, v1.packetsLost + v1.packetsReceived)).toFixed(2) },
    agent: { candidate: a1.candidate, videoInKbps: kbps(a1, a0, 'videoIn'), audioInKbps: kbps(a1, a0, 'audioIn'),
      lossPercent: +((100 * a1.packetsLost) / Math.max(1, a1.packetsLost + a1.packetsReceived)).toFixed(2) },
  };
  console.log(`# relayed call: ${JSON.stringify(figures)}`);
  for (const [who, s] of [['visitor', figures.visitor], ['agent', figures.agent]]) {
    assert.ok(s.videoInKbps > 50, `${who} receives video (${s.videoInKbps} kbit/s)`);
    assert.ok(s.audioInKbps > 5, `${who} receives audio (${s.audioInKbps} kbit/s)`);
  }
  assert.equal(figures.visitor.candidate, 'relay/tcp');
  await shop.screenshot({ path: screenshot('call-through-relay-visitor') });
});

test('a relay that finds the credentials expired refuses the call, and the widget says why', { timeout: 120_000 }, async (t) => {
  // Its clock is five hours ahead: the four-hour credentials the hub issues are past.
  const stack = await startStack(t, { aheadSeconds: 5 * 3600 });
  const portal = await portalOf(stack);
  const shop = await callVisitor(stack, portal);

  await shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  // The node gives up on a seat that never connects after 15 s; the visitor is told why.
  await shop.locator(CALL, { hasText: 'our relay could not connect this call' }).waitFor({ timeout: 45_000 });
  await shop.screenshot({ path: screenshot('call-relay-refused-visitor') });
  assert.equal(await shop.evaluate(() => window.peerConnections.at(-1).connectionState), 'closed');
  await stack.turn.stop();
  const guest = stack.turn.log().split('\n').filter((l) => l.includes('.guest-1>'));
  assert.ok(guest.some((l) => l.includes('error 401: Unauthorized')), `coturn refused the guest's credential:\n${guest.join('\n')}`);
});

test('an agent whose network drops UDP and whose relay refuses is told why the call failed', {
  timeout: 120_000,
  // Known race (failed on a cold run): when the hub's call_ended arrives before the node
  // closes the agent's socket, the panel leaves the session itself and the reason is lost.
  todo: 'the reason is lost when the call ends before the socket closes',
}, async (t) => {
  const stack = await startStack(t, { aheadSeconds: 5 * 3600 });
  // This time the agent is the one behind the firewall; the visitor is outside.
  const portal = await openPortal(stack.inside, stack.server, ADMIN, { init: recordPeerConnections });
  const shop = await callVisitor({ server: stack.server, inside: stack.outside }, portal);
  await shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  // The agent's media never connects; the node drops the host, which ends the call, and
  // the agent reads why rather than only "the call ended".
  await portal.locator('[data-testid=call-lost]', { hasText: 'your network seems to block calls' }).waitFor({ timeout: 45_000 });
  await portal.screenshot({ path: screenshot('call-relay-refused-agent') });
});
