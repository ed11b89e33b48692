import { test, expect } from "@playwright/test";
import { hydrated, putScript, signIn, startJob, unique } from "./helpers";

// The jobs list shows new jobs by itself, filters by script and status,
// deletes one finished job, and clears the finished ones after confirmation.
test("jobs list: filter, delete one, clear finished", async ({ page }) => {
  await signIn(page);
  const name = unique("quick");
  await putScript(page, name, { type: "bash", script: "echo quick" });
  await page.goto("/apps/tasks/jobs");
  await hydrated(page);
  await page.getByLabel("Script", { exact: true }).fill(name);

  const ids = [await startJob(page, name), await startJob(page, name), await startJob(page, name)];
  const rows = page.locator("table.jobs tbody tr");
  // No reload: the list refreshes itself.
  await expect(rows).toHaveCount(3, { timeout: 15_000 });
  await expect(page.locator('tr[data-status="COMPLETED"]')).toHaveCount(3, { timeout: 15_000 });
  await page.getByLabel("Status", { exact: true }).selectOption("ERROR");
  await expect(page.getByText("No jobs.")).toBeVisible();
  await page.getByLabel("Status", { exact: true }).selectOption("");
  await expect(rows).toHaveCount(3);

  await page.locator(`tr[data-job="${ids[0]}"]`).getByRole("button", { name: /^Delete job/ }).click();
  await expect(rows).toHaveCount(2);
  expect((await page.request.get(`/api/tasks/${ids[0]}`)).status()).toBe(404);
  await page.screenshot({ path: test.info().outputPath("jobs.png"), fullPage: true });

  await page.getByRole("button", { name: "Clear finished jobs" }).click();
  await expect(page.getByText("Delete every finished job and its log?")).toBeVisible();
  await page.getByRole("button", { name: "Yes" }).click();
  await expect(page.getByText(/finished jobs deleted/)).toBeVisible();
  await expect(page.getByText("No jobs.")).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("cleared.png"), fullPage: true });
});
