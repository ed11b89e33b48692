import { test, expect } from "@playwright/test";
import { hydrated, putScript, signIn, startJob, unique } from "./helpers";

// Regression: with more jobs than fit a page, "Older" was always disabled
// (and showed part of its own source as its label), so page 2 was out of reach.
test("jobs list pages through more jobs than fit one page", async ({ page }) => {
  await signIn(page);
  const name = unique("paged");
  await putScript(page, name, { type: "bash", script: "true" });
  for (let i = 0; i < 23; i++) await startJob(page, name);
  await page.goto("/apps/tasks/jobs");
  await hydrated(page);
  await page.getByLabel("Script", { exact: true }).fill(name);

  const rows = page.locator("table.jobs tbody tr");
  await expect(page.getByText("Page 1 of 2 (23 jobs)")).toBeVisible({ timeout: 15_000 });
  await expect(rows).toHaveCount(20);
  const older = page.getByRole("button", { name: "Older", exact: true });
  const newer = page.getByRole("button", { name: "Newer", exact: true });
  await expect(newer).toBeDisabled();
  await expect(older).toBeEnabled();
  await older.click();
  await expect(page.getByText("Page 2 of 2 (23 jobs)")).toBeVisible();
  await expect(rows).toHaveCount(3);
  await expect(older).toBeDisabled();
  await newer.click();
  await expect(page.getByText("Page 1 of 2 (23 jobs)")).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("pager.png"), fullPage: true });
});
