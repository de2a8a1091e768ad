#!/usr/bin/env bash
# Distillation in the real commands (shear train / prune with distill.teacher), on the tiny store of tests/train
# with its trained model (d=32, L=2, V=64) as the teacher of a smaller student (d=16, 2 heads / 1 KV head, I=32):
#   alpha0     distill.alpha 0 is bitwise plain training (the same model.h5 bits and losses); kd_loss is logged
#   self       teacher == student (--init the teacher): kd_loss 0 and a zero gradient at step 1, full and top-V
#   ranks      1 rank vs 2 ranks with run.zero and run.recompute: the same loss, lm_loss and kd_loss curves
#   teacher    a resume with another teacher, with none, or with one where the run had none: one clear error each
#   prune      shear prune with distillation and DBL: step records carry lm_loss / kd_loss, dbl records kd_losses
#   emu        the CUDA backend (in an emulation build: tests/cuda_emu) on 2 ranks with run.zero and run.recompute
#              against the CPU on 1 rank: the same loss, lm_loss and kd_loss curves within 1e-5
#   errors     a teacher of another vocabulary, a missing teacher, distill.topk > V: one clear error, nothing written
# usage: distill_test.sh SHEAR DECK STORE TEACHER WORK SCENARIO [mpirun args...]
set -u
SHEAR=$1 DECK=$2 STORE=$3 TEACHER=$4 WORK=$5 SCENARIO=$6; shift 6
MPI=("$@"); [[ ${#MPI[@]} -eq 0 ]] && MPI=(mpirun --oversubscribe --allow-run-as-root --mca btl "self,vader")
PY=/usr/bin/python3 HERE=$(dirname "$0")
W=$WORK/$SCENARIO
rm -rf "$W"; mkdir -p "$W"
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
STUDENT=(--set model.dim=16 --set model.n_heads=2 --set model.n_kv_heads=1 --set model.intermediate=32
         --set optim.warmup=1)
train() { # RANKS OUT extra...: one shear train of the student
  local np=$1 out=$2; shift 2
  "${MPI[@]}" -np "$np" "$SHEAR" train "$DECK" --set data.store="$STORE" --set run.out_dir="$out" \
    --set run.threads=1 "${STUDENT[@]}" "$@" > "$out.log" 2>&1
}
expect_error() { # PATTERN OUT cmd...: fails non-zero with PATTERN, no model.h5 written
  local pat=$1 out=$2; shift 2
  "$@"; local rc=$? # the command writes $out.log
  if [[ $rc -ne 0 ]] && grep -qF -- "$pat" "$out.log" && [[ ! -e "$out/model.h5" ]]; then pass=$((pass+1))
  else echo "FAIL: expected an error '$pat' (rc $rc):"; tail -5 "$out.log"; fail=$((fail+1)); fi
}
field() { # FILE STEP KEY: a field of a step record
  $PY -c "import json,sys; print([r for r in map(json.loads, open(sys.argv[1])) if r['event']=='step' and r['step']==int(sys.argv[2])][0][sys.argv[3]])" "$@"
}

case $SCENARIO in
alpha0)
  train 1 "$W/plain" --set train.steps=6; check test $? -eq 0
  train 1 "$W/kd0" --set train.steps=6 --set distill.teacher="$TEACHER" --set distill.alpha=0 --set distill.topk=5
  check test $? -eq 0
  check $PY "$HERE/../resume/same_state.py" "$W/kd0/model.h5" "$W/plain/model.h5" --exact
  check $PY "$HERE/../train/check_ranks.py" --drop -100 --tol 1e-300 "$W/plain/metrics.jsonl" "$W/kd0/metrics.jsonl"
  kd=$(field "$W/kd0/metrics.jsonl" 1 kd_loss); check $PY -c "assert $kd > 0.1, $kd"
  check grep -q "distill: teacher .* alpha 0 " "$W/kd0.log"
  ;;
self)
  for topk in 0 64; do
    out=$W/self_top$topk
    train 1 "$out" --set train.steps=1 --init "$TEACHER" --set distill.teacher="$TEACHER" --set distill.alpha=1 \
      --set distill.temperature=2 --set distill.topk=$topk
    check test $? -eq 0
    kd=$(field "$out/metrics.jsonl" 1 kd_loss) g=$(field "$out/metrics.jsonl" 1 grad_norm)
    echo "teacher == student, topk $topk: kd_loss $kd, grad_norm $g"
    check $PY -c "assert abs($kd) < 1e-6 and $g < 1e-5, ($kd, $g)"
  done
  train 1 "$W/plain" --set train.steps=1 --init "$TEACHER"; check test $? -eq 0
  g=$(field "$W/plain/metrics.jsonl" 1 grad_norm); echo "plain training from the teacher: grad_norm $g"
  check $PY -c "assert $g > 1e-2, $g" # the zero above is the KD term's, not a model without gradients
  ;;
ranks)
  KD=(--set train.steps=12 --set distill.teacher="$TEACHER" --set distill.alpha=0.5 --set distill.temperature=2
      --set distill.topk=8)
  train 1 "$W/np1" "${KD[@]}"; check test $? -eq 0
  train 2 "$W/np2" "${KD[@]}" --set run.zero=1 --set run.recompute=1; check test $? -eq 0
  for key in loss lm_loss kd_loss; do
    check $PY "$HERE/../train/check_ranks.py" --key $key --drop 0.1 --tol 1e-5 "$W/np1/metrics.jsonl" "$W/np2/metrics.jsonl"
  done
  check grep -q "distillation teacher" "$W/np2.log" # the memory estimate counts it
  ;;
