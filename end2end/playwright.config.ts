// Playwright runs the release server on a free port with a fresh data
// directory, then the specs in tests/ against it in Debian's Chromium.
// Started by `make test` (which sets E2E_PORT); `npx playwright test` alone
// works too after `cargo leptos build --release`.
import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const port = Number(process.env.E2E_PORT ?? 3917);
const root = resolve(__dirname, "..");
// A build in another target directory can be tested with these two.
const bin = process.env.TASKWRIGHT_BIN ?? `${root}/target/release/taskwright`;
const site = process.env.TASKWRIGHT_SITE ?? `${root}/target/site`;
const dataDir = process.env.E2E_DATA_DIR ?? mkdtempSync(join(tmpdir(), "taskwright-e2e-"));
export const adminPassword = "e2e-admin-password";

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  timeout: 60_000,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: bin,
    cwd: root,
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    env: {
      TASKWRIGHT_BIND: `127.0.0.1:${port}`,
      TASKWRIGHT_DATA_DIR: dataDir,
      TASKWRIGHT_SITE_ROOT: site,
      TASKWRIGHT_ADMIN_PASSWORD: adminPassword,
      TASKWRIGHT_UV: process.env.TASKWRIGHT_UV ?? `${root}/.tools/venv/bin/uv`,
      TASKWRIGHT_KILL_GRACE_SECONDS: "2",
      TASKWRIGHT_LOG: process.env.TASKWRIGHT_LOG ?? "warn",
      PATH: process.env.PATH ?? "/usr/bin:/bin",
    },
  },
});
