/**
 * Checks a script without running it: it must tokenize, and every command must exist
 * and take the flags and number of operands it is given. Returns one message per
 * problem, "NAME:LINE: ...", so demos and scripts can be checked in tests and CI before
 * the layers they need are there.
 */
import { parseOperands, resolveSubcommand, type CommandTable } from './command.ts';
import { RAW_OPERAND_COMMANDS } from './commands/builtins.ts';
import { CommandError } from './errors.ts';
import { tokenize, TokenizeError } from './tokenize.ts';

export function checkScript(table: CommandTable, text: string, name = 'script'): string[] {
  const problems: string[] = [];
  let commands;
  try {
    // Variables are checked by name only: their values do not matter here.
    commands = tokenize(text, { vars: (v) => (['TMP', 'HOME', 'PWD'].includes(v) ? `$${v}` : undefined) });
  } catch (e) {
    if (e instanceof TokenizeError) return [`${name}:${e.line}: syntax error: ${e.message}`];
    throw e;
  }
  for (const c of commands) {
    let words = c.words;
    while (words[0] === 'try' && words.length > 1) words = words.slice(1);
    const spec = table.get(words[0]);
    if (!spec) {
      problems.push(`${name}:${c.line}: ${words[0]}: unknown command`);
      continue;
    }
    try {
      const sub = resolveSubcommand(spec, words.slice(1));
      if (!sub.spec.run) throw new CommandError(`${sub.name}: needs a subcommand`);
      if (!RAW_OPERAND_COMMANDS.has(sub.spec.name)) parseOperands(sub.spec, sub.rest);
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      problems.push(`${name}:${c.line}: ${words[0]}: ${e.message}`);
    }
  }
  return problems;
}
