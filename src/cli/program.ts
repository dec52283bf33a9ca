/**
 * The `cdc-views` program before its commands register (src/cli/main.ts
 * lists them), and how a parsed command line ends: one exit code per outcome
 * (src/cli/exit-codes.ts), one line on stderr for a failure, nothing on stdout.
 */
import { Command } from 'commander';
import { EXIT_CODES_HELP, exitCodeOf, failureText } from './exit-codes.ts';
import { packageVersion } from './version.ts';

/**
 * The program: `--version`, `--help` with the exit codes as epilogue on every
 * command, usage errors as thrown CommanderErrors (exit 2, see {@link runProgram}).
 * Program options count only before the command (`enablePositionalOptions`),
 * so a command's own `--version <version>` is not the program's `--version`.
 * Settings are inherited by the commands registered afterwards.
 */
export function createProgram(): Command {
  return new Command('cdc-views')
    .description('Materialize Debezium CDC topics into Redis table state and derived views')
    .version(packageVersion(), '-V, --version', 'print the version of cdc-views and exit')
    .helpOption('-h, --help', 'print the help of cdc-views or of a command')
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
    .addHelpText('afterAll', EXIT_CODES_HELP);
}

/**
 * Parses and runs a command line, then exits with the code of its outcome:
 * 0, the `process.exitCode` a command set (1 for a negative answer), or the
 * code of the error it threw, after writing {@link failureText} to stderr.
 * The process exits explicitly on failure: a client of a dependency that
 * never answered (a hung socket) would keep it alive.
 */
export async function runProgram(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    const code = exitCodeOf(err);
    process.stderr.write(failureText(err), () => process.exit(code));
  }
}
