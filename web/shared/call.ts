// One participant's connection to the media node: the signaling WebSocket and the
// RTCPeerConnection. Used by the portal and by the widget's lazily loaded call bundle.
//
// The client always makes the offers (see core/src/protocol/media.rs): it sends its microphone,
// camera and (optionally) screen on sendonly transceivers and receives every remote
// track on a recvonly transceiver it maps to the track's id.
import type { CallClientFrame, CallEnd, CallJoinInfo, CallPeer, CallRole, CallServerFrame, RemoteTrack, TrackSource } from './protocol';

/** Why a session is over: as the hub says it (`CallEnd`), or the connection's own end
 *  (`relay_failed`: it never connected, and the TURN relay it was given never gave it a
 *  way through: credentials refused, or the relay unreachable). */
export type SessionEnd = CallEnd | 'connection_closed' | 'media_failed' | 'relay_failed';

/** V10: why calls cannot work in this browser. */
export type CallProblem = 'no_webrtc' | 'no_devices';
import { PING_EVERY_MS } from './socket';

/** Where and how to join: the node's socket, the token, and the relays (from the hub). */
export type CallJoin = CallJoinInfo;

export interface RemoteMedia {
  participant: string;
  name: string;
  role: CallRole;
  /** Microphone + camera. */
  main: MediaStream | null;
  /** Whether the camera is on: off, its transceiver goes inactive and the node drops the
   *  track, so the far end shows initials instead of a frozen last frame. */
  camera: boolean;
  screen: MediaStream | null;
}

export interface CallCallbacks {
  /** Remote participants and their media changed. */
  onChange(remotes: RemoteMedia[]): void;
  /** The call is over for this participant (ended, removed, node stopping, failure). */
  onEnded(reason: SessionEnd): void;
  onError?(code: string, message: string): void;
}

/** What a tile shows when the camera is off: "Demo admin" → "DA". */
export function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}

/** V10: null when calls can work in this browser, else why not (each UI words it). */
export function callSupportProblem(): CallProblem | null {
  if (typeof RTCPeerConnection === 'undefined') return 'no_webrtc';
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return 'no_devices';
  return null;
}

export class CallSession {
  readonly pc: RTCPeerConnection;
  private ws: WebSocket;
  /** Whether a relay gave us a candidate (a way through a network that drops UDP). */
  private relayed = false;
  private senders = new Map<TrackSource, RTCRtpTransceiver>();
  private receiving = new Map<string, RTCRtpTransceiver>();
  private remoteTracks: RemoteTrack[] = [];
  private peers = new Map<string, CallPeer>();
  private negotiating = false;
  private again = false;
  private answer: ((sdp: string) => void) | null = null;
  private over = false;
  private ping: ReturnType<typeof setInterval> | undefined;
  /** Local tracks, for self-view. */
  readonly local = new MediaStream();
  participant = '';

