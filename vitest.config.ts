/** Test runner configuration: workspace packages resolve to their TypeScript sources, so tests need no build. */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string): string => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@sealstream/protocol': src('protocol'),
      '@sealstream/contract': src('contract'),
      '@sealstream/emitter': src('emitter'),
      '@sealstream/testkit': src('testkit'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Server-backed suites share one local PostgreSQL; files still run in parallel on 2 cores.
    pool: 'forks',
    reporters: ['default'],
  },
});
