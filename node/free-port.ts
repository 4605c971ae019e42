import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port picked: above the registered ports a machine's own services mostly use. */
const LOWEST = 10_000;
/** Random ports tried before the kernel is asked for one. */
const TRIES = 100;

/**
 * A loopback port (TCP, or UDP) free now, for a process started next to listen on: a peer such
 * as Kamailio or Prosody, a host of a test. Picked at random below the kernel's ephemeral range
 * (Linux's ip_local_port_range). The kernel hands out ports of that range to every outgoing
 * connection and every listen on port 0 of the machine, so a port of it let go here can be taken
 * by any of them before the process binds it: a test's host failed "in use" while another test
 * suite ran beside it. Below the range, only a program picking as this one does can take it
 * meanwhile. Where the range is unknown, the kernel picks.
 */
export async function freePort(protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  const below = ephemeralLow();
  for (let i = 0; below !== undefined && i < TRIES; i++) {
    const port = await bindOnce(protocol, randomInt(LOWEST, below));
    if (port !== undefined) return port;
  }
  const port = await bindOnce(protocol, 0);
  if (port === undefined) throw new Error(`no free ${protocol} port on 127.0.0.1`);
  return port;
}

/** True when `port` of 127.0.0.1 can be listened on now (nothing holds it). */
export async function portFree(port: number): Promise<boolean> {
  return (await bindOnce('tcp', port)) !== undefined;
}

/** The first port of the kernel's ephemeral range, when it leaves room below it. */
function ephemeralLow(): number | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > LOWEST + 1000 ? low : undefined;
  } catch {
    return undefined;
  }
}

/** Binds `port` (0: the kernel's pick) on 127.0.0.1 and lets it go: the port, or undefined when it is taken. */
function bindOnce(protocol: 'tcp' | 'udp', port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(undefined));
      socket.bind(port, '127.0.0.1', () => {
        const bound = socket.address().port;
        socket.close(() => resolve(bound));
      });
      return;
    }
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}
