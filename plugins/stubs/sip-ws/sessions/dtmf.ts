import type { MediaType } from '../message/index.js';

/**
 * DTMF over SIP INFO as deployed (no RFC; the de-facto `application/dtmf-relay` body of
 * Cisco and most PBXs, a legacy INFO usage in RFC 6086 §2's sense):
 *
 *     Signal=5
 *     Duration=160
 *
 * One key per INFO. `Signal` is one of 0-9 * # A-D (some send 10 and 11 for * and #);
 * `Duration` is in milliseconds.
 */
export const DTMF_RELAY: MediaType = { type: 'application', subtype: 'dtmf-relay', params: new Map() };

/** The Duration sent when the app names none. */
export const DEFAULT_DTMF_MS = 160;

/** The schema's bound on a key press (schemas/conversation.schema.json `duration`). */
const MAX_DURATION_MS = 60_000;
const SIGNAL = /^(?:[0-9*#A-D]|1[01])$/;

/** Whether `digits` and `durationMs` are what the schema allows a dtmf body (and a dtmf-relay body can carry). */
export function isDtmf(digits: string, durationMs: number): boolean {
  return (
    /^[0-9*#A-D]{1,64}$/.test(digits) &&
    Number.isInteger(durationMs) &&
    durationMs >= 1 &&
    durationMs <= MAX_DURATION_MS
  );
}

/** A dtmf-relay body for one key. */
export function formatDtmfRelay(digit: string, durationMs: number): string {
  return `Signal=${digit}\r\nDuration=${durationMs}\r\n`;
}

/** The key and duration of a dtmf-relay body; undefined when it names no valid key. */
export function parseDtmfRelay(body: string): { digit: string; duration: number | undefined } | undefined {
  const fields = new Map<string, string>();
  for (const line of body.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  const signal = fields.get('signal')?.toUpperCase();
  if (signal === undefined || !SIGNAL.test(signal)) return undefined;
  const digit = signal === '10' ? '*' : signal === '11' ? '#' : signal;
  const ms = Number(fields.get('duration'));
  const duration = Number.isInteger(ms) && ms >= 1 && ms <= MAX_DURATION_MS ? ms : undefined;
  return { digit, duration };
}
