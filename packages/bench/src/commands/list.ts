import { PLUGIN_KINDS, type PluginKind, type PluginMeta, type RegistryEntry } from '@policy-lab/core';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import type { Io } from '../io.js';

export interface ListEntry {
  name: string;
  /** Other names that resolve to this plugin. */
  aliases?: readonly string[];
  package: string;
  source: string;
  summary: string;
  paper?: PluginMeta['paper'];
  unverified?: readonly string[];
  options?: PluginMeta['options'];
  resolved?: PluginMeta['resolved'];
  math?: string;
  recipe?: Record<string, unknown>;
  rewardComponents?: readonly { name: string; weight: number }[];
  /** Samplers: the strategy, its sizes and the behaviour log-probs it records. */
  decoding?: Record<string, unknown>;
  /** Reward models: architecture, objective, learning rate, reward component. */
  model?: Record<string, unknown>;
  /** Hooks: the phases they run in. */
  phases?: string[];
}

function toEntry(entry: RegistryEntry): ListEntry {
  const item = entry.item as unknown as PluginMeta & Record<string, unknown>;
  const out: ListEntry = { name: item.name, package: entry.plugin, source: entry.source, summary: item.summary };
  if (item.aliases?.length) out.aliases = item.aliases;
  if (item.paper) out.paper = item.paper;
  if (item.unverified?.length) out.unverified = item.unverified;
  if (item.options && Object.keys(item.options).length) out.options = item.options;
  if (item.resolved && Object.keys(item.resolved).length) out.resolved = item.resolved;
  if (typeof item.math === 'string') out.math = item.math;
  if (entry.kind === 'methods') {
    const { estimator, loss, divergence, shapers, sampler, rewardModels, taskSource, hooks, defaults, defaultsSource } = item;
    out.recipe = JSON.parse(
      JSON.stringify({
        estimator,
        loss,
        divergence,
        shapers,
        sampler,
        rewardModels,
        taskSource,
        hooks,
        defaults,
        defaultsSource,
      }),
    );
  }
  if (entry.kind === 'environments') out.rewardComponents = item.rewardComponents as ListEntry['rewardComponents'];
  if (entry.kind === 'samplers') {
    const { strategy, behaviour, width, roots, branchFrom } = item;
    out.decoding = JSON.parse(
      JSON.stringify({ strategy, behaviour, width, roots, branchFrom, logitsHook: typeof item.logits === 'function' }),
    );
  }
  if (entry.kind === 'rewardModels') {
    const { architecture, objective, learningRate, component } = item;
    out.model = JSON.parse(JSON.stringify({ architecture, objective, learningRate, component }));
  }
  if (entry.kind === 'hooks')
    out.phases = (['onStepStart', 'onStepEnd'] as const).filter((phase) => typeof item[phase] === 'function');
  return out;
}

function renderText(kind: PluginKind, entries: ListEntry[], verbose: boolean): string {
  const lines = [`${kind} (${entries.length})`];
  if (entries.length === 0) lines.push('  (none)');
  const label = (e: ListEntry) => (e.aliases?.length ? `${e.name} (alias ${e.aliases.join(', ')})` : e.name);
  const width = Math.max(0, ...entries.map((e) => label(e).length));
  for (const e of entries) {
    lines.push(`  ${label(e).padEnd(width)}  ${e.summary}  [${e.package}]`);
    if (!verbose) continue;
    if (e.paper) lines.push(`      paper: ${e.paper.title} (${e.paper.year})${e.paper.arxiv ? ` arXiv:${e.paper.arxiv}` : ''}`);
    if (e.recipe) lines.push(`      recipe: ${JSON.stringify(e.recipe)}`);
    if (e.decoding) lines.push(`      decoding: ${JSON.stringify(e.decoding)}`);
    if (e.model) lines.push(`      model: ${JSON.stringify(e.model)}`);
    if (e.phases) lines.push(`      runs: ${e.phases.join(', ')}`);
    if (e.resolved) lines.push(`      options: ${JSON.stringify(e.resolved)}`);
    if (e.math) for (const line of e.math.split('\n')) lines.push(`      ${line}`);
    for (const u of e.unverified ?? []) lines.push(`      unverified: ${u}`);
  }
  return lines.join('\n');
}

/** Where each plugin came from: an installed package (discovery), a config file or --plugin. */
function renderSources(sources: Record<string, string>, installed: ReadonlyMap<string, string>): string {
  const names = Object.keys(sources);
  const width = Math.max(0, ...names.map((name) => name.length));
  const where = (source: string) => {
    const dir = installed.get(source);
    return dir ? `installed package ${source} (${dir})` : `from ${source}`;
  };
  return [`plugins (${names.length})`, ...names.map((name) => `  ${name.padEnd(width)}  ${where(sources[name] as string)}`)].join(
    '\n',
  );
}

export function register(program: Command, io: Io): void {
  program
    .command('list')
    .description(`list every registered plugin of every kind (${PLUGIN_KINDS.join(', ')})`)
    .option('-v, --verbose', 'also print papers, options, resolved math and unverified parts')
    .option('--kind <kind>', `only one kind: ${PLUGIN_KINDS.join(', ')}`)
    .addHelpText(
      'after',
      '\nExamples:\n  bench list\n  bench list --verbose --kind methods\n  bench list --json --plugin ./my-plugin.js',
    )
    .action(async function (this: Command, opts: { verbose?: boolean; kind?: string }) {
      const ctx = new CommandContext(io, this);
      const { registry, discovered } = await ctx.registry();
      if (opts.kind !== undefined && !(PLUGIN_KINDS as readonly string[]).includes(opts.kind)) {
        const { UsageError } = await import('@policy-lab/core');
        throw new UsageError(`unknown --kind '${opts.kind}': accepted ${PLUGIN_KINDS.join(', ')}`);
      }
      const kinds = opts.kind ? [opts.kind as PluginKind] : PLUGIN_KINDS;
      const lists = Object.fromEntries(PLUGIN_KINDS.map((kind) => [kind, registry.list(kind).map(toEntry)]));
      if (ctx.options.json) {
        ctx.printJson('list', { ...lists, plugins: registry.sources() });
        return;
      }
      io.stdout(`${kinds.map((kind) => renderText(kind, lists[kind] as ListEntry[], Boolean(opts.verbose))).join('\n\n')}\n`);
      if (!opts.kind) io.stdout(`\n${renderSources(registry.sources(), new Map(discovered.map((d) => [d.name, d.dir])))}\n`);
      if (!opts.verbose) io.stdout(`\n(details: bench list --verbose${opts.kind ? ` --kind ${opts.kind}` : ''})\n`);
    });
}
