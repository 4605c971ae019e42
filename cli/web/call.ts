/**
 * A WebRTC call in the web demo's page (cli/web/page.ts): an RTCPeerConnection with the
 * camera's and microphone's tracks (Chromium's fake devices when it is driven headless) and a
 * data channel, its offer, answer, candidates and bye carried as conversation bodies by the
 * conversation's stub.
 */
import type { ConversationBody } from '../../entry/browser.js';

/** How the page sends one of the call's bodies (it draws and counts what it sends). */
export type SendSignal = (body: ConversationBody) => Promise<unknown>;

/** Where the call shows its media. */
export interface CallVideos {
  readonly local: HTMLVideoElement;
  readonly remote: HTMLVideoElement;
}

/** The data channel's pings for one round-trip measurement; the median is reported. */
const PINGS = 5;

export class PageCall {
  readonly #pc = new RTCPeerConnection();
  readonly #send: SendSignal;
  readonly #videos: CallVideos;
  #stream: MediaStream | undefined;
  /** Candidates that came before the peer's description, which they need. */
  readonly #early: RTCIceCandidateInit[] = [];
  /** Ours gathered before the offer or answer went: the peer takes none before it. */
  #held: RTCIceCandidate[] | undefined = [];
  #channel: RTCDataChannel | undefined;
  /** Settles once the offer (caller) or the answer (callee) went. */
  readonly ready: Promise<void>;
  /** Settles when the peer connection is `connected`; rejects when it failed. */
  readonly connected: Promise<void>;
  /** Settles when the call ends (the peer's bye or ours). */
  readonly ended: Promise<void>;
  #end!: () => void;

  /**
   * A call the page knows at once, so that what the peer sends while the media and the
   * descriptions are made (its answer, its candidates) finds it; `start` makes them.
   */
  private constructor(
    readonly callId: string,
    videos: CallVideos,
    send: SendSignal,
    start: (call: PageCall) => Promise<void>,
  ) {
    this.#send = send;
    this.#videos = videos;
    this.#pc.ontrack = (e) => {
      videos.remote.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    };
    this.#pc.onicecandidate = (e) => {
      if (!e.candidate) return;
      if (this.#held) this.#held.push(e.candidate);
      else this.#candidate(e.candidate);
    };
    this.connected = new Promise((resolve, reject) => {
      this.#pc.onconnectionstatechange = () => {
        const state = this.#pc.connectionState;
        if (state === 'connected') resolve();
        else if (state === 'failed') reject(new Error('the peer connection failed (ICE found no path)'));
      };
    });
    this.ended = new Promise((resolve) => {
      this.#end = resolve;
    });
    this.ready = start(this);
  }

  /** Places a call on `send`'s conversation: media, a data channel, the offer. */
  static place(send: SendSignal, videos: CallVideos): PageCall {
    return new PageCall(crypto.randomUUID(), videos, send, async (call) => {
      await call.#media();
      call.#channel = call.#pc.createDataChannel('rtt');
      await call.#pc.setLocalDescription(await call.#pc.createOffer());
      const placing = send({
        kind: 'offer',
        callId: call.callId,
        sdp: call.#pc.localDescription!.sdp,
        media: ['audio', 'video', 'data'],
      });
      // Sent after the offer, in order: the peer knows the call when they arrive.
      call.#release();
      await placing;
    });
  }

  /** Answers an offer that arrived on `send`'s conversation; the data channel echoes the caller's pings. */
  static answer(offer: { callId: string; sdp: string }, send: SendSignal, videos: CallVideos): PageCall {
    return new PageCall(offer.callId, videos, send, async (call) => {
      call.#pc.ondatachannel = (e) => {
        e.channel.onmessage = (m) => e.channel.send(m.data);
      };
      await call.#media();
      await call.#pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
      await call.#applyEarly();
      await call.#pc.setLocalDescription(await call.#pc.createAnswer());
      const answering = send({ kind: 'answer', callId: call.callId, sdp: call.#pc.localDescription!.sdp });
      call.#release();
      await answering;
    });
  }

  /** The peer's answer, candidate or bye for this call. */
  async signal(body: ConversationBody): Promise<void> {
    if (!('callId' in body) || body.callId !== this.callId) return;
    if (body.kind === 'answer') {
      await this.#pc.setRemoteDescription({ type: 'answer', sdp: body.sdp });
      await this.#applyEarly();
    } else if (body.kind === 'candidate') {
      const candidate = {
        candidate: body.candidate,
        sdpMid: body.sdpMid ?? null,
        sdpMLineIndex: body.sdpMLineIndex ?? null,
      };
      if (this.#pc.remoteDescription) await this.#pc.addIceCandidate(candidate);
      else this.#early.push(candidate);
    } else if (body.kind === 'bye') {
      this.#close();
    }
  }

  /** The median round trip of {@link PINGS} pings on the data channel, in milliseconds (caller's side). */
  async rttMs(): Promise<number> {
    const channel = this.#channel;
    if (!channel) throw new Error('only the caller measures the round trip');
    if (channel.readyState !== 'open') {
      await new Promise<void>((resolve) => channel.addEventListener('open', () => resolve(), { once: true }));
    }
    const times: number[] = [];
    for (let i = 0; i < PINGS; i++) {
      const sent = performance.now();
      await new Promise<void>((resolve) => {
        channel.addEventListener('message', () => resolve(), { once: true });
        channel.send(`ping ${i}`);
      });
      times.push(performance.now() - sent);
    }
    times.sort((a, b) => a - b);
    return Math.round(times[PINGS >> 1]! * 1000) / 1000;
  }

  /** The kinds of the tracks the peer sends that arrived. */
  remoteTracks(): string[] {
    return this.#pc.getReceivers().map((r) => r.track.kind);
  }

  /** Ends the call: bye to the peer, media stopped. */
  async hangUp(): Promise<void> {
    this.#close();
    await this.#send({ kind: 'bye', callId: this.callId });
  }

  /** The camera's and microphone's tracks, shown and sent. */
  async #media(): Promise<void> {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: 320, height: 240 },
    });
    this.#stream = stream;
    this.#videos.local.srcObject = stream;
    for (const track of stream.getTracks()) this.#pc.addTrack(track, stream);
  }

  #close(): void {
    for (const track of this.#stream?.getTracks() ?? []) track.stop();
    this.#pc.close();
    this.#end();
  }

  #candidate(c: RTCIceCandidate): void {
    void this.#send({
      kind: 'candidate',
      callId: this.callId,
      candidate: c.candidate,
      sdpMid: c.sdpMid,
      sdpMLineIndex: c.sdpMLineIndex,
    });
  }

  #release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const c of held) this.#candidate(c);
  }

  async #applyEarly(): Promise<void> {
    for (const c of this.#early.splice(0)) await this.#pc.addIceCandidate(c);
  }
}
