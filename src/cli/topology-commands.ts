/** `cdc-views topology describe`: a topology module validated and printed; no dependency. */
import type { Command } from 'commander';
import { describeTopology } from '../topology/describe.ts';
import { loadTopology } from '../topology/load.ts';

/** Registers `topology describe` on the program. */
export function registerTopologyCommands(program: Command): void {
  const topology = program.command('topology').description('Inspect topologies');
  topology
    .command('describe <file>')
    .description('Validate a topology module and print its graph: sources → tables → views → sinks')
    .action(async (file: string) => {
      process.stdout.write(describeTopology(await loadTopology(file)));
    });
}
