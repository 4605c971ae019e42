/** vitest global setup: build dist/ first, so tests that spawn the `protofly` command or a worker run the current code. */
export default async function setup(): Promise<void> {
  // @ts-expect-error: a plain .mjs script without types; importing it runs the build.
  await import('../../scripts/build.mjs');
}
