import { test, expect } from "@playwright/test";
import { hydrated, putScript, signIn, unique } from "./helpers";

// Running from the scripts table asks for parameters and opens the job's
// page, where the log appears line by line before the job ends (stderr
// marked); the output file then downloads with the bytes the script wrote.
test("run with parameters, watch the live log, download the output", async ({ page }) => {
  await signIn(page);
  const name = unique("slow-writer");
  await putScript(page, name, {
    type: "bash",
    outputFileExtension: "csv",
    script: [
      'echo "started with $1"',
      'echo "a warning" >&2',
      "sleep 3",
      'printf "id,value\\n1,%s\\n" "$1" > "$OUTPUT_FILE"',
      'echo "done"',
    ].join("\n"),
  });
  await page.goto("/apps/tasks");
  await hydrated(page);
  await page.getByRole("button", { name: `Run ${name}` }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Parameters").fill("forty-two");
  await dialog.getByRole("button", { name: "Start job" }).click();
  await expect(page).toHaveURL(/\/apps\/tasks\/jobs\/[0-9a-f-]+$/);
  await hydrated(page);

  const log = page.getByLabel("Job log");
  await expect(log).toContainText("started with forty-two");
  // Seen while the script is still sleeping: the log is live.
  await expect(page.locator(".page-head .badge")).toHaveText(/RUNNING|WAITING/);
  await expect(log).not.toContainText("done");
  await expect(log.locator(".line.stderr")).toContainText("a warning");
  await page.screenshot({ path: test.info().outputPath("live-log.png"), fullPage: true });

  await expect(log).toContainText("done", { timeout: 20_000 });
  await expect(page.locator(".page-head .badge")).toHaveText("COMPLETED");
  const link = page.getByRole("link", { name: /^Download / });
  await expect(link).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  const stream = await download.createReadStream();
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  expect(Buffer.concat(chunks).toString("utf8")).toBe("id,value\n1,forty-two\n");
  await expect(page.locator(".facts")).toContainText("forty-two");
  await page.screenshot({ path: test.info().outputPath("finished.png"), fullPage: true });
});
