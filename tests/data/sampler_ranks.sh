#!/usr/bin/env bash
# 1, 2 and 3 ranks draw the same global batches: runs test_sampler_ranks with each rank count and compares the
# digests rank 0 prints of all gathered batches.
# usage: sampler_ranks.sh TEST_BINARY MPIRUN [MPIRUN ARGS...]
set -euo pipefail
bin="$1"; shift
ref=""
for np in 1 2 3; do
  line="$("$@" -np "$np" "$bin" | grep '^ranks')"
  echo "$line"
  digest="${line##*digest }"
  if [ -z "$ref" ]; then ref="$digest"; elif [ "$digest" != "$ref" ]; then
    echo "FAIL: $np ranks drew other batches (digest $digest, 1 rank $ref)" >&2; exit 1
  fi
done
echo "sampler_ranks: 1, 2 and 3 ranks draw identical global batches"
