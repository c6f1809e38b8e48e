/*
 * The library packages as a user gets them from npm: `pnpm pack` (which builds first) for each,
 * the tarballs installed with npm into a project in the OS temp directory (outside the
 * workspace, so nothing resolves through its node_modules), then the root README's "Use an
 * adapter in an app" snippet, read from the README itself, run with plain `node` and
 * type-checked with `tsc`.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks, readmeSection, run, tscBin, WORKSPACE } from './run.js';

const PACKAGES = ['contract', 'net', 'ws', 'websocket', 'socketio', 'bus'] as const;
const SECTION = 'Use an adapter in an app';

interface Packed {
  dir: string;
  tarball: string;
  files: string[];
  manifest: Record<string, unknown> & { name: string };
}

const readme = readFileSync(join(WORKSPACE, 'README.md'), 'utf8');
const blocks = codeBlocks(readmeSection(readme, SECTION));
const installLine = blocks[0]?.code.trim() ?? '';
const snippet = blocks.find((b) => b.lang === 'ts')?.code ?? '';

let temp: string;
let project: string;
const packed = new Map<string, Packed>();

beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'socketlab-packed-'));
  const tarballs = join(temp, 'tarballs');
  for (const dir of PACKAGES) {
    const cwd = join(WORKSPACE, 'packages', dir);
    const before = new Set(listDir(tarballs));
    run('pnpm', ['pack', '--pack-destination', tarballs], { cwd, timeoutMs: 120_000, env: process.env });
    const tarball = listDir(tarballs).find((f) => !before.has(f));
    if (!tarball) throw new Error(`pnpm pack in packages/${dir} wrote no tarball`);
    const path = join(tarballs, tarball);
    const files = run('tar', ['-tzf', path], { cwd: temp, timeoutMs: 10_000 })
      .stdout.split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    const manifest = JSON.parse(
      run('tar', ['-xzf', path, '-O', 'package/package.json'], { cwd: temp, timeoutMs: 10_000 }).stdout,
    );
    packed.set(dir, { dir, tarball: path, files, manifest });
  }

  project = join(temp, 'app');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2)}\n`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          noEmit: true,
          // The packages' own .d.ts are checked too: a type they name but do not bring is an error.
          skipLibCheck: false,
        },
        include: ['main.ts', 'every-export.ts'],
      },
      null,
      2,
    )}\n`,
  );
  // Node 20's types: the oldest Node the packages declare.
  const tarballPaths = [...packed.values()].map((p) => p.tarball);
  run('npm', ['install', '--no-audit', '--no-fund', ...tarballPaths, '@types/node@^20.19.0'], {
    cwd: project,
    timeoutMs: 240_000,
  });
  writeFileSync(join(project, 'main.ts'), snippet);
  writeFileSync(join(project, 'main.js'), snippet);
  // Every subpath every package exports, so each one's types must resolve, not only the snippet's.
  const imports = [...packed.values()].flatMap(({ manifest }) =>
    Object.keys(manifest.exports as object).map((subpath, i) => {
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`;
      return `export type * as ${manifest.name.replace(/\W/g, '_')}_${i} from '${specifier}';\n`;
    }),
  );
  writeFileSync(join(project, 'every-export.ts'), imports.join(''));
}, 420_000);

afterAll(() => {
  if (temp && !process.env.SOCKETLAB_KEEP_TEMP) rmSync(temp, { recursive: true, force: true });
});

describe('the README section "Use an adapter in an app"', () => {
  it('starts with the npm install line, for packages this test packs', () => {
    expect(blocks[0]?.lang).toBe('sh');
    const [npm, install, ...names] = installLine.split(/\s+/);
    expect([npm, install]).toEqual(['npm', 'install']);
    expect(names.length).toBeGreaterThan(0);
    const packedNames = [...packed.values()].map((p) => p.manifest.name);
    for (const name of names) expect(packedNames).toContain(name);
    expect(snippet).toContain(`from '${names[0]}'`);
  });
});

describe.each(PACKAGES)('the packed @socketlab/%s', (dir) => {
  const get = (): Packed => packed.get(dir)!;

  it('is publishable: not private, MIT licensed with its LICENSE, engines stated', () => {
    const { manifest, files } = get();
    expect(manifest.private).toBeUndefined();
    expect(manifest.license).toBe('MIT');
    expect(files).toContain('LICENSE');
    expect(readFileSync(join(WORKSPACE, 'packages', dir, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect((manifest.engines as { node?: string } | undefined)?.node).toBeTruthy();
  });

  it('has its compiled code, declarations and nothing of the build state or tests', () => {
    const { files } = get();
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files.filter((f) => f.endsWith('.tsbuildinfo'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('test/'))).toEqual([]);
  });

  it('has no workspace: range left in any dependency', () => {
    const { manifest } = get();
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
      for (const [name, range] of Object.entries((manifest[field] as Record<string, string> | undefined) ?? {})) {
        expect(range, `${field}.${name}`).not.toMatch(/^workspace:/);
      }
    }
  });

  it('exports only files it ships, with types, and no source condition', () => {
    const { manifest, files } = get();
    const exports = manifest.exports as Record<string, Record<string, string>>;
    expect(Object.keys(exports)).toContain('.');
    for (const [subpath, conditions] of Object.entries(exports)) {
      expect(Object.keys(conditions), subpath).not.toContain('source');
      expect(conditions.types, `${subpath} types`).toMatch(/\.d\.ts$/);
      for (const target of Object.values(conditions))
        expect(files, `${subpath} -> ${target}`).toContain(target.replace(/^\.\//, ''));
    }
  });
});

describe('the snippet in a project outside the workspace', () => {
  it('runs with plain node and prints the broadcast', () => {
    const { stdout } = run(process.execPath, ['main.js'], { cwd: project, timeoutMs: 30_000 });
    expect(stdout).toMatch(/\{ type: 'broadcast', from: '[^']+', payload: \{ text: 'hi' \} \}/);
  }, 60_000);

  it('type-checks with tsc (strict, NodeNext, the packages’ own .d.ts included)', () => {
    run(process.execPath, [tscBin(), '-p', 'tsconfig.json'], { cwd: project, timeoutMs: 120_000 });
  }, 150_000);

  it('resolved the installed tarballs, not the workspace', () => {
    const resolved = run(
      process.execPath,
      ['--input-type=module', '-e', "console.log(import.meta.resolve('@socketlab/ws'))"],
      {
        cwd: project,
        timeoutMs: 10_000,
      },
    ).stdout.trim();
    expect(resolved).toBe(`file://${join(project, 'node_modules', '@socketlab', 'ws', 'dist', 'index.js')}`);
  }, 30_000);
});

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
