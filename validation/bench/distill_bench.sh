#!/usr/bin/env bash
# The step-time cost of knowledge distillation on the CPU, side by side in one run: continued pre-training of the
# main job's sheared tiny model (d 96, 3 layers, V 32000) on 1 rank, 2 threads, 4 x 256 tokens per micro-batch,
# plain vs with the tiny source as the teacher (d 128, 4 layers), full vocabulary and top-64. ROUNDS alternating
# rounds of STEPS steps each (constant mix: no DBL evaluation in the timing); the median step time of each kind
# over all rounds (the first step of each run left out). Writes validation/results/distill_bench.{json,md}.
# usage: bash validation/bench/distill_bench.sh [ROUNDS] [STEPS]   (needs bash tools/main_job.sh first)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3} STEPS=${2:-12}
SHEAR=${SHEAR:-build/shear}
OUT=${OUT:-runs/bench/distill}
for f in runs/tiny/sheared.h5 runs/tiny/source/model.h5 data/tiny/tokens.h5; do
  [[ -e $f ]] || { echo "missing $f: run bash tools/main_job.sh first" >&2; exit 1; }
done
rm -rf "$OUT"; mkdir -p "$OUT"
for r in $(seq 1 "$ROUNDS"); do
  for kind in plain full top64; do
    kd=()
    [[ $kind == full ]] && kd=(--set distill.teacher=runs/tiny/source/model.h5)
    [[ $kind == top64 ]] && kd=(--set distill.teacher=runs/tiny/source/model.h5 --set distill.topk=64)
    "$SHEAR" train inputs/tiny/continue.yaml --set train.init=runs/tiny/sheared.h5 --set run.out_dir="$OUT/${kind}_$r" \
      --set train.steps="$STEPS" --set optim.warmup=1 --set dbl.rule=constant --set run.threads=2 \
      --set run.ckpt_every=0 --set run.log_every=1000 "${kd[@]}" > "$OUT/${kind}_$r.log" 2>&1
  done
done
/usr/bin/python3 - "$OUT" "$ROUNDS" <<'PY'
import glob, json, os, platform, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
res = {}
for kind in ("plain", "full", "top64"):
    st = []
    for path in glob.glob(os.path.join(out, f"{kind}_*", "metrics.jsonl")):
        st += [r["step_s"] for r in map(json.loads, open(path)) if r["event"] == "step" and r["step"] > 1]
    res[kind] = {"median_step_s": statistics.median(st), "steps_timed": len(st)}
for kind in res:
    res[kind]["vs_plain"] = res[kind]["median_step_s"] / res["plain"]["median_step_s"]
res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {rounds} alternating rounds"
json.dump(res, open("validation/results/distill_bench.json", "w"), indent=1)
label = {"plain": "plain continued pre-training", "full": "with the source as teacher, full vocabulary",
         "top64": "with the source as teacher, top-64"}
md = ("| step (1 rank, 2 threads, 4 x 256 tokens) | median step s | vs plain |\n|---|---:|---:|\n" +
      "\n".join(f"| {label[k]} | {res[k]['median_step_s']:.3f} | {res[k]['vs_plain']:.2f}x |" for k in label) + "\n")
open("validation/results/distill_bench.md", "w").write(md)
print(md)
PY
