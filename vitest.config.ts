import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration suites start real servers and child processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
    // The dashboard's build (renderer/dist), made once when missing or older than its sources.
    globalSetup: ['test/global-setup.ts'],
  },
})
