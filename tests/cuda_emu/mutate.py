#!/usr/bin/env python3
"""Test-only mutants of the real CUDA kernels: each one the kind of bug the emulation exists to catch, made by
one textual change to a copy of a kernels/cuda source (the sources themselves are never touched). The change
must match exactly once, so a mutant cannot silently become the unchanged kernel when the source moves on.
Usage: mutate.py NAME SOURCE_DIR OUT_FILE   (writes the mutated copy of the mutant's file to OUT_FILE)
       mutate.py --list                     (NAME FILE per line)"""
import sys

# name: (file, original text, mutated text, the bug)
MUTANTS = {
    "no_sync": ("cuda_attention.cu",
                "        load_tile<HD, BK>(Vs, v, b, k0, Tk, Hkv, kvh, hd);\n        __syncthreads();\n",
                "        load_tile<HD, BK>(Vs, v, b, k0, Tk, Hkv, kvh, hd);\n",
                "attention forward reads the K/V tile without the barrier after loading it"),
    "smem_race": ("cuda_attention.cu",
                  "        __syncthreads(); // the previous tile's readers are done (and Qs is complete on the first pass)\n",
                  "",
                  "attention forward loads the next K/V tile while other threads still read the current one"),
    "off_by_one": ("cuda_attention.cu",
                   "        if (t < T) add_row<HD>(dq,",
                   "        if (t <= T) add_row<HD>(dq,",
                   "attention backward writes dq for one row past the sequence (t <= T)"),
    "no_optin": ("cuda_attention.cu",
                 "    CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));\n",
                 "    (void)kern;\n",
                 "attention launches with more than 48 KB of dynamic shared memory without opting in"),
}

if sys.argv[1:] == ["--list"]:
    for name, (f, *_rest) in MUTANTS.items():
        print(name, f)
    sys.exit(0)
name, src_dir, out = sys.argv[1:4]
if name not in MUTANTS:
    sys.exit(f"mutate.py: unknown mutant {name!r} (expected one of {', '.join(MUTANTS)})")
f, old, new, _ = MUTANTS[name]
text = open(f"{src_dir}/{f}").read()
n = text.count(old)
if n != 1:
    sys.exit(f"mutate.py: mutant {name}: the text to change occurs {n} times in {f} (expected once): update "
             f"tests/cuda_emu/mutate.py to the kernel's current source")
with open(out + ".tmp", "w") as o:
    o.write(f"// MUTANT {name} of kernels/cuda/{f} (tests/cuda_emu/mutate.py): {MUTANTS[name][3]}\n")
    o.write(f"#line 1 \"{src_dir}/{f}\"\n")
    o.write(text.replace(old, new))
import os
os.replace(out + ".tmp", out)
