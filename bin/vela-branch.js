#!/usr/bin/env node
// Plain JavaScript on purpose: this check has to run (and fail clearly) on Node versions
// that cannot load the TypeScript sources imported below.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(`vela-branch: Node >= 22.18 is needed; this is Node ${process.versions.node}`);
  process.exit(1);
}

// Installed from npm, run the bundle (Node does not strip types under node_modules); a checkout runs the sources.
const installed = import.meta.url.includes('/node_modules/');
const { main } = await import(installed ? '../build/cli.js' : '../src/cli/index.ts');
// exitCode rather than exit(): `agent` and `app` keep serving after main() resolves.
process.exitCode = await main(process.argv.slice(2));
