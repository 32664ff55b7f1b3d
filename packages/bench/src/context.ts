import { parseSetOptions } from '@policy-lab/core';
import { createRegistry, type LoadedRegistry } from '@policy-lab/core/node';
import type { Command } from 'commander';
import type { Io } from './io.js';
import { jsonDocument } from './io.js';

/** Options every command accepts (declared once on the program). */
export interface GlobalOptions {
  plugin: string[];
  config?: string;
  backend?: string;
  json: boolean;
  debug: boolean;
  set: string[];
}

/** What a command's action receives: the streams, the global options, and lazy plugin loading. */
export class CommandContext {
  private loaded?: Promise<LoadedRegistry>;

  constructor(
    readonly io: Io,
    private readonly command: Command,
  ) {}

  get options(): GlobalOptions {
    return this.command.optsWithGlobals() as GlobalOptions;
  }

  /** The registry with built-ins, the config file's plugins and `--plugin` modules. */
  registry(): Promise<LoadedRegistry> {
    const { plugin, config } = this.options;
    this.loaded ??= createRegistry({ cwd: this.io.cwd, plugins: plugin, ...(config ? { config } : {}) });
    return this.loaded;
  }

  /** `--set` entries, over the config file's `set` defaults. */
  async overrides(): Promise<Record<string, unknown>> {
    const { config } = await this.registry();
    return { ...(config.set ?? {}), ...parseSetOptions(this.options.set) };
  }

  printJson(kind: string, body: Record<string, unknown>): void {
    this.io.stdout(jsonDocument(kind, body));
  }

  /** Human-readable progress and logs: stderr, silent under --json when not a terminal. */
  log(text: string): void {
    this.io.stderr(`${text}\n`);
  }
}
