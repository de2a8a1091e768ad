#!/usr/bin/env python3
"""gpu_bench.sh's parser and table writer (standard library only).

  gpu_bench_report.py shear METRICS.jsonl --case C --impl I --dtype D [--shape S] [--tokens-step N]
      one row (JSON line) from Shear's metrics.jsonl step records: medians of tok_s, tok_s_rank, tflops and
      mfu (when present) over the steps after the first (the first holds the warm-up: cuBLAS handles, first
      allocations), and the fastest step's tok_s.
  gpu_bench_report.py torch JSON_LINE_FILE --case C [--shape S]
      one row from torch_llama_bench.py's output (its last line starting with '{').
  gpu_bench_report.py fail --case C --impl I --dtype D --error TEXT [--shape S]
      a row saying that run did not produce numbers.
  gpu_bench_report.py table ROWS.jsonl OUT.md OUT.json [--title TEXT]
      the Markdown table and the JSON document of all rows.
"""
import argparse
import json
import statistics
import sys


def med(xs):
    return statistics.median(xs) if xs else None


def shear_row(a):
    steps = []
    with open(a.file) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"gpu_bench_report: {a.file}: bad JSON line ({e}): {line[:120]}")
            if r.get("event") == "step":
                steps.append(r)
    if not steps:
        sys.exit(f"gpu_bench_report: {a.file}: no step records (\"event\":\"step\")")
    timed = steps[1:] if len(steps) > 1 else steps
    row = {"case": a.case, "shape": a.shape, "impl": a.impl, "dtype": a.dtype, "steps_timed": len(timed)}
    for k in ("tok_s", "tok_s_rank", "tflops", "mfu", "step_s"):
        v = [float(s[k]) for s in timed if k in s]
        row[k] = med(v)
    row["tok_s_best"] = max(float(s["tok_s"]) for s in timed)
    row["peak_mem_gib"] = None  # Shear's metrics carry no memory figure
    return row


def torch_row(a):
    last = None
    with open(a.file) as f:
        for line in f:
            if line.startswith("{"):
                last = line
    if last is None:
        sys.exit(f"gpu_bench_report: {a.file}: no JSON line from torch_llama_bench.py")
    r = json.loads(last)
    row = {"case": a.case, "shape": a.shape, "impl": "torch " + r["torch"] + " (" + r["attention"] + ")",
           "dtype": r["dtype"], "precision": r["precision"]}
    if "error" in r:
        row.update({"error": r["error"], "peak_mem_gib": r.get("peak_mem_gib")})
        return row
    row.update({"steps_timed": r["steps"], "tok_s": r["tok_s_median"], "tok_s_best": r["tok_s"],
                "tflops": r["tflops_median"], "mfu": None, "step_s": r["step_s_median"],
                "peak_mem_gib": r["peak_mem_gib"], "peak_mem_kind": r["peak_mem_kind"]})
    return row


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(a):
    rows = [json.loads(l) for l in open(a.file) if l.strip()]
    with open(a.json_out, "w") as f:
        json.dump({"title": a.title, "rows": rows}, f, indent=1)
        f.write("\n")
    out = [f"# {a.title}", "",
           "tok/s and TFLOP/s: medians over the timed steps (Shear: steps 2..N of metrics.jsonl; torch: after its "
           "warm-up steps); best = the fastest step. TFLOP/s = tok/s x (6 P + 12 L H hd T) (include/shear/flops.h, "
           "full T x T attention, the same formula for both). MFU: Shear's own, against the device's peak for the "
           "precision its CUDA backend computes in (fp32: fp32 cuBLAS, TF32 off; bf16: bf16 tensor cores). Pruning: Shear trains the masked "
           "source model; torch trains the same source shape dense (no masks). peak GiB: torch only "
           "(cuda max_memory_allocated / cpu max RSS); Shear's metrics carry no memory figure.", "",
           "| case | shape | implementation | dtype | tok/s | best tok/s | TFLOP/s | MFU | s/step | peak GiB |",
           "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['case']} | {r.get('shape') or ''} | {r['impl']} | {r['dtype']} | "
                       f"{r['error']} | | | | | {fmt(r.get('peak_mem_gib'), '.1f')} |")
            continue
        mfu = None if r.get("mfu") is None else 100.0 * r["mfu"]
        out.append(f"| {r['case']} | {r.get('shape') or ''} | {r['impl']} | {r['dtype']} | {fmt(r['tok_s'], ',.0f')} | "
                   f"{fmt(r.get('tok_s_best'), ',.0f')} | {fmt(r.get('tflops'), '.3g')} | "
                   f"{'-' if mfu is None else format(mfu, '.1f') + '%'} | {fmt(r.get('step_s'), '.3g')} | "
                   f"{fmt(r.get('peak_mem_gib'), '.1f')} |")
    with open(a.md_out, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))


ap = argparse.ArgumentParser()
sub = ap.add_subparsers(dest="cmd", required=True)
for name in ("shear", "torch", "fail"):
    p = sub.add_parser(name)
    if name != "fail":
        p.add_argument("file")
    p.add_argument("--case", required=True)
    p.add_argument("--shape", default="")
    if name != "torch":
        p.add_argument("--impl", required=True)
        p.add_argument("--dtype", required=True)
    if name == "fail":
        p.add_argument("--error", required=True)
p = sub.add_parser("table")
p.add_argument("file")
p.add_argument("md_out")
p.add_argument("json_out")
p.add_argument("--title", default="Training throughput")
a = ap.parse_args()
if a.cmd == "shear":
    print(json.dumps(shear_row(a)))
elif a.cmd == "torch":
    print(json.dumps(torch_row(a)))
elif a.cmd == "fail":
    print(json.dumps({"case": a.case, "shape": a.shape, "impl": a.impl, "dtype": a.dtype, "error": a.error}))
else:
    table(a)
