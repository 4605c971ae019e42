import type { SocketFactory } from '../sockets.js';

/**
 * The browser's socket factory, on the page's own `WebSocket`: the page (not the sandbox
 * worker) holds each socket, so the host's policy and allow-list checks come first (see
 * socket-bridge.ts). What a browser does not let a page do: resolve names (the URL's host is
 * all that is checked; DNS rebinding is the browser's and the network's to stop), refuse a
 * frame before it is read (one over `maxPayload` closes the socket with 1009 once it arrived),
 * and stop reading (pause and resume do nothing; the bridge's credit still bounds what the
 * stub is given).
 */
export const openBrowserWebSocket: SocketFactory = (url, protocols, events, { maxPayload }) => {
  const ws = new WebSocket(url, [...protocols]);
  ws.binaryType = 'arraybuffer';
  const decoder = new TextDecoder();
  ws.onopen = () => events.open(ws.protocol);
  ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
    const data = typeof event.data === 'string' ? event.data : decoder.decode(event.data);
    // UTF-16 length bounds UTF-8 bytes from below by a third: measured exactly only when near.
    if (data.length * 3 > maxPayload && new TextEncoder().encode(data).byteLength > maxPayload) {
      ws.close(1009, 'frame too large');
      return;
    }
    events.message(data);
  };
  ws.onclose = (event) => events.close(event.code, event.reason);
  ws.onerror = () => events.error(`WebSocket to ${url} failed`);
  return {
    send: (data) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(data);
    },
    close: (code, reason) => {
      // A page may close with 1000 or 3000-4999 only, and a reason of at most 123 bytes.
      try {
        ws.close(code === undefined || code === 1000 || code >= 3000 ? code : 1000, reason);
      } catch {
        ws.close();
      }
    },
    pause: () => {},
    resume: () => {},
  };
};
