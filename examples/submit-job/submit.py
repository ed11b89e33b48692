# Starts the data-summary script through Taskwright's REST API with this
# job's own token, waits for it, and keeps its CSV as this job's output.
# The token has the rights of whoever started this job and dies with it.
# Parameter: the column for data-summary (default length_mm).
import os
import sys
import time

import requests

server = os.environ["MOLGENIS_SERVER_URL"]
headers = {"x-molgenis-token": os.environ["MOLGENIS_TOKEN"]}
column = (sys.argv[1] if len(sys.argv) > 1 else "").strip() or "length_mm"

started = requests.post(f"{server}/api/scripts/data-summary", data=column, headers=headers, timeout=30)
started.raise_for_status()
child = started.json()["id"]
print(f"started data-summary as job {child}", flush=True)

deadline = time.monotonic() + 540
while True:
    task = requests.get(f"{server}/api/tasks/{child}", headers=headers, timeout=30).json()
    if task["status"] in ("COMPLETED", "ERROR", "CANCELLED"):
        break
    if time.monotonic() > deadline:
        sys.exit(f"submit-job: job {child} is still {task['status']} after 9 minutes")
    time.sleep(0.5)

print(f"job {child} ended {task['status']}")
if task["status"] != "COMPLETED":
    sys.exit(f"submit-job: data-summary failed: {task.get('error') or task['description']}")

output = requests.get(f"{server}/api/tasks/{child}/output", headers=headers, timeout=30)
output.raise_for_status()
with open(os.environ["OUTPUT_FILE"], "wb") as out:
    out.write(output.content)
print(output.text)
