import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { ProtoflyError } from '../core/errors.js';

/**
 * Real network hosts on one machine: a Linux network namespace per host (its own interfaces,
 * addresses, ports and routes), each joined by a veth pair to one bridge that lives in a
 * namespace of its own (the switch), and one more veth from the machine itself to that bridge
 * (the uplink: where the tests' and the demo's clients are). Hosts reach each other and the
 * machine, by their addresses on a private /24 of 10.0.0.0/8, and nothing else: a namespace
 * starts empty, with no route out. Processes run inside a host with `ip netns exec`.
 *
 * Names are unique per network (`pf<8 hex>-<host>`), so networks of runs side by side do not
 * meet; {@link HostNetwork.close} kills what runs inside and deletes the namespaces (which
 * deletes their links), and so do this process's exit, SIGINT and SIGTERM when close was never
 * reached.
 * Debian's iproute2 (`ip`), as root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
 */

/** One host of a {@link HostNetwork}. */
export interface NetHost {
  /** Its name in the network (`redis`, `host1`...). */
  readonly name: string;
  /** Its network namespace, unique to this network. */
  readonly namespace: string;
  /** Its address on the network. */
  readonly address: string;
  /** Starts `command` inside the host (`ip netns exec`: the child is the command itself). */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /**
   * Cuts the host off the network: its port on the switch goes down (`ip link set ... down`),
   * as a cable pulled at the switch. The host is not told: its connections stall, they do not
   * close.
   */
  cut(): Promise<void>;
  /** Puts its port on the switch up again: stalled connections resume where TCP still holds them. */
  restore(): Promise<void>;
  /** Kills (SIGKILL) every process inside the host, as a machine that loses power. */
  kill(): Promise<void>;
}

/** Hosts in namespaces on one bridge, and the machine's own address on it. */
export interface HostNetwork {
  /** The network's private /24, `10.a.b.0/24`. */
  readonly subnet: string;
  /** This machine's address on the network (the uplink's). */
  readonly gateway: string;
  readonly hosts: ReadonlyMap<string, NetHost>;
  /** Every namespace and link it made (for a check that none is left after {@link close}). */
  readonly made: { readonly namespaces: readonly string[]; readonly links: readonly string[] };
  /** Kills every process in its hosts and deletes its namespaces and links. Idempotent. */
  close(): Promise<void>;
}

/** What `ip` prints when it lacks the privileges, and the install line when it is missing. */
const HOW =
  'network namespaces need Linux, iproute2 (Debian: apt-get install -y iproute2) and root (CAP_NET_ADMIN, CAP_SYS_ADMIN)';

/** Runs `ip` with `args`; its stderr in the error when it fails. */
function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ip: not installed' : stderr.trim();
      reject(new Error(`ip ${args.join(' ')}: ${why || err.message}`));
    });
  });
}

/** The namespaces' processes, by `ip netns pids`. */
async function pidsOf(namespace: string): Promise<number[]> {
  const out = await ip(['netns', 'pids', namespace]).catch(() => '');
  return out.split(/\s+/).filter(Boolean).map(Number);
}

/** Networks not closed yet, deleted when this process exits anyway. */
const open = new Set<{ namespaces: readonly string[]; links: readonly string[] }>();
let exitHook = false;

/** Tears down synchronously what `made` holds: the last resort of a process exiting without close(). */
function teardownSync(made: { namespaces: readonly string[]; links: readonly string[] }): void {
  for (const ns of made.namespaces) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/);
      for (const pid of pids.filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {}
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {}
  }
  for (const link of made.links) {
    try {
      execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    } catch {}
  }
}

/** A /24 of 10.0.0.0/8 that no address or route of this machine is in. */
async function freeSubnet(): Promise<string> {
  const used = `${await ip(['-4', '-o', 'addr', 'show'])}\n${await ip(['-4', 'route', 'show'])}`;
  for (;;) {
    const prefix = `10.${randomInt(128, 255)}.${randomInt(0, 256)}.`;
    if (!used.includes(` ${prefix}`)) return prefix;
  }
}

