// Shared steps of the Tasks app specs: waiting for hydration, signing in,
// and setting up scripts through the REST API when a spec is not about
// the form itself.
import { expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ADMIN = { username: "admin", password: "e2e-admin-password" };

/** Waits until the WASM has hydrated the page, so buttons have handlers. */
export async function hydrated(page: Page) {
  await expect(page.locator("main[data-hydrated=true]")).toBeVisible();
}

/** Signs in through the form that any page shows when nobody is signed in. */
export async function signIn(
  page: Page,
  user = ADMIN.username,
  password = ADMIN.password,
  path = "/apps/tasks",
) {
  await page.goto(path);
  await hydrated(page);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  await hydrated(page);
}

/** Creates or replaces a script through the REST API with the page's session. */
export async function putScript(page: Page, name: string, fields: Record<string, unknown>) {
  const r = await page.request.put(`/api/scripts/${encodeURIComponent(name)}`, {
    data: { name, ...fields },
  });
  expect(r.ok(), await r.text()).toBeTruthy();
}

/** Starts a job through the REST API; returns its id. */
export async function startJob(page: Page, name: string): Promise<string> {
  const r = await page.request.post(`/api/scripts/${encodeURIComponent(name)}`);
  expect(r.ok(), await r.text()).toBeTruthy();
  const body = await r.json();
  return body.id ?? body.taskId ?? body.task?.id;
}

/** A small ZIP archive (made with Python's zipfile), as bytes. */
export function smallZip(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "tw-zip-"));
  const path = join(dir, "data.zip");
  execFileSync("python3", [
    "-c",
    "import sys, zipfile\n" +
      "with zipfile.ZipFile(sys.argv[1], 'w') as z:\n" +
      "    z.writestr('data/hello.txt', 'hello from the zip\\n')",
    path,
  ]);
  return readFileSync(path);
}

/** A unique script name for one test run. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}`;
}
