import { test, expect } from "@playwright/test";
import { hydrated, putScript, signIn, unique } from "./helpers";

// An admin creates a viewer and an API token on the users page (the token is
// shown once); the viewer sees scripts but no edit, run or delete controls,
// and the server refuses the calls when the viewer forces them.
test("a viewer sees no edit controls and the server refuses forced calls", async ({ page }) => {
  await signIn(page);
  const name = unique("guarded");
  await putScript(page, name, { type: "bash", script: "echo guarded" });
  const viewer = unique("viewer");

  await page.getByRole("link", { name: "Users" }).click();
  await hydrated(page);
  await page.getByLabel("User name").fill(viewer);
  await page.getByLabel(/^Password/).fill("short");
  await page.getByLabel("Role").selectOption("viewer");
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.locator("#e-password")).toContainText("at least 8 characters");
  await page.getByLabel(/^Password/).fill("viewer-password");
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.locator(`tr[data-user="${viewer}"]`)).toContainText("viewer");

  await page.getByLabel("For user").fill(viewer);
  await page.getByLabel("Token name").fill("ci");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = page.getByLabel("Your new token (shown only now)");
  await expect(secret).toHaveValue(/.{20,}/);
  const token = await secret.inputValue();
  const asViewer = await page.request.get("/api/me", {
    headers: { "x-molgenis-token": token },
  });
  expect((await asViewer.json()).username).toBe(viewer);
  await page.screenshot({ path: test.info().outputPath("users.png"), fullPage: true });

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/signin$/);
  await signIn(page, viewer, "viewer-password", `/apps/tasks/scripts/${encodeURIComponent(name)}`);
  await expect(page.getByRole("heading", { name })).toBeVisible();
  await expect(page.locator(".code-view")).toContainText("echo guarded");
  await expect(page.getByRole("button", { name: "Save" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Run" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Delete script" })).toHaveCount(0);
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" })).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath("viewer.png"), fullPage: true });

  // Forcing the calls the page did not offer, from the page itself.
  const refused = await page.evaluate(async (script) => {
    const del = await fetch("/apps/tasks/fn/delete_script", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ name: script }),
    });
    const run = await fetch("/apps/tasks/fn/run_script", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: script, parameters: null }),
    });
    return { del: del.status, delText: await del.text(), run: run.status };
  }, name);
  expect(refused.del).toBe(403);
  expect(refused.delText).toContain("needs the admin role");
  expect(refused.run).toBe(403);
  const users = await page.request.get("/apps/tasks/users");
  expect(await users.text()).toContain("This page needs the admin role");
  expect((await page.request.get(`/api/scripts/${encodeURIComponent(name)}/definition`)).ok()).toBeTruthy();
});
