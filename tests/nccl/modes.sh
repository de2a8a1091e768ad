#!/usr/bin/env bash
# Failure modes of the NCCL set-up on a GPU machine (skips with 77 without a CUDA device):
#   die:    a rank that dies with a live communicator ends the job promptly, with its message
#   shared: two ranks forced onto one GPU (CUDA_VISIBLE_DEVICES=0) are refused, naming both local ranks
# usage: modes.sh TEST_NCCL MPIRUN...
set -u
bin=$1
shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pass=0 fail=0
check() { if [[ $2 == 0 ]]; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

t0=$(date +%s)
timeout -k 5 120 "$@" -np 1 "$bin" die >"$out/die.out" 2>"$out/die.err"
rc=$?
if [[ $rc == 77 ]]; then cat "$out/die.out"; exit 77; fi
check "die: exits non-zero, not by the timeout (rc $rc)" $([[ $rc != 0 && $rc != 124 && $rc != 137 ]]; echo $?)
check "die: within 60 s (took $(($(date +%s) - t0)) s)" $([[ $(($(date +%s) - t0)) -lt 60 ]]; echo $?)
check "die: the message is printed" $(grep -q "rank 0 dies on purpose with a live NCCL communicator" "$out/die.err"; echo $?)

timeout -k 5 120 env CUDA_VISIBLE_DEVICES=0 "$@" -x CUDA_VISIBLE_DEVICES=0 -np 2 "$bin" shared >"$out/sh.out" 2>"$out/sh.err"
rc=$?
check "shared: refused (rc $rc)" $([[ $rc != 0 && $rc != 124 && $rc != 137 && $rc != 77 ]]; echo $?)
check "shared: names both local ranks and the GPU" \
  $(grep -Eq "local ranks 0 and 1 on host [^ ]+ both drive GPU 0" "$out/sh.err"; echo $?)
if [[ $fail != 0 ]]; then tail -20 "$out"/*.err; fi
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
