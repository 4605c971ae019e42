import { createNodeRuntime } from '../../entry/node-runtime.js';
import { developmentPolicy } from '../../runtime/policy.js';

/**
 * A runtime in a process of its own, for the test that makes it vanish without closing
 * (SIGKILL): `node guest-process.mjs <json>`, the JSON holding the user's `address`, a token
 * per audience (`tokens`), the `catalogues`, a `dataDir`, the `stubConfig` and the `guestAt`
 * domains. It registers, says `registered`, and waits to be killed.
 */
interface Args {
  readonly address: string;
  readonly tokens: Readonly<Record<string, string>>;
  readonly catalogues: Readonly<Record<string, string>>;
  readonly dataDir: string;
  readonly stubConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly guestAt: readonly string[];
}

const args = JSON.parse(process.argv[2]!) as Args;
const rt = createNodeRuntime({
  policy: developmentPolicy,
  identity: {
    address: args.address,
    token: async (audience) => {
      const token = args.tokens[audience];
      if (!token) throw new Error(`no token for ${audience}`);
      return token;
    },
  },
  catalogues: args.catalogues,
  dataDir: args.dataDir,
  stubConfig: args.stubConfig,
});
rt.runtime.register({ guestAt: args.guestAt }).then(
  () => process.stdout.write('registered\n'),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
