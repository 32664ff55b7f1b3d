export { buildProgram, main } from './cli.js';
export type { GlobalOptions } from './context.js';
export { CommandContext } from './context.js';
export type { Io } from './io.js';
export { jsonDocument, processIo } from './io.js';
