// Compiles a standard-JSON input with the pinned solc-js from node_modules.
//
// Usage: node solcjs-compile.js <input.json> <output.json> [include-dir ...]
//
// Input and output go through files, never pipes: solcjs cuts stdout at 64 KiB when it
// goes to a pipe, can fail with EAGAIN reading a large input from one, and prints a
// banner line before the JSON (see /work/shared/FACTS.md). Imports are resolved against
// the include directories in order (the caller passes the project root and node_modules).
'use strict';

const fs = require('fs');
const path = require('path');

const [inputPath, outputPath, ...includeDirs] = process.argv.slice(2);
if (!inputPath || !outputPath) {
  process.stderr.write('usage: solcjs-compile.js <input.json> <output.json> [include-dir ...]\n');
  process.exit(2);
}

// solc-js is loaded from the repository's node_modules, whatever the caller's cwd.
const repoRoot = path.resolve(__dirname, '..');
const solc = require(path.join(repoRoot, 'node_modules', 'solc'));
const roots = includeDirs.length > 0 ? includeDirs : [repoRoot, path.join(repoRoot, 'node_modules')];

function findImports(importPath) {
  for (const root of roots) {
    const candidate = path.resolve(root, importPath);
    // Refuse paths that climb out of an include directory ("../../etc/passwd").
    if (!candidate.startsWith(path.resolve(root) + path.sep)) continue;
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    }
  }
  return { error: `File not found in ${roots.join(', ')}: ${importPath}` };
}

const input = fs.readFileSync(inputPath, 'utf8');
const output = solc.compile(input, { import: findImports });
fs.writeFileSync(outputPath, output);
