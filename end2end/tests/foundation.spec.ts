import { test, expect } from "@playwright/test";

// The app shell is served, hydrates, and a click reaches a server function
// that reads the database.
test("the Tasks app hydrates and calls the server", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto("/");
  await expect(page).toHaveURL(/\/apps\/tasks$/);
  await expect(page).toHaveTitle("Taskwright");
  await expect(page.locator("main[data-hydrated=true]")).toBeVisible();
  await page.getByRole("button", { name: "Check server" }).click();
  await expect(page.locator(".health")).toContainText("database ok, 0 waiting, 0 running");
  await page.screenshot({ path: test.info().outputPath("foundation.png") });
  expect(errors).toEqual([]);
});
