import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests open real sockets and spawn processes; keep them in separate forks
    // so a leaked handle in one file cannot hide in another.
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
