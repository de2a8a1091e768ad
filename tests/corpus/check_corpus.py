#!/usr/bin/python3
"""Contract checks of a corpus built by inputs/corpus/build_corpus.sh (never exact bytes: the Debian archive
is not pinned).

usage: check_corpus.py [--build BUILD_SH --cache DEB_CACHE] [--profile small|full] OUT_DIR

With --build, first builds OUT_DIR (the script is idempotent: a finished corpus is not rebuilt) with the .debs
cached in DEB_CACHE; when no corpus exists yet and `apt-get download` cannot reach the archive, exits 77
(ctest SKIP). Then checks: the 7 domains exist, each holds MIN..MAX bytes of text in JSONL with one
{"text": non-empty string} per line, every file is valid UTF-8, and MANIFEST.json lists exactly the output
files with matching sha256, size and document count, plus the packages' versions, checksums and licences.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

DOMAINS = ("cc", "c4", "github", "book", "wiki", "arxiv", "stackexchange")
SKIP = 77
PROBE_PACKAGE = "dict-elements"  # 24 KB, in Debian main


def fail(msg):
    print("check_corpus: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def probe_archive():
    """None when apt-get can download from the archive, else the reason it cannot."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            r = subprocess.run(["apt-get", "download", "-q", PROBE_PACKAGE], cwd=tmp, capture_output=True,
                               text=True, timeout=180)
        except FileNotFoundError:
            return "apt-get is not installed"
        except subprocess.TimeoutExpired:
            return "apt-get download %s timed out after 180 s" % PROBE_PACKAGE
        if r.returncode != 0:
            lines = [l for l in r.stderr.splitlines() if l.startswith(("E:", "Err"))] or r.stderr.splitlines()[-2:]
            return "apt-get download %s failed: %s" % (PROBE_PACKAGE, " | ".join(lines))
    return None


def build(build_sh, profile, out_dir, cache):
    if not os.path.exists(os.path.join(out_dir, "MANIFEST.json")):
        reason = probe_archive()
        if reason:
            print("SKIP: the corpus test needs the Debian archive through apt-get: " + reason)
            sys.exit(SKIP)
    env = dict(os.environ, SHEAR_DEB_CACHE=cache)
    r = subprocess.run(["sh", build_sh, profile, out_dir], env=env)
    if r.returncode != 0:
        fail("%s %s %s exited with %d" % (build_sh, profile, out_dir, r.returncode))


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_jsonl(path):
    """Returns (documents, UTF-8 bytes of text) of one JSONL file, failing on any contract breach."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail("%s is not valid UTF-8 (%s)" % (path, e))
    if raw and not content.endswith("\n"):
        fail("%s: last line has no newline" % path)
    docs, text_bytes = 0, 0
    for lineno, line in enumerate(content.split("\n")[:-1], 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            fail("%s:%d: not a JSON object (%s)" % (path, lineno, e))
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            fail('%s:%d: expected an object with a "text" string' % (path, lineno))
        text = obj["text"]
        if not text.strip():
            fail("%s:%d: empty document" % (path, lineno))
        try:
            text_bytes += len(text.encode("utf-8"))  # lone surrogates from \\ud800 escapes fail here
        except UnicodeEncodeError as e:
            fail("%s:%d: text is not valid UTF-8 (%s)" % (path, lineno, e))
        docs += 1
    return docs, text_bytes


def check(out_dir, profile, min_bytes, max_bytes):
    mpath = os.path.join(out_dir, "MANIFEST.json")
    if not os.path.isfile(mpath):
        fail("%s is missing" % mpath)
    with open(mpath) as f:
        manifest = json.load(f)
    if profile and manifest.get("profile") != profile:
        fail("manifest profile is %r, expected %r" % (manifest.get("profile"), profile))
    listed = {e["path"]: e for e in manifest.get("files", [])}
    found = set()
    for domain in DOMAINS:
        ddir = os.path.join(out_dir, domain)
        if not os.path.isdir(ddir):
            fail("domain directory %s is missing" % ddir)
        names = sorted(n for n in os.listdir(ddir) if n.endswith(".jsonl"))
        if not names:
            fail("domain %s has no .jsonl file" % domain)
        total, ndocs = 0, 0
        for n in names:
            rel = "%s/%s" % (domain, n)
            path = os.path.join(out_dir, rel)
            found.add(rel)
            docs, text_bytes = check_jsonl(path)
            entry = listed.get(rel)
            if entry is None:
                fail("%s is not listed in MANIFEST.json" % rel)
            if entry.get("sha256") != sha256_of(path):
                fail("%s: sha256 differs from MANIFEST.json" % rel)
            if entry.get("bytes") != os.path.getsize(path):
                fail("%s: size %d differs from MANIFEST.json (%s)" % (rel, os.path.getsize(path), entry.get("bytes")))
            if entry.get("documents") != docs:
                fail("%s: %d documents, MANIFEST.json says %s" % (rel, docs, entry.get("documents")))
            total += text_bytes
            ndocs += docs
        if not min_bytes <= total <= max_bytes:
            fail("domain %s holds %d bytes of text, expected %d..%d" % (domain, total, min_bytes, max_bytes))
        print("check_corpus: %-13s %9d bytes of text %7d docs in %d files" % (domain, total, ndocs, len(names)))
    missing = sorted(set(listed) - found)
    if missing:
        fail("MANIFEST.json lists files that do not exist: %s" % ", ".join(missing))
    packages = manifest.get("packages", {})
    for domain in DOMAINS:
        used = manifest["domains"][domain]["packages"]
        if not used:
            fail("MANIFEST.json lists no package for domain %s" % domain)
        for entry in used:
            pkg = entry.get("package")
            p = packages.get(pkg)
            if p is None:
                fail("package %s of domain %s has no entry in MANIFEST.json packages" % (pkg, domain))
            if not entry.get("version") or len(entry.get("sha256") or "") != 64:
                fail("package %s: version or sha256 missing in MANIFEST.json" % pkg)
            copy = (p.get("license") or {}).get("copy")
            if copy and not os.path.isfile(os.path.join(out_dir, copy)):
                fail("package %s: licence copy %s is missing" % (pkg, copy))
    print("check_corpus: OK: %d files, %d packages, profile %s" % (len(found), len(packages), manifest["profile"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--build", help="build_corpus.sh to run first")
    ap.add_argument("--cache", help="deb cache for --build")
    ap.add_argument("--profile", default=None, choices=("small", "full"))
    ap.add_argument("--min-bytes", type=int, default=1_000_000)
    ap.add_argument("--max-bytes", type=int, default=4_000_000)
    a = ap.parse_args()
    if a.build:
        if not a.cache or not a.profile:
            ap.error("--build needs --cache and --profile")
        build(a.build, a.profile, os.path.abspath(a.out_dir), os.path.abspath(a.cache))
    check(os.path.abspath(a.out_dir), a.profile, a.min_bytes, a.max_bytes)


if __name__ == "__main__":
    main()
