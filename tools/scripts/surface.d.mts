/** Every exported name of a package entry (its TypeScript source), split into values and types. */
export function publicSurface(entryFile: string): { values: string[]; types: string[] };
