/**
 * RFC 3261 §17 timer values (Table 4, §A) for a reliable transport, where the timers that
 * pace retransmissions (A, E, G) never run and the ones that wait for stray retransmissions
 * (D, I, J, K) are zero: a WebSocket carries SIP over TCP (RFC 7118 §5).
 */
export interface TransactionTimers {
  /** T1: the round-trip estimate, 500 ms by default. */
  readonly t1: number;
  /** T2: the longest interval between retransmissions of a 2xx to INVITE (§13.3.1.4). */
  readonly t2: number;
  /** 64·T1: Timers B and F (no final response), H (no ACK), L and M (RFC 6026 Accepted). */
  readonly timeout: number;
}

/** The timers for a given T1; T2 keeps its 4 s unless T1 is shorter than the default in proportion. */
export function transactionTimers(t1: number): TransactionTimers {
  return { t1, t2: Math.min(4000, t1 * 8), timeout: 64 * t1 };
}
