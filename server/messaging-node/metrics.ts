/**
 * The node's counters, rendered in the Prometheus text exposition format (version 0.0.4).
 * Plain numbers bumped on the message path; the text is built only when scraped.
 */
export class NodeMetrics {
  /** `msg` frames received from clients, accepted or not. */
  messagesIn = 0;
  /** `msg` frames sent to sessions (a forked message counts once per session). */
  messagesOut = 0;
  acks = 0;
  /** Messages put in the offline store. */
  stored = 0;
  /** Sessions closed because handling one of their frames failed (PF_ERR_INTERNAL). */
  contained = 0;
  /** Refusals by error code. */
  readonly refused = new Map<string, number>();

  /** Counts a refusal. */
  refuse(code: string): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }

  /** The exposition text, with the gauges read now. */
  render(gauges: { connections: number; pendingAuth: number; storedNow: number }): string {
    const lines = [
      ...metric('connections', 'gauge', 'Open WebSocket connections.', gauges.connections),
      ...metric('pending_auth', 'gauge', 'Open connections not yet authenticated.', gauges.pendingAuth),
      ...metric('messages_in_total', 'counter', 'Messages received from clients.', this.messagesIn),
      ...metric('messages_out_total', 'counter', 'Messages sent to sessions.', this.messagesOut),
      ...metric('acks_total', 'counter', 'Messages acknowledged.', this.acks),
      ...metric('stored_total', 'counter', 'Messages stored for an offline recipient.', this.stored),
      ...metric('stored_messages', 'gauge', 'Messages in the offline store now.', gauges.storedNow),
      ...metric(
        'sessions_failed_total',
        'counter',
        'Sessions closed because handling one of their frames failed; the node served on.',
        this.contained,
      ),
      '# HELP protofly_node_refused_total Frames and connections refused, by error code.',
      '# TYPE protofly_node_refused_total counter',
      ...[...this.refused].map(([code, n]) => `protofly_node_refused_total{code="${code}"} ${n}`),
    ];
    return `${lines.join('\n')}\n`;
  }
}

function metric(name: string, type: 'gauge' | 'counter', help: string, value: number): string[] {
  const full = `protofly_node_${name}`;
  return [`# HELP ${full} ${help}`, `# TYPE ${full} ${type}`, `${full} ${value}`];
}
