/**
 * Mistakes in how a command was typed (a missing required option or argument, an unknown option or command, a
 * value outside an option's choices, too many arguments) end like every other CLI failure: one `lowrank: error:`
 * line, no usage dump, plus where to look. Exit code 2, the usual code for usage errors, so scripts can tell a
 * typo from a compile that failed (exit code 1).
 */
import { CommanderError, type Command } from 'commander';

export const USAGE_EXIT_CODE = 2;

/** Commander's codes for usage mistakes; its other codes (help, version) are not errors. */
const USAGE_CODES = new Set([
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.excessArguments',
  'commander.invalidArgument',
  'commander.conflictingOption',
  'commander.error',
]);

/** A usage mistake, with the command whose --help explains it ('' for the program itself). */
export class UsageError extends Error {
  constructor(message: string, readonly command: string) {
    super(message);
    this.name = 'UsageError';
  }

  /** The line the user sees, e.g. `lowrank: error: required option '-o, --output <model.lrm>' not specified (see lowrank compile --help)`. */
  line(): string {
    return `lowrank: error: ${this.message} (see lowrank ${this.command ? `${this.command} ` : ''}--help)`;
  }
}

/** Commander writes its own messages on stderr: silenced here, before any subcommand copies the setting. */
export function quietUsageErrors(program: Command): Command {
  return program.configureOutput({ outputError: () => {} });
}

/** After the subcommands are registered: their usage mistakes throw UsageError instead of exiting. */
export function throwUsageErrors(program: Command): void {
  for (const command of [program, ...program.commands]) {
    const name = command === program ? '' : command.name();
    command.exitOverride((e: CommanderError) => {
      if (USAGE_CODES.has(e.code)) throw new UsageError(oneLine(e.message), name);
      throw e;
    });
  }
}

/** "error: unknown option '--tire'\n(Did you mean --tier?)" → "unknown option '--tire' (did you mean --tier?)". */
function oneLine(message: string): string {
  return message
    .replace(/^error:\s*/, '')
    .replace(/\(Did you mean/, '(did you mean')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ')
    .replace(/\.$/, '');
}
