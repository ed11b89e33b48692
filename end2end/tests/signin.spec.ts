import { test, expect } from "@playwright/test";
import { ADMIN, hydrated, signIn } from "./helpers";

// A wrong password is refused with a message; the right one signs in and
// shows the user and every page an admin may use; signing out ends it.
test("sign in and out", async ({ page }) => {
  await page.goto("/apps/tasks/signin");
  await hydrated(page);
  await page.getByLabel("User name").fill(ADMIN.username);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "wrong password" })).toBeVisible();

  await signIn(page);
  await expect(page.locator(".who")).toContainText("admin");
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const name of ["Scripts", "Jobs", "Schedules", "Users"]) {
    await expect(nav.getByRole("link", { name })).toBeVisible();
  }
  await expect(page.getByRole("heading", { name: "Scripts" })).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("signed-in.png") });

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/apps\/tasks\/signin$/);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  const me = await page.request.get("/api/me");
  expect(me.status()).toBe(401);
});
