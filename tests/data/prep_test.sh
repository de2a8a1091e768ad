#!/usr/bin/env bash
# `shear prep` end to end on a synthetic corpus written here (prep_check.py gen).
# usage: prep_test.sh MODE SHEAR TOKENIZER_JSON WORKDIR MPIRUN [MPIRUN ARGS...]
#   ranks   1, 2 and 3 ranks (and 3 ranks on ROMIO) write identical stores; the store checks out against the
#           corpus tokenized independently (counts add up, documents whole and in order, no eval window in train);
#           prep.max_train_seqs caps train and counts the rest as dropped
#   errors  missing tokenizer, missing input folder, an empty domain, seq_len longer than the data, non-UTF-8 text
#           and JSONL, bad JSON, a missing deck key: a clear message, a non-zero exit, no output and no .tmp left
#   skip    an existing store of the same deck is kept (exit 0); another deck or a non-store refuses; --force
#           rewrites
# Exit 77 (SKIP) when TOKENIZER_JSON does not exist (the tokenizer recipe needs node, npm and the registry).
set -uo pipefail
mode="$1"; shear="$2"; tokenizer="$3"; work="$4"; shift 4
mpirun=("$@")
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
check="$here/prep_check.py"

if [ ! -f "$tokenizer" ]; then
  echo "SKIP: $tokenizer does not exist (inputs/tokenizer/make_tokenizer.sh writes it; needs node and npm)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
"$py" "$check" gen corpus || exit 1
cat > prep.yaml <<EOF
# test deck: written by tests/data/prep_test.sh
prep:
  input_dir: $work/corpus
  tokenizer: $tokenizer
  out: store.h5
  seq_len: 32
  eval_seqs: 3
  seed: 99
EOF

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run NP DIR ARGS...: shear prep in DIR on NP ranks; output in DIR/log
run() {
  local np="$1" dir="$2"; shift 2
  mkdir -p "$dir"
  (cd "$dir" && "${mpirun[@]}" -np "$np" "$shear" prep "$@" >log 2>&1)
}

case "$mode" in
ranks)
  for np in 1 2 3; do
    run "$np" "np$np" "$work/prep.yaml" || { fail "$np ranks: exit $?"; cat "np$np/log"; }
    grep '^prep:' "np$np/log"
  done
  mkdir -p romio && (cd romio && "${mpirun[@]}" --mca io romio321 -np 3 "$shear" prep "$work/prep.yaml" >log 2>&1) \
    || { fail "3 ranks on ROMIO"; cat romio/log; }
  "$py" "$check" verify np1/store.h5 corpus "$shear" "$tokenizer" || fail "store does not check out against the corpus"
  h5dump -a /domains np1/store.h5 | grep -q '"books,code,mixed"' || fail "domains are not the corpus folders in name order"
  "$py" "$check" same np1/store.h5 np2/store.h5 np3/store.h5 romio/store.h5 || fail "rank counts disagree"
  run 2 capped "$work/prep.yaml" --set prep.max_train_seqs=20 || { fail "max_train_seqs run"; cat capped/log; }
  "$py" "$check" verify capped/store.h5 corpus "$shear" "$tokenizer" || fail "capped store does not check out"
  "$py" - capped/store.h5 <<'EOF' || fail "max_train_seqs not applied"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
n = [f["domains"][d]["train"].shape[0] for d in f["domains"]]
assert max(n) == 20 and all(k <= 20 for k in n), n
print("ok   max_train_seqs=20 caps train at", n)
EOF
  ;;

