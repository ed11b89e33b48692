import { test, expect } from "@playwright/test";
import { hydrated } from "./helpers";

// The app shell is served, `/` leads to the Tasks app, it hydrates, and
// someone not signed in is asked to sign in; the health endpoint answers.
test("the Tasks app hydrates and asks to sign in", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto("/");
  await expect(page).toHaveURL(/\/apps\/tasks$/);
  await expect(page).toHaveTitle("Taskwright");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  const health = await page.request.get("/api/health");
  expect((await health.json()).database).toBe("ok");
  await page.screenshot({ path: test.info().outputPath("foundation.png") });
  expect(errors).toEqual([]);
});
