/**
 * The default command table: every command group in one list. A new command is a
 * CommandSpec in one of commands/*.ts and a line here; help and completion follow.
 */
import { CommandTable } from './command.ts';
import { builtinCommands } from './commands/builtins.ts';
import { fileCopyCommands } from './commands/files-copy.ts';
import { fileHostCommands } from './commands/files-host.ts';
import { fileReadCommands } from './commands/files-read.ts';
import { fileWriteCommands } from './commands/files-write.ts';
import { snapCommand } from './commands/snapshots.ts';
import { systemCommands } from './commands/system.ts';

export function defaultTable(): CommandTable {
  return new CommandTable([...fileReadCommands, ...fileWriteCommands, ...fileCopyCommands, ...fileHostCommands, snapCommand, ...systemCommands, ...builtinCommands]);
}