/**
 * Makes a network of hosts named `names`, each with its own namespace and address (the first
 * `.11`, the next `.12`...; the machine is `.1`).
 *
 * @throws ProtoflyError `PF_ERR_NETNS` when namespaces cannot be made here (not root, no
 *   iproute2, not Linux), saying so; nothing it made is left behind.
 */
export async function createNetwork(names: readonly string[]): Promise<HostNetwork> {
  const id = randomBytes(4).toString('hex');
  const switchNs = `pf${id}-switch`;
  const uplink = `pf${id}`;
  const namespaces: string[] = [];
  const links: string[] = [];
  const made = { namespaces, links };
  open.add(made);
  if (!exitHook) {
    exitHook = true;
    const teardown = () => {
      for (const m of open) teardownSync(m);
      open.clear();
    };
    process.once('exit', teardown);
    // Ctrl-C or a kill ends a process without its exit event: the network goes first, then
    // the signal does what it would have done (unless someone else listens for it).
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        teardown();
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    }
  }
  const hosts = new Map<string, NetHost>();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    // A namespace outlives `ip netns del` while a process holds it: its processes go first.
    await Promise.all(namespaces.map(async (ns) => killAll(ns)));
    for (const ns of namespaces) await ip(['netns', 'del', ns]).catch(() => {});
    // Deleting the switch deleted the uplink's far end, and so the uplink; a failed start may
    // have left it alone.
    for (const link of links) await ip(['link', 'del', link]).catch(() => {});
    open.delete(made);
  };
  let prefix = '';
  try {
    prefix = await freeSubnet();
    namespaces.push(switchNs);
    await ip(['netns', 'add', switchNs]);
    await ip(['-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', switchNs, 'link', 'set', 'br0', 'up']);
    links.push(uplink);
    await ip(['link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', switchNs]);
    await ip(['-n', switchNs, 'link', 'set', 'uplink', 'master', 'br0', 'up']);
    await ip(['addr', 'add', `${prefix}1/24`, 'dev', uplink]);
    await ip(['link', 'set', uplink, 'up']);
    for (const [i, name] of names.entries()) {
      const ns = `pf${id}-${name}`;
      const port = `p${i}`;
      const address = `${prefix}${11 + i}`;
      namespaces.push(ns);
      await ip(['netns', 'add', ns]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
      await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      hosts.set(name, {
        name,
        namespace: ns,
        address,
        spawn: (command, args, options = {}) => spawn('ip', ['netns', 'exec', ns, command, ...args], options),
        cut: () => ip(['-n', switchNs, 'link', 'set', port, 'down']).then(() => {}),
        restore: () => ip(['-n', switchNs, 'link', 'set', port, 'up']).then(() => {}),
        kill: () => killAll(ns),
      });
    }
  } catch (err) {
    await close();
    throw new ProtoflyError(
      'PF_ERR_NETNS',
      `cannot make network namespaces here: ${HOW}; ${(err as Error).message}`,
    );
  }
  return { subnet: `${prefix}0/24`, gateway: `${prefix}1`, hosts, made, close };
}

/** Kills every process in `namespace` and waits until none is left. */
async function killAll(namespace: string): Promise<void> {
  for (let pids = await pidsOf(namespace); pids.length; pids = await pidsOf(namespace)) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Namespaces and links of this machine, by name: for a check that a network left none. */
export async function netnsLeft(made: HostNetwork['made']): Promise<string[]> {
  const namespaces = await ip(['netns', 'list']).catch(() => '');
  const links = await ip(['-o', 'link', 'show']).catch(() => '');
  const names = new Set([
    ...namespaces.split('\n').map((l) => l.split(' ')[0]!),
    ...links.split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? ''),
  ]);
  return [...made.namespaces, ...made.links].filter((n) => names.has(n));
}
