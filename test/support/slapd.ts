import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { freePort } from '../../node/free-port.js';

const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';

/** The directory's suffix, its people and groups, and the read-only account the node binds as. */
export const LDAP_BASE = 'dc=example,dc=test';
export const LDAP_PEOPLE = `ou=people,${LDAP_BASE}`;
export const LDAP_GROUPS = `ou=groups,${LDAP_BASE}`;
export const LDAP_READER = { dn: `cn=reader,${LDAP_BASE}`, password: 'reader secret' };
const ADMIN = { dn: `cn=admin,${LDAP_BASE}`, password: 'admin secret' };

/** A person of the test directory (an inetOrgPerson under ou=people). */
export interface LdapPerson {
  readonly uid: string;
  readonly cn: string;
  readonly mail?: string;
  readonly phone?: string;
  /** Groups (groupOfNames under ou=groups) the person is a member of: memberOf, kept by slapd's overlay. */
  readonly groups?: readonly string[];
}

/** A real slapd on a loopback port, as an unprivileged process, with a directory of its own. */
export interface Slapd {
  readonly url: string;
  /** Adds a person as the directory's administrator (memberOf follows: the overlay keeps it). */
  add(person: LdapPerson): Promise<void>;
  remove(uid: string): Promise<void>;
  /** Changes a person's display name (cn). */
  rename(uid: string, cn: string): Promise<void>;
  /** Stops it (SIGTERM) and waits for it to exit; its data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

/**
 * Starts OpenLDAP's slapd for a test: a slapd.conf (mdb database, core, cosine and
 * inetOrgPerson schemas, the memberof overlay, an ACL that lets only the reader and the
 * administrator read) and an LDIF of `groups` (each with a placeholder member, as groupOfNames
 * requires one) written to a fresh folder, loaded with slapadd; slapd is ready when its daemon
 * says it listens (see launch). A missing slapd fails the test.
 */
export async function startSlapd(groups: readonly string[] = []): Promise<Slapd> {
  if (spawnSync(SLAPD, ['-VV']).error) {
    throw new Error(
      'slapd is not installed: apt-get install -y slapd ldap-utils (CI installs it in .ci/run)',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'pf-slapd-'));
  await mkdir(join(dir, 'db'));
  const conf = join(dir, 'slapd.conf');
  await writeFile(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'moduleload memberof',
      `pidfile ${join(dir, 'slapd.pid')}`,
      'database mdb',
      `suffix "${LDAP_BASE}"`,
      `rootdn "${ADMIN.dn}"`,
      `rootpw "${ADMIN.password}"`,
      `directory ${join(dir, 'db')}`,
      'maxsize 10485760',
      'overlay memberof',
      'access to attrs=userPassword by anonymous auth by * none',
      `access to * by dn.exact="${LDAP_READER.dn}" read by * none`,
      '',
    ].join('\n'),
  );
  const ldif = join(dir, 'directory.ldif');
  await writeFile(
    ldif,
    [
      `dn: ${LDAP_BASE}\nobjectClass: dcObject\nobjectClass: organization\no: example\ndc: example\n`,
      `dn: ${LDAP_READER.dn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: ${LDAP_READER.password}\n`,
      `dn: ${LDAP_PEOPLE}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: ${LDAP_GROUPS}\nobjectClass: organizationalUnit\nou: groups\n`,
      ...groups.map(
        (g) => `dn: cn=${g},${LDAP_GROUPS}\nobjectClass: groupOfNames\ncn: ${g}\nmember: ${LDAP_BASE}\n`,
      ),
    ].join('\n'),
  );
  const added = spawnSync(SLAPADD, ['-f', conf, '-l', ldif], { encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`slapadd failed: ${added.stderr}`);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const admin = async <T>(work: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url });
    try {
      await client.bind(ADMIN.dn, ADMIN.password);
      return await work(client);
    } finally {
      await client.unbind();
    }
  };
  const dnOf = (uid: string) => `uid=${uid},${LDAP_PEOPLE}`;
  const server: Slapd = {
    url,
    add: (p) =>
      admin(async (client) => {
        await client.add(dnOf(p.uid), {
          objectClass: 'inetOrgPerson',
          uid: p.uid,
          cn: p.cn,
          sn: p.cn,
          ...(p.mail ? { mail: p.mail } : {}),
          ...(p.phone ? { telephoneNumber: p.phone } : {}),
        });
        for (const g of p.groups ?? []) {
          await client.modify(
            `cn=${g},${LDAP_GROUPS}`,
            new Change({
              operation: 'add',
              modification: new Attribute({ type: 'member', values: [dnOf(p.uid)] }),
            }),
          );
        }
      }),
    remove: (uid) => admin((client) => client.del(dnOf(uid))),
    rename: (uid, cn) =>
      admin((client) =>
        client.modify(
          dnOf(uid),
          new Change({ operation: 'replace', modification: new Attribute({ type: 'cn', values: [cn] }) }),
        ),
      ),
    async start() {
      child = await launch(conf, url);
    },
    async close() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    },
  };
  await server.start();
  return server;
}

function launch(conf: string, url: string): Promise<ChildProcess> {
  // -d 8 (connections) keeps slapd in the foreground and has its daemon thread say when it added
  // its listener to the poll set, which it does right after listen(): the moment it accepts.
  // ("slapd starting" comes before listen(): a client connecting then is refused.)
  const child = spawn(SLAPD, ['-f', conf, '-h', `${url}/`, '-d', '8'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      if (!/added \d+r listener=0x/.test(out)) return;
      // Ready: what it says from now on (each connection) is read and dropped.
      child.stderr!.off('data', onData);
      child.stderr!.resume();
      resolve(child);
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`slapd exited ${code} at ${url}: ${out}`)));
    child.once('error', reject);
  });
}
