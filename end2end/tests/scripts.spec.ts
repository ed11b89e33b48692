import { test, expect } from "@playwright/test";
import { hydrated, signIn, smallZip, unique } from "./helpers";

// Scripts are created in the form: a bash one, and a python one with a
// dependency and an extra ZIP file; both appear in the table, which filters.
test("create a bash script and a python script with a dependency and a ZIP", async ({ page }) => {
  await signIn(page);
  const bash = unique("hello bash");
  const python = unique("report-py");

  await page.getByRole("link", { name: "New script" }).click();
  await hydrated(page);
  await page.getByLabel("Name", { exact: true }).fill(bash);
  await page.getByLabel("Type", { exact: true }).selectOption("bash");
  await page.getByRole("textbox", { name: "Script", exact: true }).fill('echo "hello $1"\n');
  await page.getByRole("button", { name: "Create script" }).click();
  await expect(page.getByRole("heading", { name: bash })).toBeVisible();

  await page.goto("/apps/tasks/new");
  await hydrated(page);
  await page.getByLabel("Name", { exact: true }).fill(python);
  await page.getByLabel("Type", { exact: true }).selectOption("python");
  await page
    .getByRole("textbox", { name: "Script", exact: true })
    .fill("import os\nprint(open('data/hello.txt').read())\n");
  await page.getByLabel(/^Dependencies/).fill("requests");
  await page.getByLabel(/^Output file extension/).fill("txt");
  await page.getByLabel(/^Extra file/).setInputFiles({
    name: "data.zip",
    mimeType: "application/zip",
    buffer: smallZip(),
  });
  await page.getByRole("button", { name: "Create script" }).click();
  await expect(page.getByRole("heading", { name: python })).toBeVisible();
  await expect(page.locator(".current-file")).toContainText("data.zip");
  await expect(page.getByLabel(/^Dependencies/)).toHaveValue("requests");

  const def = await page.request.get(`/api/scripts/${encodeURIComponent(python)}/definition`);
  const body = await def.json();
  expect(JSON.stringify(body)).toContain("requests");

  await page.getByRole("link", { name: "Scripts" }).click();
  await hydrated(page);
  await expect(page.locator(`tr[data-script="${bash}"]`)).toBeVisible();
  await expect(page.locator(`tr[data-script="${python}"]`)).toContainText("python");
  await page.getByLabel("Filter").fill("report-py");
  await expect(page.locator(`tr[data-script="${bash}"]`)).toBeHidden();
  await expect(page.locator(`tr[data-script="${python}"]`)).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("scripts.png"), fullPage: true });
});
