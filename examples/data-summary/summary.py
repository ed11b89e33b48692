# Summarizes one numeric column of the measurements in this job's extra file
# (data-summary.zip: data/measurements.csv and summary_helpers.py, unpacked
# into the working directory), per species, into a CSV output file.
# Parameter: the column name (default weight_g).
import os
import sys

from summary_helpers import load_measurements, numeric_columns, summarize

column = (sys.argv[1] if len(sys.argv) > 1 else "").strip() or "weight_g"
frame = load_measurements("data/measurements.csv")
choices = numeric_columns(frame)
if column not in choices:
    print(
        f"data-summary: {column!r} is not a numeric column; choose one of: {', '.join(choices)}",
        file=sys.stderr,
    )
    sys.exit(2)

summary = summarize(frame, column)
summary.to_csv(os.environ["OUTPUT_FILE"], index=False)
print(f"{len(frame)} rows, summary of {column} per species:")
print(summary.to_string(index=False))
