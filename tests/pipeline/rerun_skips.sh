#!/usr/bin/env bash
# A second run of the pipeline over finished outputs skips every stage and changes no model file.
set -u
DECKS=$1 STORE=$2 OUT=$3
before=$(sha256sum "$OUT"/*.h5 "$OUT"/*/model.h5 "$OUT"/prune/pruned.h5 | sort)
log=$(bash tools/pipeline.sh "$DECKS" "$STORE" "$OUT" 2>&1) || { echo "$log" | tail -5; echo "0 passed, 1 failed"; exit 1; }
after=$(sha256sum "$OUT"/*.h5 "$OUT"/*/model.h5 "$OUT"/prune/pruned.h5 | sort)
skips=$(grep -c "exists: skipped" <<<"$log")
if [[ "$before" == "$after" && $skips -ge 9 ]]; then
  echo "ok   second run skipped $skips stages, models unchanged"; echo "1 passed, 0 failed"
else
  echo "FAIL second run: $skips skips, models changed: $([[ "$before" == "$after" ]] && echo no || echo yes)"
  echo "0 passed, 1 failed"; exit 1
fi
