# Archives the directory named by the parameter into a tar.gz output file.
# Fails with exit code 3 and a message when the directory does not exist,
# with 2 when no directory is given.
set -euo pipefail

dir="$(printf '%s' "${1:-}" | tr -d '\r\n')"
if [ -z "$dir" ]; then
  echo "backup: give the directory to archive as the parameter" >&2
  exit 2
fi
if [ ! -d "$dir" ]; then
  echo "backup: directory not found: $dir" >&2
  exit 3
fi
dir="$(cd "$dir" && pwd)"
tar -czf "$OUTPUT_FILE" -C "$(dirname "$dir")" "$(basename "$dir")"
entries=$(tar -tzf "$OUTPUT_FILE" | wc -l)
echo "archived $dir: $entries entries, $(stat -c %s "$OUTPUT_FILE") bytes"
