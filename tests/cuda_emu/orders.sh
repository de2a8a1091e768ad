#!/usr/bin/env bash
# The race finder's test driver: runs one emulated command under several thread orders of the CUDA emulation
# (SHEAR_CUDA_EMU_ORDER: lane, reverse, shuffle:SEED) and requires that each run passes and that every rank
# copied back the same bytes from the device in every order (the emulation's digest of all device-to-host
# copies, SHEAR_CUDA_EMU_DIGEST). A kernel whose output depends on the order in which a block's threads run
# between barriers has a race: here it shows as different digests, named with the orders.
# usage: orders.sh ORDER[,ORDER...] COMMAND [ARGS...]
set -u
IFS=, read -r -a orders <<< "$1"
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for o in "${orders[@]}"; do
  echo "== SHEAR_CUDA_EMU_ORDER=$o: $*"
  SHEAR_CUDA_EMU_ORDER=$o SHEAR_CUDA_EMU_DIGEST="$work/digest.$o.%r" "$@"
  rc=$?
  if [[ $rc == 77 ]]; then echo "skipped (77)"; exit 77; fi
  if [[ $rc != 0 ]]; then echo "FAIL: exit $rc under order $o"; status=1; fi
done
[[ $status == 0 ]] || exit 1
first=${orders[0]}
n=0
for f in "$work"/digest."$first".*; do
  [[ -e $f ]] || { echo "FAIL: no digest written under order $first (is this an emulated build?)"; exit 1; }
  r=${f##*.}
  for o in "${orders[@]:1}"; do
    g="$work/digest.$o.$r"
    if ! cmp -s "$f" "$g"; then
      echo "FAIL: rank $r copied different bytes from the device under order $first ($(cat "$f")) and $o ($(cat "$g" 2>/dev/null || echo none)): a race between the threads of a block"
      status=1
    fi
  done
  n=$((n + 1))
done
[[ $status == 0 ]] && echo "ok   $n rank(s): identical device outputs under orders ${orders[*]}"
exit $status
