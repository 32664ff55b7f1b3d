/**
 * Errors that carry their CLI exit code. `UsageError` (exit 2) is bad input: an unknown
 * name, a malformed value, an unreadable file; its message names the bad value and what
 * is accepted. `RunError` (exit 1) is a run that failed on good input.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

export class RunError extends Error {
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunError';
  }
}

export function isUsageError(error: unknown): error is UsageError {
  return error instanceof Error && (error as { exitCode?: number }).exitCode === 2;
}
