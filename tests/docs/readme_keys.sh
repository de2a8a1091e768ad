#!/usr/bin/env bash
# The README's deck-key table must be exactly what `shear keys` prints (the schema is the single source).
set -u
SHEAR=$1 README=$2
want=$("$SHEAR" keys)
have=$(sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' "$README" | sed '1d;$d')
if [[ "$want" == "$have" ]]; then
  echo "ok   README key table matches shear keys ($(wc -l <<<"$want") lines)"; echo "1 passed, 0 failed"
else
  echo "FAIL README key table differs from shear keys; paste the output of 'shear keys' between the markers:"
  diff <(echo "$want") <(echo "$have") | head -20
  echo "0 passed, 1 failed"; exit 1
fi