errors)
  cp -r corpus good
  # expect NAME NP SNIPPET DECK-ARGS...: fails, says SNIPPET, leaves no store and no .tmp
  expect() {
    local name="$1" np="$2" snippet="$3"; shift 3
    local dir="err_$name"
    if run "$np" "$dir" "$@"; then fail "$name: exit 0"; cat "$dir/log"; return; fi
    if ! grep -qF -- "$snippet" "$dir/log"; then fail "$name: no '$snippet' in:"; cat "$dir/log"; return; fi
    if ls "$dir" | grep -q 'store\.h5'; then fail "$name: left $(ls "$dir" | grep store)"; return; fi
    echo "ok   $name ($np ranks): $(grep -m1 'error:' "$dir/log")"
  }
  expect missing_tokenizer 2 "prep.tokenizer: cannot open tokenizer file '/nonexistent/tokenizer.json'" \
    "$work/prep.yaml" --set prep.tokenizer=/nonexistent/tokenizer.json
  expect missing_input_dir 2 "prep.input_dir '/nonexistent/corpus'" \
    "$work/prep.yaml" --set prep.input_dir=/nonexistent/corpus
  expect missing_deck 1 "input deck '$work/nope.yaml' does not exist" "$work/nope.yaml"
  printf 'prep:\n  input_dir: %s\n  tokenizer: %s\n' "$work/corpus" "$tokenizer" > no_out.yaml
  expect no_out_key 2 "prep.out is required" "$work/no_out.yaml"
  expect unknown_domain 2 "domain 'nope': domain folder '$work/corpus/nope'" \
    "$work/prep.yaml" "--set=data.domains=[books, nope]"
  expect seq_len_too_long 3 "domain 'books': 14 documents" "$work/prep.yaml" --set prep.seq_len=4096
  grep -q "expected prep.eval_seqs = 3 eval sequences of prep.seq_len = 4096 tokens" err_seq_len_too_long/log \
    || fail "seq_len_too_long: the message does not say what was expected"

  cp -r good c_empty && mkdir c_empty/empty c_empty/licenses && echo "GPL" > c_empty/licenses/x.copyright
  expect empty_folder 3 "domain 'empty': folder '$work/c_empty/empty' has no *.txt or *.jsonl files" \
    "$work/prep.yaml" --set "prep.input_dir=$work/c_empty" "--set=data.domains=[books, empty]"
  # a discovered folder without text files (the corpus recipe's licenses/) is skipped, not an error
  run 2 skipped "$work/prep.yaml" --set "prep.input_dir=$work/c_empty" --set "data.domains=[]" \
    || { fail "discovered folders without text files were not skipped"; cat skipped/log; }
  grep -q "skipping folder '$work/c_empty/licenses'" skipped/log && grep -q "prep: 3 domains" skipped/log \
    || { fail "skipped folders not reported"; cat skipped/log; }
  : > c_empty/empty/a.txt && printf '{"text": ""}\n\n' > c_empty/empty/b.jsonl
  expect empty_texts 3 "domain 'empty': no text in its 2 file(s)" "$work/prep.yaml" --set "prep.input_dir=$work/c_empty"

  cp -r good c_txt && printf 'good line\nbad \xc3\x28 byte\n' > c_txt/mixed/m5.txt
  expect bad_utf8_txt 3 "c_txt/mixed/m5.txt' line 2, column 5: invalid UTF-8 (byte 0xC3)" \
    "$work/prep.yaml" --set "prep.input_dir=$work/c_txt"
  cp -r good c_jsonl
  "$py" - c_jsonl/code/part-b.jsonl <<'EOF'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
lines[29] = b'{"text": "latin-1 caf\xe9"}'   # line 30, late in the domain: read by the last rank
open(sys.argv[1], "wb").write(b"\n".join(lines))
EOF
  expect bad_utf8_jsonl 3 "c_jsonl/code/part-b.jsonl' line 30, column 22: invalid UTF-8 (byte 0xE9)" \
    "$work/prep.yaml" --set "prep.input_dir=$work/c_jsonl"
  cp -r good c_json && printf '{"text": "fine"}\n{"text": unquoted}\n' > c_json/code/part-c.jsonl
  expect bad_json 2 "c_json/code/part-c.jsonl' line 2: not valid JSON" "$work/prep.yaml" --set "prep.input_dir=$work/c_json"
  cp -r good c_key && printf '{"body": "no text key"}\n' > c_key/code/part-c.jsonl
  expect no_text_key 2 "c_key/code/part-c.jsonl' line 1: no \"text\" string field" \
    "$work/prep.yaml" --set "prep.input_dir=$work/c_key"
  ;;

skip)
  run 1 s "$work/prep.yaml" || { fail "first prep"; cat s/log; }
  inode="$(stat -c %i s/store.h5)"
  run 2 s "$work/prep.yaml" || fail "rerun of the same deck: exit $?"
  grep -q "already holds this deck's token store; nothing to do" s/log || { fail "rerun did not skip"; cat s/log; }
  [ "$(stat -c %i s/store.h5)" = "$inode" ] || fail "rerun rewrote the store"
  echo "ok   rerun of the same deck skips: $(cat s/log)"
  if run 1 s "$work/prep.yaml" --set prep.seed=7; then fail "another deck overwrote the store"; fi
  grep -q "exists but was written from another deck; pass --force" s/log || { fail "no message for another deck"; cat s/log; }
  [ "$(stat -c %i s/store.h5)" = "$inode" ] || fail "another deck replaced the store"
  echo "ok   another deck refuses: $(grep error: s/log)"
  run 2 s "$work/prep.yaml" --set prep.seed=7 --force || { fail "--force"; cat s/log; }
  [ "$(stat -c %i s/store.h5)" != "$inode" ] || fail "--force did not rewrite the store"
  "$py" "$check" verify s/store.h5 corpus "$shear" "$tokenizer" || fail "--force store does not check out"
  mkdir -p t && echo "not a store" > t/store.h5
  if run 1 t "$work/prep.yaml"; then fail "a non-store at prep.out was overwritten"; fi
  grep -q "exists and is not a valid token store" t/log || { fail "no message for a non-store"; cat t/log; }
  echo "ok   a non-store at prep.out refuses: $(grep error: t/log)"
  ;;
*)
  echo "prep_test.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac

if [ "$fails" -ne 0 ]; then echo "prep_test.sh $mode: $fails failures" >&2; exit 1; fi
echo "prep_test.sh $mode: all passed"
