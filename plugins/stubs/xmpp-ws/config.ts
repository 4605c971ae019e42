/** Its configuration (protofly.json's schema): checked, defaults filled in, by the runtime. */
export type Config = {
  readonly url: string;
  readonly guestUrl?: string;
  readonly password?: string;
  readonly resource: string;
  readonly mechanisms: readonly string[];
  readonly maxIterations: number;
  readonly reconnectDelayMs: number;
  readonly reconnectDelayMaxMs: number;
  readonly randomizationFactor: number;
  readonly connectTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly dedupWindow: number;
  readonly maxQueued: number;
  readonly receiptTimeoutMs: number;
};
