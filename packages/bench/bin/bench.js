#!/usr/bin/env node
// The `bench` command. Loads the built CLI; if the build is missing, says how to make it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('bench: the CLI is not built (dist/cli.js is missing): run `npm install` at the repository root\n');
  process.exit(1);
}
const { main } = await import('../dist/cli.js');
// Exit explicitly: a GPU backend or a worker pool may hold handles open after the work is done
// (stdout and stderr are synchronous for files and pipes on Linux, so nothing is cut).
process.exit(await main(process.argv.slice(2)));
