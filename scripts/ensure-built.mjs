/*
 * An app's `prestart` (pnpm runs it before `start`, in the app's directory). `start` runs the
 * compiled dist/main.js with Node alone, so that a production install (no tsx, no TypeScript)
 * can run it. In a development checkout TypeScript is installed: bring dist/ up to date with
 * `tsc -b` (a no-op when nothing changed), so `start` never runs code older than its sources.
 * In a production install it is not: dist/ must have been built before devDependencies went.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const appDir = process.cwd();
const { name } = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8'));

let tsc;
try {
  tsc = join(createRequire(join(appDir, 'package.json')).resolve('typescript/package.json'), '..', 'bin', 'tsc');
} catch {
  tsc = undefined;
}

if (tsc) {
  const build = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: appDir, stdio: 'inherit' });
  process.exit(build.status ?? 1);
}
if (!existsSync(join(appDir, 'dist', 'main.js'))) {
  console.error(
    `${name}: dist/main.js is missing and TypeScript is not installed here to build it. ` +
      'Build before the production install: pnpm install --frozen-lockfile && pnpm build && pnpm install --prod --frozen-lockfile',
  );
  process.exit(1);
}
