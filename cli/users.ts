import { join, resolve } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { validateUserCreate } from '../core/generated/validators.js';
import { assertValid } from '../core/validate.js';
import { UserStore } from '../plugins/backends/identity-static/user-store.js';
import { type Command, parse } from './command.js';

const usage =
  'protofly users add|passwd|disable|enable|list [<name>] (--file <users.yaml> | --data <domain data dir>) [--json]\n' +
  '  add and passwd read the password from the first line of stdin';

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
  usage,
  async run(args) {
    const { values, positionals } = parse(
      args,
      { file: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } },
      usage,
    );
    const [action, name, ...extra] = positionals;
    const file = values.file ?? (values.data ? join(values.data, 'users.yaml') : undefined);
    if (!file || extra.length)
      throw new ProtoflyError('PF_ERR_USAGE', `--file or --data is required\nusage: ${usage}`);
    const store = new UserStore({ file: resolve(file) });
    if (action === 'list') {
      const list = await store.list();
      if (values.json) console.log(JSON.stringify(list));
      else for (const u of list) console.log(`${u.name}${u.disabled ? ' (disabled)' : ''}`);
      return 0;
    }
    if (!name) throw new ProtoflyError('PF_ERR_USAGE', `a user name is required\nusage: ${usage}`);
    if (action === 'add' || action === 'passwd') {
      const password = await passwordFromStdin();
      // The same rules as the provisioning API's.
      assertValid(validateUserCreate, { name, password }, 'user');
      if (action === 'add') await store.create(name, password);
      else await store.update(name, { password });
    } else if (action === 'disable' || action === 'enable') {
      await store.update(name, { disabled: action === 'disable' });
    } else {
      throw new ProtoflyError('PF_ERR_USAGE', `unknown action '${action ?? ''}'\nusage: ${usage}`);
    }
    console.log(`${DONE[action]} ${name} in ${store.file}`);
    return 0;
  },
};

/** The first line of stdin. */
async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new ProtoflyError(
      'PF_ERR_USAGE',
      `give the password on stdin (it is not echoed back)\nusage: ${usage}`,
    );
  }
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.split(/\r?\n/)[0] ?? '';
}
