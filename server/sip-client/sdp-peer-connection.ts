/**
 * The part of WebRTC's RTCPeerConnection that JsSIP's calls touch, for JsSIP running in Node,
 * which has none (../../shared/PEERS.md): offers and answers are real SDP text, fixed per
 * side, with ICE complete at once; no media flows. The SIP signaling under test is JsSIP's own.
 */

let sessions = 0;

/** An SDP offer or answer such as a browser sends (audio only, one candidate, ICE complete). */
export function sdp(origin: string): string {
  sessions += 1;
  return [
    'v=0',
    `o=${origin} ${sessions} 1 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'c=IN IP4 127.0.0.1',
    'a=mid:0',
    'a=sendrecv',
    'a=rtcp-mux',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=fingerprint:sha-256 D1:2C:BE:AD:C4:F6:64:5C:25:16:11:9C:AF:E7:0F:73:79:36:4E:9C:1E:15:54:39:0C:06:8B:ED:96:86:00:39',
    'a=setup:actpass',
    'a=rtpmap:111 opus/48000/2',
    'a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
    'a=end-of-candidates',
    '',
  ].join('\r\n');
}

interface Description {
  type: 'offer' | 'answer';
  sdp: string;
}

class SdpPeerConnection extends EventTarget {
  localDescription: Description | null = null;
  remoteDescription: Description | null = null;
  signalingState = 'stable';
  iceGatheringState = 'complete';
  iceConnectionState = 'new';
  connectionState = 'new';

  async createOffer(): Promise<Description> {
    return { type: 'offer', sdp: sdp('jssip') };
  }

  async createAnswer(): Promise<Description> {
    return { type: 'answer', sdp: sdp('jssip') };
  }

  async setLocalDescription(d: Description): Promise<void> {
    this.localDescription = d;
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable';
  }

  async setRemoteDescription(d: Description): Promise<void> {
    this.remoteDescription = d;
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable';
  }

  getSenders(): [] {
    return [];
  }

  getReceivers(): [] {
    return [];
  }

  addTrack(): void {}

  close(): void {
    this.signalingState = 'closed';
  }
}

/** A media stream with no tracks: JsSIP then asks no camera or microphone for. */
export const NO_MEDIA = { getTracks: () => [], getAudioTracks: () => [], getVideoTracks: () => [] };

/** Installs the globals JsSIP looks for (`window.RTCPeerConnection`, `RTCSessionDescription`). */
export function installSdpPeerConnection(): void {
  const g = globalThis as Record<string, unknown>;
  g.RTCPeerConnection = SdpPeerConnection;
  g.RTCSessionDescription = class {
    type: string;
    sdp: string;
    constructor(init: Description) {
      this.type = init.type;
      this.sdp = init.sdp;
    }
  };
  g.window ??= globalThis;
}
