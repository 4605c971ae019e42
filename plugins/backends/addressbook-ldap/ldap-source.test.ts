import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LDAP_GROUPS,
  LDAP_PEOPLE,
  LDAP_READER,
  type Slapd,
  startSlapd,
} from '../../../test/support/slapd.js';
import { groupName, type LdapSettings, ldapSource } from './ldap-source.js';

const settings = (over: Partial<LdapSettings> = {}): LdapSettings => ({
  url: 'ldap://127.0.0.1:1',
  bindDn: LDAP_READER.dn,
  bindPassword: LDAP_READER.password,
  baseDn: LDAP_PEOPLE,
  scope: 'sub',
  filter: '(objectClass=inetOrgPerson)',
  attributes: { name: 'uid', displayName: 'cn', email: 'mail', phone: 'telephoneNumber', groups: 'memberOf' },
  maxEntries: 100,
  timeoutSeconds: 5,
  ...over,
});

describe('ldapSource configuration', () => {
  it('refuses at creation a filter that is not RFC 4515, a URL that is no LDAP server, an attribute name', () => {
    expect(() => ldapSource(settings({ filter: '(uid=a' }))).toThrow(/PF_ERR_CONFIG.*filter/);
    expect(() => ldapSource(settings({ url: 'http://127.0.0.1' }))).toThrow(/PF_ERR_CONFIG.*url/);
    expect(() => ldapSource(settings({ url: 'ldap://host/dc=x' }))).toThrow(/PF_ERR_CONFIG.*url/);
    expect(() => ldapSource(settings({ attributes: { name: 'uid)(cn=*' } }))).toThrow(
      /PF_ERR_CONFIG.*attributes\.name/,
    );
  });

  it("names a group by its DN's first RDN value, escapes undone, and takes other values as they are", () => {
    expect(groupName('cn=sales,ou=groups,dc=example,dc=test')).toBe('sales');
    expect(groupName('CN = R\\, D ,ou=groups')).toBe('R, D');
    expect(groupName('engineering')).toBe('engineering');
    expect(groupName('cn=top')).toBe('cn=top');
  });
});

describe('ldapSource against slapd', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd(['sales', 'support']);
    await slapd.add({ uid: 'alice', cn: 'Alice', groups: ['sales', 'support'] });
    await slapd.add({ uid: 'bob', cn: 'Bob' });
    await slapd.add({ uid: 'not a name', cn: 'Spaced' });
  });
  afterAll(() => slapd?.close());

  it('reads people with their groups from memberOf, as the configured filter selects them', async () => {
    const all = await ldapSource(settings({ url: slapd.url })).read();
    expect(all).toContainEqual({
      name: 'alice',
      displayName: 'Alice',
      email: undefined,
      phone: undefined,
      groups: ['sales', 'support'],
    });
    expect(all).toHaveLength(3);
    const sales = await ldapSource(
      settings({
        url: slapd.url,
        filter: `(&(objectClass=inetOrgPerson)(memberOf=cn=sales,${LDAP_GROUPS}))`,
      }),
    ).read();
    expect(sales.map((r) => r.name)).toEqual(['alice']);
  });

  it('a changed display name is read at the next read', async () => {
    const source = ldapSource(settings({ url: slapd.url }));
    await slapd.rename('bob', 'Robert');
    expect((await source.read()).find((r) => r.name === 'bob')?.displayName).toBe('Robert');
  });

  it('a refused bind is PF_ERR_DIRECTORY naming the DN, never the password', async () => {
    const read = ldapSource(settings({ url: slapd.url, bindPassword: 'wrong secret' })).read();
    await expect(read).rejects.toThrow(/PF_ERR_DIRECTORY.*binding as cn=reader/);
    await expect(read).rejects.not.toThrow(/wrong secret/);
  });
});
