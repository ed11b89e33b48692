# Nightly health check: is there enough free disk space where jobs run?
# Writes a one-line report to the output file; exits 1 (so the failure mail
# goes to the script's failureAddress) when space is short.
# Parameter: the minimum free space in MB (default 500).
set -euo pipefail

min_mb="$(printf '%s' "${1:-500}" | tr -d '\r\n ')"
if ! [[ "$min_mb" =~ ^[0-9]+$ ]]; then
  echo "nightly-check: the parameter must be a whole number of MB, not '$min_mb'" >&2
  exit 2
fi
read -r mount free_mb < <(df -Pm . | awk 'NR == 2 { print $6, $4 }')
echo "$(date -u +%FT%TZ) free space on $mount: $free_mb MB (minimum $min_mb MB)" | tee "$OUTPUT_FILE"
if (( free_mb < min_mb )); then
  echo "nightly-check: only $free_mb MB free on $mount, below the minimum of $min_mb MB" >&2
  exit 1
fi
echo "nightly-check: OK"
