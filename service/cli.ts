// The rovy command line: a table of subcommands, one module each. In this release the commands
// that need no running daemon (init, id) and the daemon itself.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runDaemon } from './daemon.js';
import { runId } from './commands/id.js';
import { runInit } from './commands/init.js';

export const DEFAULT_CONFIG = '/etc/rovy/rovy.toml';

interface Command {
  summary: string;
  usage: string;
  options: ParseArgsConfig['options'];
  run(values: Record<string, string | boolean | undefined>, configPath: string, explicit: boolean): Promise<number> | number;
}

const configOption = { config: { type: 'string', short: 'c' } } as const;

const commands: Record<string, Command> = {
  init: {
    summary: 'create the node key, and a config file if there is none',
    usage: 'rovy init [--config FILE]',
    options: configOption,
    run: (_v, path, explicit) => runInit(path, explicit),
  },
  id: {
    summary: "print this node's peer ID and fc00::/8 address",
    usage: 'rovy id [--config FILE] [--json]',
    options: { ...configOption, json: { type: 'boolean' } },
    run: (v, path, explicit) => runId(path, explicit, v.json === true),
  },
  daemon: {
    summary: 'run the node in the foreground',
    usage: 'rovy daemon [--config FILE]',
    options: configOption,
    run: (_v, path, explicit) => runDaemon(path, explicit),
  },
};

function help(): string {
  const lines = ['usage: rovy COMMAND [OPTIONS]', '', 'commands:'];
  for (const [name, cmd] of Object.entries(commands)) lines.push(`  ${name.padEnd(8)} ${cmd.summary}`);
  lines.push('', `--config FILE defaults to ${DEFAULT_CONFIG}; a missing default config means all defaults.`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help() + '\n');
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`rovy: unknown command "${name}" (try rovy --help)\n`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    process.stderr.write(`rovy ${name}: ${(err as Error).message}\nusage: ${cmd.usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`usage: ${cmd.usage}\n${cmd.summary}\n`);
    return 0;
  }
  const explicit = typeof values.config === 'string';
  return cmd.run(values, explicit ? (values.config as string) : DEFAULT_CONFIG, explicit);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`rovy: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
