/* global process */
// Builds the web console and the sandbox's playground (console/src) into dist/console: one ES
// module each and the stylesheet the console imports (app.css, shared), minified, no source maps.
// Run by `npm run build` and by the `prepare` script of `npm ci`.
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'console');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, 'src', 'main.tsx'), playground: join(here, 'src', 'playground.tsx') },
  outdir: out,
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'playground.html'), join(out, 'playground.html'));
const kb = (f) => (statSync(join(out, f)).size / 1024).toFixed(1);
process.stdout.write(`console: dist/console/app.js ${kb('app.js')} KiB, playground.js ${kb('playground.js')} KiB, app.css ${kb('app.css')} KiB\n`);
