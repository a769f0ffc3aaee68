import { CliError, parseArgs, type ParsedArgs } from './args.js';
import { commands, findCommand, globalHelp, knownFlags } from './commands.js';
import { checkFlags } from './flag-check.js';

async function run(argv: readonly string[]): Promise<number> {
  const args: ParsedArgs = parseArgs(argv);
  const found = findCommand(args.positionals);
  if (!found) {
    process.stdout.write(globalHelp());
    return args.positionals.length === 0 || args.flags.get('help') ? 0 : 2;
  }
  const { command, rest } = found;
  if (args.flags.get('help')) {
    process.stdout.write(`Usage: cdnctl ${command.usage}\n\n${command.help}\n`);
    return 0;
  }
  try {
    checkFlags(args, knownFlags(command), command.name);
    // Loaded here, not at the top: help and flag errors need none of the gRPC/TLS stack.
    (await import('@cdn-sched/transport')).quietIpServernameWarning();
    await command.run({ ...args, positionals: rest });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`cdnctl ${command.name}: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`cdnctl ${command.name}: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

void commands;
const code = await run(process.argv.slice(2));
// Long-running commands (mesh, weights --watch) return only when they are done.
process.exit(code);