emu)
  KD=(--set train.steps=12 --set distill.teacher="$TEACHER" --set distill.alpha=0.5 --set distill.temperature=2
      --set distill.topk=8)
  train 1 "$W/cpu" "${KD[@]}"; check test $? -eq 0
  train 2 "$W/cuda" "${KD[@]}" --set run.device=cuda --set run.zero=1 --set run.recompute=1; check test $? -eq 0
  for key in loss lm_loss kd_loss; do
    check $PY "$HERE/../train/check_ranks.py" --key $key --drop 0.1 --tol 1e-5 "$W/cpu/metrics.jsonl" "$W/cuda/metrics.jsonl"
  done
  ;;
teacher)
  KD=(--set train.steps=4 --set run.ckpt_every=2 --set run.keep_last=0)
  train 1 "$W/run" "${KD[@]}" --set distill.teacher="$TEACHER"; check test $? -eq 0
  # another teacher: the plain run's student (the same vocabulary, other weights)
  train 1 "$W/other" --set train.steps=1; check test $? -eq 0
  for d in resume_other resume_none; do mkdir -p "$W/$d/ckpt"; cp "$W/run/ckpt/step_00000002.h5" "$W/$d/ckpt/"
    echo step_00000002.h5 > "$W/$d/ckpt/LATEST"; done
  expect_error "expected the same teacher" "$W/resume_other" train 1 "$W/resume_other" "${KD[@]}" \
    --set distill.teacher="$W/other/model.h5"
  expect_error "this run has no teacher" "$W/resume_none" train 1 "$W/resume_none" "${KD[@]}"
  mkdir -p "$W/resume_moved/ckpt"; cp "$W/run/ckpt/step_00000002.h5" "$W/resume_moved/ckpt/"
  echo step_00000002.h5 > "$W/resume_moved/ckpt/LATEST"; cp "$TEACHER" "$W/moved_teacher.h5"
  train 1 "$W/resume_moved" "${KD[@]}" --set distill.teacher="$W/moved_teacher.h5"; check test $? -eq 0
  check grep -q "the teacher moved" "$W/resume_moved.log"
  check $PY "$HERE/../resume/same_state.py" "$W/resume_moved/ckpt/step_00000004.h5" "$W/run/ckpt/step_00000004.h5" --exact \
    --skip distill/teacher_path
  train 1 "$W/plainrun" "${KD[@]}"; check test $? -eq 0
  mkdir -p "$W/resume_kd/ckpt"; cp "$W/plainrun/ckpt/step_00000002.h5" "$W/resume_kd/ckpt/"
  echo step_00000002.h5 > "$W/resume_kd/ckpt/LATEST"
  expect_error "was trained without distillation" "$W/resume_kd" train 1 "$W/resume_kd" "${KD[@]}" \
    --set distill.teacher="$TEACHER"
  ;;
prune)
  "${MPI[@]}" -np 2 "$SHEAR" prune "$HERE/../prune/deck.yaml" --set data.store="$STORE" --set prune.source="$TEACHER" \
    --set run.out_dir="$W/prune" --set run.threads=1 --set train.steps=20 --set distill.teacher="$TEACHER" \
    --set distill.alpha=0.7 --set distill.topk=16 > "$W/prune.log" 2>&1
  check test $? -eq 0
  check $PY - "$W/prune/metrics.jsonl" <<'PYEOF'
import json, math, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
steps = [r for r in recs if r["event"] == "step"]
dbl = [r for r in recs if r["event"] == "dbl"]
ev = [r for r in recs if r["event"] == "eval"]
assert len(steps) == 20 and all(k in r for r in steps for k in ("loss", "lm_loss", "kd_loss", "lagrangian")), steps[0]
for r in steps:  # the objective is the blend of its two parts
    assert abs(r["loss"] - (0.3 * r["lm_loss"] + 0.7 * r["kd_loss"])) < 1e-6 * abs(r["loss"]), r
assert dbl and all(set(d["kd_losses"]) == set(d["losses"]) for d in dbl), dbl
assert all(v > 0 and math.isfinite(v) for d in dbl for v in d["kd_losses"].values()), dbl
assert ev and "kd_losses" in ev[0], ev
print(f"ok {len(steps)} step records, {len(dbl)} dbl records with kd_losses, kd_loss {steps[0]['kd_loss']:.4f} -> "
      f"{steps[-1]['kd_loss']:.4f}")
PYEOF
  ;;
errors)
  train 1 "$W/v80" --set train.steps=1 --set model.vocab=80; check test $? -eq 0
  expect_error "has a vocabulary of 80, the student 64" "$W/e_vocab" train 1 "$W/e_vocab" --set train.steps=1 \
    --set distill.teacher="$W/v80/model.h5"
  expect_error "distill.teacher: '$W/nope.h5' does not exist" "$W/e_missing" train 1 "$W/e_missing" \
    --set train.steps=1 --set distill.teacher="$W/nope.h5"
  expect_error "distill.topk: 65 exceeds the vocabulary of 64" "$W/e_topk" train 1 "$W/e_topk" --set train.steps=1 \
    --set distill.teacher="$TEACHER" --set distill.topk=65
  expect_error "distill.temperature" "$W/e_temp" train 1 "$W/e_temp" --set train.steps=1 \
    --set distill.teacher="$TEACHER" --set distill.temperature=0
  expect_error "distill.alpha" "$W/e_alpha" train 1 "$W/e_alpha" --set train.steps=1 \
    --set distill.teacher="$TEACHER" --set distill.alpha=1.5
  ;;
*) echo "unknown scenario $SCENARIO"; exit 2 ;;
esac
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
