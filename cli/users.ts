import { dirname, join, resolve } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { validateUserCreate } from '../core/generated/validators.js';
import { assertValid } from '../core/validate.js';
import { exists } from '../node/files.js';
import { localService } from '../server/backends/local-service.js';
import { type Command, firstLineOfStdin, parse, usageError } from './command.js';

const DONE: Readonly<Record<string, string>> = {
  add: 'added',
  passwd: 'changed the password of',
  disable: 'disabled',
  enable: 'enabled',
};

/**
 * `protofly users`: the identity-static users file, managed in place. A running domain reads
 * the file again when it changes, so the change takes effect without a restart.
 */
export const users: Command = {
  summary: 'add, disable, enable or list the users of an identity-static users file',
  usage:
    'protofly users add|passwd|disable|enable|list [<name>] (--data <domain data dir> | --file <users.yaml>) [--json]',
  help: [
    'Actions:',
    '  add <name>        add a user; the password is the first line of stdin',
    '  passwd <name>     change a password, read from stdin',
    '  disable <name>    refuse the user (their tokens and logins) until enabled',
    '  enable <name>     admit a disabled user again',
    '  list              every user, (disabled) marked',
    '',
    'Options:',
    '  --data <dir>      the domain data directory; edits <dir>/users.yaml',
    '  --file <file>     a users file instead (add makes it; the others need it)',
    '  --json            list as JSON',
    '',
    'A running domain takes the change without a restart.',
    '',
    'Example:',
    "  printf '%s\\n' 's3cret-pass' | protofly users add bob --data .protofly/localhost",
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(
      args,
      { file: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } },
      'users',
    );
    const [action, name, ...extra] = positionals;
    if (!action || (!Object.hasOwn(DONE, action) && action !== 'list'))
      throw usageError('users', `unknown action '${action ?? ''}': add, passwd, disable, enable or list`);
    if (extra.length || (action === 'list' && name)) throw usageError('users', 'one user name at most');
    // Users may be added before the domain first starts; anything else needs the domain there.
    if (values.data && action !== 'add' && !(await exists(values.data))) {
      throw new ProtoflyError('PF_ERR_CONFIG', `no domain data directory at ${values.data}`, {
        dir: values.data,
      });
    }
    const file = values.file ?? (values.data ? join(values.data, 'users.yaml') : undefined);
    if (!file) throw usageError('users', '--data or --file is required');
    if (values.file && action !== 'add' && !(await exists(file))) {
      throw new ProtoflyError('PF_ERR_CONFIG', `no users file at ${file}`, { file });
    }
    const usersFile = resolve(file);
    const store = (await localService('identity', { dataDir: dirname(usersFile), config: { usersFile } }))
      .users!;
    if (action === 'list') {
      const list = await store.list();
      if (values.json) console.log(JSON.stringify(list));
      else for (const u of list) console.log(`${u.name}${u.disabled ? ' (disabled)' : ''}`);
      return 0;
    }
    if (!name) throw usageError('users', `${action} needs a user name`);
    if (action === 'add' || action === 'passwd') {
      const password = await firstLineOfStdin('users', 'password');
      // The same rules as the provisioning API's.
      assertValid(validateUserCreate, { name, password }, 'user');
      if (action === 'add') await store.create(name, password);
      else await store.update(name, { password });
    } else {
      await store.update(name, { disabled: action === 'disable' });
    }
    console.log(`${DONE[action]} ${name} in ${usersFile}`);
    return 0;
  },
};
