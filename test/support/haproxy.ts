import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  type BalancerStat,
  balancerStats,
  balancerCommand as commandAt,
} from '../../server/network-domain.js';

/** deploy/haproxy.cfg: the balancer the tests and benchmarks run is the one shipped. */
const HAPROXY_CFG = join(import.meta.dirname, '../../deploy/haproxy.cfg');

/** Where one host behind the balancer listens, on loopback. */
export interface BalancedHost {
  /** The messaging node's port. */
  readonly messaging: number;
  /** Its admin port, where /health is. */
  readonly admin: number;
  /** Its catalogue's port; none: the catalogue backend's checks fail for it, and nothing asks it. */
  readonly catalogue?: number;
}

/** The balancer: HAProxy with deploy/haproxy.cfg, and the ports it was given. */
export interface Balancer {
  readonly child: ChildProcess;
  readonly messagingUrl: string;
  readonly catalogueUrl: string;
  /** Its runtime API socket (`show stat`, `set server ... state`). */
  readonly socket: string;
}

/**
 * Starts HAProxy in the foreground with deploy/haproxy.cfg, the hosts (three, as the file lists)
 * behind it and its public `ports` ([messaging, catalogue]) on loopback, health checks every
 * 100 ms. A missing haproxy fails the caller, saying how to install it.
 */
export function startBalancer(dir: string, hosts: readonly BalancedHost[], ports: number[]): Balancer {
  if (spawnSync('haproxy', ['-v']).error) {
    throw new Error('haproxy is not installed: apt-get install -y haproxy (CI installs it in .ci/run)');
  }
  const [messaging, catalogue] = ports as [number, number];
  const socket = join(dir, 'haproxy.sock');
  // The values deploy/haproxy.cfg documents.
  const env: Record<string, string> = {
    PF_MESSAGING_BIND: `127.0.0.1:${messaging}`,
    PF_CATALOGUE_BIND: `127.0.0.1:${catalogue}`,
    PF_CHECK_INTERVAL: '100ms',
    PF_STATS_SOCKET: socket,
  };
  hosts.forEach((h, i) => {
    env[`PF_HOST${i + 1}_MESSAGING`] = `127.0.0.1:${h.messaging}`;
    env[`PF_HOST${i + 1}_ADMIN_PORT`] = String(h.admin);
    env[`PF_HOST${i + 1}_CATALOGUE`] = `127.0.0.1:${h.catalogue ?? h.messaging}`;
  });
  const child = spawn('haproxy', ['-f', HAPROXY_CFG, '-db'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  child.once('exit', (code) => {
    if (code) console.error(`haproxy exited ${code}: ${err}`);
  });
  return {
    child,
    messagingUrl: `ws://127.0.0.1:${messaging}/`,
    catalogueUrl: `http://127.0.0.1:${catalogue}`,
    socket,
  };
}

/** Sends one command to the balancer's runtime API; its answer. */
export function balancerCommand(balancer: Balancer, command: string): Promise<string> {
  return commandAt(balancer.socket, command);
}

/** A server's line of HAProxy's `show stat`, by column name. */
export type Stat = BalancerStat;

/** HAProxy's `show stat` from its runtime API, by `<backend>/<server>`. */
export function stats(balancer: Balancer): Promise<Map<string, Stat>> {
  return balancerStats(balancer.socket);
}
