import { test, expect } from "@playwright/test";
import { hydrated, putScript, signIn, startJob, unique } from "./helpers";

// A long-running job is cancelled from its page and ends CANCELLED.
test("cancel a long-running job", async ({ page }) => {
  await signIn(page);
  const name = unique("sleeper");
  await putScript(page, name, { type: "bash", script: 'echo "going to sleep"\nsleep 120' });
  const id = await startJob(page, name);
  await page.goto(`/apps/tasks/jobs/${id}`);
  await hydrated(page);
  await expect(page.getByLabel("Job log")).toContainText("going to sleep");
  await page.getByRole("button", { name: "Cancel job" }).click();
  await expect(page.locator(".page-head .badge")).toHaveText("CANCELLED", { timeout: 20_000 });
  await expect(page.getByRole("button", { name: "Cancel job" })).toBeHidden();
  await page.screenshot({ path: test.info().outputPath("cancelled.png"), fullPage: true });
});
