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
const code = await main(process.argv.slice(2));
// Exit explicitly: a GPU backend or a worker pool may hold handles open after the work is done.
// Wait for stdout and stderr to flush first: a pipe can be asynchronous (bench list --json | jq
// was cut at 128 KiB), and an empty write's callback runs once everything before it is out.
const flushed = (stream) => new Promise((resolve) => stream.write('', resolve));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
