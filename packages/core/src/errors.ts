/**
 * Errors that carry their CLI exit code. `UsageError` (exit 2) is bad input: an unknown
 * name, a malformed value, an unreadable file; its message names the bad value and what
 * is accepted. `RunError` (exit 1) is a run that failed on good input. `RegressionError`
 * (exit 3) is a run that succeeded and measured a regression against its baseline.
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

/** Exit 3: a comparison against a `--baseline` found a regression (`--fail-on-regression`). */
export class RegressionError extends Error {
  readonly exitCode = 3;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegressionError';
  }
}

export function isUsageError(error: unknown): error is UsageError {
  return error instanceof Error && (error as { exitCode?: number }).exitCode === 2;
}
