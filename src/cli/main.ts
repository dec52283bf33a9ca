/**
 * The `cdc-views` command line. `cdc-views --help` lists the commands;
 * `cdc-views <command> --help` describes one; docs/cli.md is the reference.
 */
import { registerBackfillCommand } from './backfill-command.ts';
import { registerConnectCommands } from './connect-commands.ts';
import { registerLakeCommands } from './lake-command.ts';
import { registerLifecycleCommands } from './lifecycle-commands.ts';
import { createProgram, runProgram } from './program.ts';
import { registerReplayCommand } from './replay-command.ts';
import { registerRewindCommand } from './rewind-command.ts';
import { registerRunCommands } from './run.ts';
import { registerStateCommands } from './state-commands.ts';
import { registerTopologyCommands } from './topology-commands.ts';
import { registerTypesCommand } from './types-command.ts';

const program = createProgram();

// Every command registers here, one line each, in the order `--help` lists them.
// A command lives in its own file under src/cli/ and takes the shared options
// of src/cli/options.ts (connection flags, --config, --json, --version <v>).
registerRunCommands(program);
registerTopologyCommands(program);
registerStateCommands(program);
registerConnectCommands(program);
registerRewindCommand(program);
registerReplayCommand(program);
registerBackfillCommand(program);
registerLifecycleCommands(program);
registerLakeCommands(program);
registerTypesCommand(program);

await runProgram(program);