  constructor(private join: CallJoin, private cb: CallCallbacks) {
    // Only the relays the hub gives (none configured: direct only); nothing hard-coded.
    this.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: join.ice_servers });
    this.pc.addEventListener('icecandidate', (e) => {
      if (e.candidate?.type === 'relay') this.relayed = true;
    });
    this.ws = new WebSocket(join.url);
    this.ws.onopen = () => {
      this.ws.send(JSON.stringify({ type: 'join', room: join.room, token: join.token } satisfies CallClientFrame));
      for (const text of this.queued.splice(0)) this.ws.send(text);
      this.ping = setInterval(() => this.send({ type: 'ping' }), PING_EVERY_MS);
    };
    this.ws.onmessage = (e) => this.onFrame(JSON.parse(String(e.data)) as CallServerFrame);
    this.ws.onclose = () => this.finish('connection_closed');
    this.pc.onconnectionstatechange = () => {
      if (this.pc.connectionState === 'failed') this.finish('media_failed');
    };
  }

  /** Starts sending: microphone on, camera as asked (visitors start with it off, V3). */
  async publish(opts: { microphone: boolean; camera: boolean }): Promise<void> {
    if (this.join.role === 'preview') return;
    const mic = this.pc.addTransceiver('audio', { direction: 'sendonly' });
    const cam = this.pc.addTransceiver('video', { direction: opts.camera ? 'sendonly' : 'inactive' });
    this.senders.set('microphone', mic);
    this.senders.set('camera', cam);
    if (opts.microphone) await this.setMicrophone(true);
    if (opts.camera) await this.device('video', true, 'camera');
    await this.negotiate();
  }

  private async device(kind: 'audio' | 'video', on: boolean, source: TrackSource): Promise<boolean> {
    const t = this.senders.get(source);
    if (!t) return false;
    const old = t.sender.track;
    if (old) { old.stop(); this.local.removeTrack(old); }
    if (!on) { await t.sender.replaceTrack(null); return false; }
    const media = await navigator.mediaDevices.getUserMedia(kind === 'audio' ? { audio: true } : { video: { width: 640, height: 360 } });
    const track = media.getTracks()[0];
    this.local.addTrack(track);
    await t.sender.replaceTrack(track);
    return true;
  }

  setMicrophone(on: boolean) { return this.device('audio', on, 'microphone'); }
  /** The camera is published only while on (see `RemoteMedia.camera`), so switching it
   *  renegotiates; the microphone only swaps its track. */
  async setCamera(on: boolean): Promise<boolean> {
    const t = this.senders.get('camera');
    if (!t) return false;
    const result = await this.device('video', on, 'camera');
    t.direction = result ? 'sendonly' : 'inactive';
    await this.negotiate();
    return result;
  }
  get microphoneOn() { return !!this.senders.get('microphone')?.sender.track; }
  get cameraOn() { return !!this.senders.get('camera')?.sender.track; }
  get screenOn() { return !!this.senders.get('screen')?.sender.track; }

  /** Screen share is an extra published track; stopping it unpublishes it. */
  async setScreen(on: boolean, stream?: MediaStream): Promise<boolean> {
    let t = this.senders.get('screen');
    if (on) {
      const media = stream ?? await navigator.mediaDevices.getDisplayMedia({ video: true });
      const track = media.getVideoTracks()[0];
      track.onended = () => { void this.setScreen(false); };
      if (!t) {
        t = this.pc.addTransceiver(track, { direction: 'sendonly' });
        this.senders.set('screen', t);
      } else {
        t.direction = 'sendonly';
        await t.sender.replaceTrack(track);
      }
    } else if (t) {
      t.sender.track?.stop();
      await t.sender.replaceTrack(null);
      t.direction = 'inactive';
    }
    await this.negotiate();
    return on;
  }

  /** Host: remove a participant (V5). */
  remove(participant: string) { this.send({ type: 'remove', participant }); }
  /** Host: end the call for everyone. */
  end() { this.send({ type: 'end' }); this.finish('ended'); }
  leave() { this.send({ type: 'leave' }); this.finish('left'); }

  private queued: string[] = [];

  private send(frame: CallClientFrame) {
    const text = JSON.stringify(frame);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    else if (this.ws.readyState === WebSocket.CONNECTING) this.queued.push(text);
  }

  private finish(reason: SessionEnd) {
    if (this.over) return;
    this.over = true;
    const connected = this.pc.connectionState === 'connected' || this.pc.iceConnectionState === 'completed';
    if ((reason === 'connection_closed' || reason === 'media_failed') && !connected && this.join.ice_servers.length && !this.relayed) reason = 'relay_failed';
    clearInterval(this.ping);
    for (const t of this.local.getTracks()) t.stop();
    for (const t of this.senders.values()) t.sender.track?.stop();
    this.pc.close();
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close();
    this.cb.onEnded(reason);
  }

  private onFrame(frame: CallServerFrame) {
    switch (frame.type) {
      case 'joined':
        this.participant = frame.participant;
        for (const p of frame.peers) this.peers.set(p.participant, p);
        this.emit();
        break;
      case 'peer_joined': this.peers.set(frame.peer.participant, frame.peer); this.emit(); break;
      case 'peer_left': this.peers.delete(frame.participant); this.emit(); break;
      case 'tracks': this.remoteTracks = frame.tracks; void this.negotiate(); break;
      case 'answer': this.answer?.(frame.sdp); break;
      case 'removed': this.finish('removed'); break;
      // The node's reason is for logs; the hub tells each side why in its own frame.
      case 'ended': this.finish('ended'); break;
      case 'error': this.cb.onError?.(frame.code, frame.message); break;
      case 'pong': break;
    }
  }

  /** One offer/answer at a time; changes that arrive meanwhile cause one more round. */
  private async negotiate(): Promise<void> {
    if (this.over) return;
    if (this.negotiating) { this.again = true; return; }
    this.negotiating = true;
    try {
      const wanted = new Map(this.remoteTracks.map((t) => [t.id, t]));
      for (const [id, t] of this.receiving) {
        if (!wanted.has(id)) { t.direction = 'inactive'; this.receiving.delete(id); }
      }
      const spare = this.pc.getTransceivers().filter((t) => t.direction === 'inactive' && t.currentDirection !== 'stopped' && t.mid !== null
        && ![...this.senders.values()].includes(t));
      for (const track of this.remoteTracks) {
        if (this.receiving.has(track.id)) continue;
        const i = spare.findIndex((t) => t.receiver.track.kind === track.kind);
        const t = i >= 0 ? spare.splice(i, 1)[0] : this.pc.addTransceiver(track.kind, { direction: 'recvonly' });
        t.direction = 'recvonly';
        this.receiving.set(track.id, t);
      }
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      const sources: Record<string, TrackSource> = {};
      for (const [source, t] of this.senders) if (t.mid && t.direction === 'sendonly') sources[t.mid] = source;
      const receive: Record<string, string> = {};
      for (const [id, t] of this.receiving) if (t.mid) receive[t.mid] = id;
      const answered = new Promise<string>((resolve) => { this.answer = resolve; });
      this.send({ type: 'offer', sdp: offer.sdp ?? '', sources, receive });
      const sdp = await answered;
      this.answer = null;
      if (this.over) return;
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
      this.emit();
    } catch (e) {
      this.cb.onError?.('negotiation', String(e));
    } finally {
      this.negotiating = false;
    }
    if (this.again) { this.again = false; await this.negotiate(); }
  }

  private emit() {
    const remotes: RemoteMedia[] = [];
    for (const peer of this.peers.values()) {
      const tracks = (source: TrackSource) => {
        const t = this.receiving.get(`${peer.participant}/${source}`);
        return t ? [t.receiver.track] : [];
      };
      const camera = tracks('camera');
      const main = [...tracks('microphone'), ...camera];
      const screen = tracks('screen');
      remotes.push({
        participant: peer.participant, name: peer.name, role: peer.role,
        main: main.length ? new MediaStream(main) : null,
        camera: camera.length > 0,
        screen: screen.length ? new MediaStream(screen) : null,
      });
    }
    this.cb.onChange(remotes);
  }
}
