#!/usr/bin/env bash
# Integrity of token stores and model files (issue 19, item 2). A store written by `shear prep` on 2 ranks and
# the model files written by `shear train` and `shear prune` carry a checksum per dataset (the checkpoint hash,
# recomputed here independently by tests/ckpt/h5check.py); one flipped bit in a dataset's raw bytes makes
# `shear info`, `train` (the store, and --init the model), `eval`, `prep` (its skip check), `finalize` and
# `export` exit 1 naming the dataset and "checksum"; SHEAR_NO_VERIFY=1 opens them anyway; the unflipped files
# pass; files without checksums (from before this change) still work, with one warning per file.
# usage: integrity.sh SHEAR WORKDIR SRC_DIR MPIRUN [MPIRUN ARGS...]
set -uo pipefail
shear="$1"; work="$2"; src="$3"; shift 3
mpirun=("$@")
py=/usr/bin/python3
tool="$src/tests/badinput/data_tool.py"
h5check="$src/tests/ckpt/h5check.py"
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
ulimit -c 0

pass=0; fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { pass=$((pass + 1)); echo "ok   $*"; }

# expect NAME CODE PATTERN... -- CMD...: exit CODE within 60 s; with CODE 1 exactly one `shear: error:` line;
# stdout + stderr contain every PATTERN (extended regex)
expect() {
  local name="$1" code="$2"; shift 2
  local pats=()
  while [[ "$1" != "--" ]]; do pats+=("$1"); shift; done
  shift
  timeout 60 "$@" >"$name.log" 2>&1
  local rc=$?
  if [[ $rc -ne $code ]]; then fail "$name: exit $rc, expected $code"; tail -8 "$name.log"; return; fi
  if [[ $code -eq 1 ]]; then
    local n
    n=$(grep -c '^shear: error:' "$name.log")
    [[ $n -eq 1 ]] || { fail "$name: $n 'shear: error:' lines"; cat "$name.log"; return; }
  fi
  for p in "${pats[@]}"; do
    grep -qE -- "$p" "$name.log" || { fail "$name: no /$p/ in:"; cat "$name.log"; return; }
  done
  ok "$name: $( (grep -m1 '^shear: error:' "$name.log" || tail -1 "$name.log") | cut -c1-240)"
}

# ---- inputs: a tokenizer, a corpus, a store by prep on 2 ranks, a model by train, a pruned model ----
"$py" "$tool" tokenizer tokenizer.json && "$py" "$tool" corpus corpus || exit 1
cat > prep.yaml <<EOF
prep:
  input_dir: $work/corpus
  tokenizer: $work/tokenizer.json
  out: $work/store.h5
  seq_len: 32
  eval_seqs: 2
  seed: 5
EOF
# the sections train.yaml and prune.yaml share
run_sections=$(cat <<EOF
train:
  steps: 2
  seq_len: 32
  global_batch: 4
  micro_batch: 2
optim:
  warmup: 0
dbl:
  rule: constant
data:
  store: $work/store.h5
run:
  threads: 1
EOF
)
cat > train.yaml <<EOF
model:
  dim: 32
  n_layers: 2
  n_heads: 4
  n_kv_heads: 2
  intermediate: 64
  vocab: 291
$run_sections
EOF
cat > prune.yaml <<EOF
model:
  vocab: 291
prune:
  source: $work/train/model.h5
  target_dim: 24
  target_n_layers: 1
  target_n_heads: 2
  target_intermediate: 48
$run_sections
  out_dir: $work/prune
EOF
"${mpirun[@]}" -np 2 "$shear" prep prep.yaml >prep.log 2>&1 || { echo "prep failed"; cat prep.log; exit 1; }
"$shear" train train.yaml --set run.out_dir="$work/train" >train.log 2>&1 || { echo "train failed"; cat train.log; exit 1; }
"$shear" prune prune.yaml >prune.log 2>&1 || { echo "prune failed"; cat prune.log; exit 1; }
store="$work/store.h5"; model="$work/train/model.h5"; pruned="$work/prune/pruned.h5"

# ---- the files carry checksums, and they are the checkpoint hash of the stored bytes ----
"$py" "$tool" has_sums "$store" 5 >/dev/null && ok "store: 4 splits + deck carry a checksum" || fail "store checksums missing"
"$py" "$tool" has_sums "$model" 10 >/dev/null && ok "model: every tensor carries a checksum" || fail "model checksums missing"
for f in "$store" "$model" "$pruned"; do
  out=$("$py" "$h5check" sums "$f" 2>&1) && ok "$(basename "$f"): $out" || fail "$f: $out"
done
expect info_store 0 "domains/alpha/train +int32 .*checksum ok" "5 with a verified checksum, 0 failed" -- "$shear" info "$store"
expect info_model 0 "weights/lm_head.weight +float32 .*checksum ok" ", 0 failed" -- "$shear" info "$model"
grep -q "no checksum" info_model.log info_store.log && fail "a dataset of a fresh file without checksum"

# ---- one flipped bit in a store (an id changes by one and stays in the vocabulary) ----
cp "$store" bad_store.h5
"$py" "$tool" flip bad_store.h5 domains/beta/train 100 >/dev/null || exit 1
ds="/domains/beta/train fails its checksum \(stored [0-9a-f]{16}, computed [0-9a-f]{16}\): the file is corrupt"
expect info_bad_store 1 "domains/beta/train .*CHECKSUM FAILED" "fail their checksum \(the first: 'domains/beta/train'\)" \
  -- "$shear" info bad_store.h5
