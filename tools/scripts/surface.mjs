// The public surface of a package entry, as its exports snapshot test pins it: every exported
// name, split into values (what `import *` yields at run time) and types (erased at run time),
// read with the TypeScript compiler from the entry's source.
import ts from 'typescript';

/** @returns {{ values: string[], types: string[] }} */
export function publicSurface(entryFile) {
  const program = ts.createProgram([entryFile], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
    noResolve: false,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entryFile);
  if (!source) throw new Error(`no such entry file: ${entryFile}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  const values = [];
  const types = [];
  for (const symbol of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    (target.flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
  }
  return { values: values.sort(), types: types.sort() };
}
