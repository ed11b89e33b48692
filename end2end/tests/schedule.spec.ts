import { test, expect } from "@playwright/test";
import { hydrated, putScript, signIn, unique } from "./helpers";

// Editing a script's schedule shows the next five fire times as one types;
// an invalid expression shows its error beside the field, and saving it is
// refused with the error beside the cron field. A valid one is saved and
// listed on the schedules page.
test("edit a schedule: next fire times, and an invalid cron's error", async ({ page }) => {
  await signIn(page);
  const name = unique("nightly");
  await putScript(page, name, { type: "bash", script: "echo nightly" });
  await page.goto(`/apps/tasks/scripts/${encodeURIComponent(name)}`);
  await hydrated(page);

  const cron = page.getByLabel("Schedule (cron)");
  await cron.fill("0 30 2 * * *");
  await page.getByLabel("Time zone").fill("Europe/Amsterdam");
  const fires = page.locator(".cron-preview .fires li");
  await expect(fires).toHaveCount(5);
  await expect(fires.first()).toContainText("02:30:00");
  await expect(fires.first()).toContainText("+01:00");
  await page.screenshot({ path: test.info().outputPath("fire-times.png"), fullPage: true });

  await cron.fill("61 * * * *");
  await expect(page.locator("#cron-preview-error")).toContainText("not a valid cron expression");
  await page.getByRole("button", { name: "Save" }).click();
  const beside = page.locator("#e-cron");
  await expect(beside).toContainText("not a valid cron expression");
  await expect(cron).toHaveAttribute("aria-describedby", "e-cron");
  await page.screenshot({ path: test.info().outputPath("invalid-cron.png"), fullPage: true });

  await cron.fill("0 30 2 * * *");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await page.getByRole("link", { name: "Schedules" }).click();
  await hydrated(page);
  const row = page.locator(`tr[data-script="${name}"]`);
  await expect(row).toContainText("Europe/Amsterdam");
  await expect(row.locator("li")).toHaveCount(5);
});