expect train_bad_store 1 "token store '$work/bad_store.h5': dataset $ds" -- \
  "$shear" train train.yaml --set data.store="$work/bad_store.h5" --set run.out_dir="$work/t_bad_store"
expect eval_bad_store 1 "token store '$work/bad_store.h5': dataset $ds" -- \
  "$shear" eval train.yaml --model "$model" --set data.store="$work/bad_store.h5"
expect train_bad_store_np2 1 "dataset $ds" -- "${mpirun[@]}" -np 2 "$shear" train train.yaml \
  --set data.store="$work/bad_store.h5" --set run.out_dir="$work/t_bad_store2"
expect prep_skip_bad_store 1 "exists and is not a valid token store .*/domains/beta/train fails its checksum" -- \
  "$shear" prep prep.yaml --set prep.out="$work/bad_store.h5"
expect train_bad_store_noverify 0 "step +2/2" -- env SHEAR_NO_VERIFY=1 "$shear" train train.yaml \
  --set data.store="$work/bad_store.h5" --set run.out_dir="$work/t_nv_store"
grep -q checksum train_bad_store_noverify.log && fail "SHEAR_NO_VERIFY=1 still speaks of checksums"
expect eval_bad_store_noverify 0 "average" -- env SHEAR_NO_VERIFY=1 "$shear" eval train.yaml --model "$model" \
  --set data.store="$work/bad_store.h5"

# ---- one flipped bit in a model file's tensor (one ulp of one weight) ----
cp "$model" bad_model.h5
"$py" "$tool" flip bad_model.h5 weights/model.layers.1.mlp.up_proj.weight 7 >/dev/null || exit 1
dm="model file '$work/bad_model.h5': dataset /weights/model.layers.1.mlp.up_proj.weight fails its checksum \(stored [0-9a-f]{16}, computed [0-9a-f]{16}\): the file is corrupt"
expect info_bad_model 1 "weights/model.layers.1.mlp.up_proj.weight .*CHECKSUM FAILED" "fail their checksum" -- \
  "$shear" info bad_model.h5
expect train_init_bad_model 1 "$dm" -- "$shear" train train.yaml --init "$work/bad_model.h5" \
  --set run.out_dir="$work/t_bad_model"
expect eval_bad_model 1 "$dm" -- "$shear" eval train.yaml --model "$work/bad_model.h5"
expect export_bad_model 1 "$dm" -- "$shear" export --model "$work/bad_model.h5" --out "$work/export_bad"
if find "$work/export_bad" -name '*.tmp' 2>/dev/null | grep -q .; then fail "export left a .tmp"; fi
expect eval_bad_model_noverify 0 "average" -- env SHEAR_NO_VERIFY=1 "$shear" eval train.yaml --model "$work/bad_model.h5"
cp "$pruned" bad_pruned.h5
"$py" "$tool" flip bad_pruned.h5 weights/model.embed_tokens.weight 3 >/dev/null || exit 1
expect finalize_bad 1 "model file '$work/bad_pruned.h5': dataset /weights/model.embed_tokens.weight fails its checksum" -- \
  "$shear" finalize --in "$work/bad_pruned.h5" --out "$work/sheared_bad.h5"
[[ -e sheared_bad.h5 || -e sheared_bad.h5.tmp ]] && fail "finalize of a corrupt file left output"

# ---- the unflipped files pass ----
expect train_init_good 0 "step +2/2" -- "$shear" train train.yaml --init "$model" --set run.out_dir="$work/t_good"
expect eval_good 0 "average" -- "$shear" eval train.yaml --model "$model"
expect export_good 0 "" -- "$shear" export --model "$model" --out "$work/export_good"
expect finalize_good 0 "" -- "$shear" finalize --in "$pruned" --out "$work/sheared.h5"
expect info_sheared 0 ", 0 failed" -- "$shear" info "$work/sheared.h5"
expect prep_skip_good 0 "already holds this deck's token store" -- "$shear" prep prep.yaml
for f in train_init_good eval_good export_good finalize_good; do
  grep -q "not verified" "$f.log" && fail "$f: a file with checksums reported as not verified"
done

# ---- files from before checksums: accepted, one warning per file ----
"$py" "$tool" strip "$store" old_store.h5 && "$py" "$tool" strip "$model" old_model.h5 || exit 1
expect train_old 0 "step +2/2" -- "$shear" train train.yaml --init "$work/old_model.h5" \
  --set data.store="$work/old_store.h5" --set run.out_dir="$work/t_old"
n_store=$(grep -c "warning: token store '$work/old_store.h5'.*not verified" train_old.log)
n_model=$(grep -c "warning: model file '$work/old_model.h5'.*not verified" train_old.log)
[[ $n_store -eq 1 && $n_model -eq 1 ]] && ok "old files: one 'not verified' warning each" ||
  fail "old files: $n_store store and $n_model model warnings (expected 1 and 1)"
expect eval_old 0 "average" "not verified" -- "$shear" eval train.yaml --model "$work/old_model.h5" \
  --set data.store="$work/old_store.h5"
expect info_old 0 "no checksum \(not verified\)" "without a checksum" -- "$shear" info old_model.h5

echo "$pass passed, $fails failed"
[[ $fails -eq 0 ]]
