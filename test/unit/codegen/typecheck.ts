/**
 * Type-checks TypeScript sources held in memory with the real compiler
 * (strict), for the tests of generated row types. Returns the diagnostics as
 * `file:line: message` lines; empty when the sources compile.
 */
import ts from 'typescript';

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  allowImportingTsExtensions: true,
  noUncheckedIndexedAccess: true,
  lib: ['lib.es2022.d.ts'],
  types: [],
};

/** @param files file name (e.g. `/virtual/rows.ts`) → source text */
export function typecheck(files: Record<string, string>): string[] {
  const host = ts.createCompilerHost(OPTIONS);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError) => (name in files ? ts.createSourceFile(name, files[name]!, language) : read(name, language, onError));
  host.fileExists = ((exists) => (name: string) => name in files || exists(name))(host.fileExists.bind(host));
  host.readFile = ((readFile) => (name: string) => files[name] ?? readFile(name))(host.readFile.bind(host));
  const dirs = new Set(Object.keys(files).map((f) => f.slice(0, f.lastIndexOf('/'))));
  const directoryExists = host.directoryExists?.bind(host);
  host.directoryExists = (dir) => dirs.has(dir.replace(/\/$/, '')) || (directoryExists?.(dir) ?? false);
  const program = ts.createProgram(Object.keys(files), OPTIONS, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}
