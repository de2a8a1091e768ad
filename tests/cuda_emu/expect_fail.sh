#!/usr/bin/env bash
# A mutant's test: the emulated tests must fail on the mutated kernel, by a check of the test or a diagnosis of
# the emulation, not by a crash of the test program itself or a skip. Passes when they do; prints why they
# failed (the lines naming the failure), or that the mutant survived.
# usage: expect_fail.sh MUTANT COMMAND [ARGS...]
set -u
name=$1
shift
out=$("$@" 2>&1)
rc=$?
reasons=$(grep -E "^FAIL|cuda-emu: |shear: error:" <<< "$out" | head -5)
if [[ $rc == 77 ]]; then echo "FAIL: mutant $name: the test skipped (77) instead of running"; exit 1; fi
if [[ $rc == 0 ]]; then
  echo "$out" | tail -20
  echo "FAIL: mutant $name survived: the emulated tests passed on the mutated kernel"
  exit 1
fi
if [[ -z $reasons ]]; then
  echo "$out" | tail -20
  echo "FAIL: mutant $name: the tests failed (exit $rc) but without a failed check or an emulation diagnosis"
  exit 1
fi
echo "$reasons"
echo "ok   mutant $name killed (exit $rc)"
