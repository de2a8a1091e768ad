#!/usr/bin/python3
"""Build the 7-domain RedPajama stand-in corpus from Debian packages (see README.md and corpus_recipe.py).

usage: build_corpus.py PROFILE OUT_DIR      PROFILE = small | full
       cache of downloaded .debs: $SHEAR_DEB_CACHE, else OUT_DIR/../.debcache

Writes OUT_DIR/<domain>/<package>.jsonl (one {"text": ...} per line), OUT_DIR/licenses/<package>.copyright and,
last, OUT_DIR/MANIFEST.json. Standard library only; needs apt-get and dpkg-deb.
"""
import datetime
import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_readers as rd  # noqa: E402
import corpus_recipe as rc  # noqa: E402
import corpus_text as tx  # noqa: E402

EXIT_USAGE, EXIT_FAIL = 2, 1


def log(msg):
    print("corpus: " + msg, flush=True)


class SkipSource(Exception):
    """A package that cannot be downloaded or read: reported, then the domain goes on without it."""


# ---------------------------------------------------------------- packages

class DebCache:
    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.info = {}

    def fetch(self, pkg):
        """Path of PKG's .deb in the cache, downloading it with apt-get on first use."""
        have = sorted(glob.glob(os.path.join(self.path, glob.escape(pkg) + "_*.deb")))
        if not have:
            tmp = tempfile.mkdtemp(prefix="partial-", dir=self.path)  # no truncated .deb ever enters the cache
            try:
                t0 = time.time()
                r = subprocess.run(["apt-get", "download", "-q", pkg], cwd=tmp, capture_output=True, text=True,
                                   timeout=1200)
                got = glob.glob(os.path.join(tmp, "*.deb"))
                if r.returncode != 0 or len(got) != 1:
                    err = [l for l in (r.stderr or "").splitlines() if l.startswith("E:")] or \
                        (r.stderr or "no output").strip().splitlines()[-1:]
                    raise SkipSource("apt-get download %s failed: %s" % (pkg, " | ".join(err)))
                dest = os.path.join(self.path, os.path.basename(got[0]))
                os.replace(got[0], dest)
                log("  downloaded %s (%.1f MB, %.1f s)" % (os.path.basename(dest), os.path.getsize(dest) / 1e6,
                                                          time.time() - t0))
                have = [dest]
            except subprocess.TimeoutExpired:
                raise SkipSource("apt-get download %s timed out" % pkg)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        deb = have[-1]
        if deb not in self.info:
            self.info[deb] = self._describe(pkg, deb)
        return deb

    def _describe(self, pkg, deb):
        r = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Version", "Architecture"], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise SkipSource("%s is not a readable .deb (%s); delete it from the cache" % (deb, r.stderr.strip()))
        fields = dict(l.split(": ", 1) for l in r.stdout.splitlines() if ": " in l)
        if fields.get("Package") != pkg:
            raise SkipSource("%s holds package %r, not %r" % (deb, fields.get("Package"), pkg))
        h = hashlib.sha256()
        with open(deb, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return {"package": pkg, "version": fields.get("Version"), "architecture": fields.get("Architecture"),
                "deb": os.path.basename(deb), "deb_bytes": os.path.getsize(deb), "sha256": h.hexdigest()}


def read_deb(deb, include, exclude, pkg):
    """Stream `dpkg-deb --fsys-tarfile` and keep regular files matching include (and not exclude), plus the
    package's copyright file and the symlinks under usr/share/doc (to follow a shared doc directory).
    Returns ({path: bytes}, {path: symlink target})."""
    inc = re.compile(include)
    exc = re.compile(exclude) if exclude else None
    copyright_path = "usr/share/doc/%s/copyright" % pkg
    files, links = {}, {}
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for m in tar:
                name = m.name[2:] if m.name.startswith("./") else m.name
                if m.issym() and name.startswith("usr/share/doc/"):
                    links[name] = m.linkname
                if not m.isfile():
                    continue
                if name == copyright_path or (inc.search(name) and not (exc and exc.search(name))):
                    files[name] = tar.extractfile(m).read()
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if proc.wait() != 0:
            raise SkipSource("dpkg-deb --fsys-tarfile %s failed: %s" % (deb, err.strip()))
    return files, links


def gunzip_if(path, data):
    if path.endswith(".gz"):
        import gzip
        return gzip.decompress(data)
    return data


def decode(data):
    return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- readers: (files, ctx) -> document texts

def r_html_page(files, ctx):
    for path in sorted(files):
        yield tx.html_to_text(decode(files[path]))


def r_c4_page(files, ctx):
    for path in sorted(files):
        yield ctx["c4"](tx.html_to_text(decode(files[path])))


def r_code(files, ctx):
    for path in sorted(files):
        try:
            text = files[path].decode("utf-8")
        except UnicodeDecodeError:
            continue  # RedPajama keeps text files only; a non-UTF-8 source file is data, not code
        text = text.replace("\r\n", "\n")
        if tx.code_ok(text, rc.MIN_DOC_BYTES["github"], rc.MAX_DOC_BYTES):
            yield text


def r_code_tarxz(files, ctx):
    inner = re.compile(ctx["opts"]["inner"])
    for path in sorted(files):
        with tarfile.open(fileobj=io.BytesIO(files[path]), mode="r:xz") as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile() and inner.search(m.name)),
                             key=lambda m: m.name)
            for m in members:
                yield from r_code({m.name: tar.extractfile(m).read()}, ctx)


def _book_windows(text):
    return tx.windows(tx.strip_gutenberg(text.lstrip("\ufeff")), rc.BOOK_WINDOW_CHARS)


def r_gutenberg(files, ctx):
    for path in sorted(files):
        yield from _book_windows(decode(gunzip_if(path, files[path])))


def r_r_books(files, ctx):
    rdx = [p for p in files if p.endswith(".rdx")]
    rdb = [p for p in files if p.endswith(".rdb")]
    if len(rdx) != 1 or len(rdb) != 1:
        raise SkipSource("expected one Rdata.rdx and one Rdata.rdb, found %s" % sorted(files))
    try:
        vectors = rd.r_lazyload_character_vectors(files[rdx[0]], files[rdb[0]])
    except (ValueError, KeyError, IndexError, AttributeError) as e:
        raise SkipSource("cannot read R data %s: %s" % (rdb[0], e))
    for name in sorted(vectors):
        lines = vectors[name]
        text = "\n".join(lines) if len(lines) > 1 else (lines[0] if lines else "")
        if len(text) >= rc.BOOK_WINDOW_CHARS // 5:  # whole books only, not the small example vectors
            yield from _book_windows(text)


def r_bible_cli(files, ctx):
    """bible-kjv-text ships the King James Bible in its own compressed format; the `bible` program from
    bible-kjv prints it. Run the extracted binary on the extracted data (no installation)."""
    need = {"usr/bin/bible", "usr/lib/bible.data", "usr/lib/bible.data.conc"}
    if not need <= set(files):
        raise SkipSource("bible-kjv files missing: %s" % sorted(need - set(files)))
    with tempfile.TemporaryDirectory() as tmp:
        for p in need:
            with open(os.path.join(tmp, os.path.basename(p)), "wb") as f:
                f.write(files[p])
        os.chmod(os.path.join(tmp, "bible"), 0o755)
        try:
            r = subprocess.run([os.path.join(tmp, "bible"), "-p", tmp, "-l", "100000", "Gen1:1-Rev22:21"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SkipSource("cannot run the extracted bible program: %s" % e)
        if r.returncode != 0 or len(r.stdout) < 1_000_000:
            raise SkipSource("bible program failed (rc %d): %s" % (r.returncode, decode(r.stderr).strip()))
    books, cur_name, cur = [], None, []
    for line in decode(r.stdout).split("\n"):
        m = re.match(r"^(\S.*?) (\d+)$", line)  # "Genesis 1": a chapter heading
        if m and m.group(1) != cur_name:
            if cur:
                books.append("\n".join(cur))
            cur_name, cur = m.group(1), []
        cur.append(line.strip())
    if cur:
        books.append("\n".join(cur))
    for b in books:
        yield from tx.windows(b, rc.BOOK_WINDOW_CHARS)


def r_sword(files, ctx):
    by_module = {}
    for path in sorted(files):
        by_module.setdefault(os.path.dirname(path), {})[os.path.basename(path)] = files[path]
    for mod in sorted(by_module):
        for book in rd.sword_ztext_books(by_module[mod]):
            yield from tx.windows(book, rc.BOOK_WINDOW_CHARS)


def r_dictd(files, ctx):
    for index in sorted(p for p in files if p.endswith(".index")):
        dz = index[:-len(".index")] + ".dict.dz"
        if dz not in files:
            raise SkipSource("%s has no %s" % (index, dz))
        for _head, entry in rd.dictd_entries(files[index], files[dz]):
            yield tx.dict_entry(entry)


def r_latex(files, ctx):
    for path in sorted(files):
        text = tx.clean_latex(decode(gunzip_if(path, files[path])))
        yield from tx.split_tex_sections(text, rc.MAX_DOC_BYTES)


def r_numbered_faq(files, ctx):
    for path in sorted(files):
        yield from tx.split_numbered_faq(decode(gunzip_if(path, files[path])), rc.MIN_DOC_BYTES["stackexchange"])


def r_rst_qa(files, ctx):
    for path in sorted(files):
        yield from tx.split_rst_qa(decode(files[path]), rc.MIN_DOC_BYTES["stackexchange"])


def r_html_faq(files, ctx):
    for path in sorted(files):
        yield from tx.split_html_faq(decode(files[path]), rc.MIN_DOC_BYTES["stackexchange"])


def r_pod_faq(files, ctx):
    for path in sorted(files):
        yield from tx.pod_questions(decode(files[path]))


READERS = {name[2:]: fn for name, fn in globals().items() if name.startswith("r_") and callable(fn)}


# ---------------------------------------------------------------- licenses

def find_license(pkg, files, links, cache):
    """Copyright file of pkg: in its own tree, or, when usr/share/doc/<pkg> is a symlink to another package's
    doc directory (zsh-doc -> zsh-common), in that package's .deb. Returns (manifest entry, copyright bytes)."""
    own = "usr/share/doc/%s/copyright" % pkg
    entry = {"copyright_package": pkg, "copyright_path": own}
    data = files.get(own)
    if data is None:
        target = links.get("usr/share/doc/%s" % pkg)
        if target and "/" not in target.strip("/"):
            other = target.strip("/")
            entry["copyright_package"] = other
            entry["copyright_path"] = "usr/share/doc/%s/copyright" % other
            try:
                deb = cache.fetch(other)
                ofiles, _ = read_deb(deb, r"^$", None, other)
                data = ofiles.get(entry["copyright_path"])
                entry["copyright_deb"] = {k: cache.info[deb][k] for k in ("version", "deb", "sha256")}
            except SkipSource as e:
                entry["error"] = str(e)
    entry["license"] = None
    if data is None:
        entry["copyright_path"] = None
        entry.setdefault("error", "no copyright file found")
        return entry, None
    text = decode(data)
    entry["machine_readable"] = text.startswith("Format:")  # DEP-5; else License: lines are free text
    for line in text.splitlines():
        m = re.match(r"^License:[ \t]*(\S.*)$", line)
        if m:
            entry["license"] = m.group(1).strip()
            break
    return entry, data


# ---------------------------------------------------------------- build

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_domain(domain, profile, out_dir, cache, packages, skipped):
    small = profile == "small"
    ddir = os.path.join(out_dir, domain)
    os.makedirs(ddir)
    ctx_base = {"c4": tx.C4Filter()}  # duplicate lines are removed across the whole domain
    total, files_out, used = 0, [], []
    min_doc = rc.MIN_DOC_BYTES[domain]
    for src in rc.RECIPE[domain]:
        if small and total >= rc.SMALL_DOMAIN_BYTES:
            break
        pkg = src["pkg"]
        t0 = time.time()
        try:
            pkgs = [pkg] + src.get("extra", [])
            merged, links = {}, {}
            for p in pkgs:
                deb = cache.fetch(p)
                f, l = read_deb(deb, src["include"], src.get("exclude"), p)
                merged.update(f)
                links.update(l)
                if p not in packages:
                    lic, data = find_license(p, f, l, cache)
                    packages[p] = dict(cache.info[deb], license=lic)
                    if data is not None:
                        lic["copy"] = "licenses/%s.copyright" % p
                        with open(os.path.join(out_dir, lic["copy"]), "wb") as fh:
                            fh.write(data)
            content = {k: v for k, v in merged.items() if re.search(src["include"], k)
                       and not (src.get("exclude") and re.search(src["exclude"], k))}
            if not content:
                raise SkipSource("no file of %s matches %s" % (pkg, src["include"]))
            src_limit = src.get("cap", float("inf"))
            if small:
                src_limit = min(src_limit, rc.SMALL_SOURCE_BYTES, rc.SMALL_DOMAIN_BYTES - total)
            ctx = dict(ctx_base, opts=src.get("opts", {}))
            out_path = os.path.join(ddir, pkg + ".jsonl")
            n_docs, n_bytes = 0, 0
            with open(out_path, "w", encoding="utf-8", newline="\n") as out:
                for text in READERS[src["reader"]](content, ctx):
                    if n_bytes >= src_limit:
                        break
                    text = text.strip("\n")
                    size = len(text.encode("utf-8"))
                    if size < min_doc or not text.strip():
                        continue
                    out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
                    n_docs += 1
                    n_bytes += size
        except SkipSource as e:
            log("  [%s] SKIPPED %s: %s" % (domain, pkg, e))
            skipped.append({"domain": domain, "package": pkg, "reason": str(e)})
            stale = os.path.join(ddir, pkg + ".jsonl")
            if os.path.exists(stale):
                os.remove(stale)
            continue
        if n_docs == 0:
            os.remove(out_path)
            log("  [%s] %s: no documents" % (domain, pkg))
            skipped.append({"domain": domain, "package": pkg, "reason": "no documents"})
            continue
        total += n_bytes
        used.append({"package": pkg, "extra_packages": src.get("extra", []), "documents": n_docs,
                     "text_bytes": n_bytes, "file": "%s/%s.jsonl" % (domain, pkg)})
        files_out.append({"path": "%s/%s.jsonl" % (domain, pkg), "domain": domain, "package": pkg,
                          "documents": n_docs, "text_bytes": n_bytes})
        log("  [%s] %s %s: %d docs, %.2f MB of text (%.1f s; domain %.2f MB)" % (
            domain, pkg, packages[pkg]["version"], n_docs, n_bytes / 1e6, time.time() - t0, total / 1e6))
    if total < rc.MIN_DOMAIN_BYTES:
        why = "; ".join("%s: %s" % (s["package"], s["reason"]) for s in skipped if s["domain"] == domain)
        raise RuntimeError("domain '%s' has only %d bytes of text, below the minimum %d (skipped packages: %s)" %
                           (domain, total, rc.MIN_DOMAIN_BYTES, why or "none"))
    return {"text_bytes": total, "documents": sum(u["documents"] for u in used), "sources": used}, files_out


def main(argv):
    if len(argv) != 3 or argv[1] not in ("small", "full"):
        print("usage: build_corpus.py small|full OUT_DIR   (cache: $SHEAR_DEB_CACHE or OUT_DIR/../.debcache)",
              file=sys.stderr)
        return EXIT_USAGE
    profile, out_dir = argv[1], os.path.abspath(argv[2])
    manifest_path = os.path.join(out_dir, "MANIFEST.json")
    if os.path.exists(manifest_path):
        try:
            with open(manifest_path) as f:
                built = json.load(f).get("profile")
        except (OSError, ValueError) as e:
            print("corpus: %s is unreadable (%s); delete it to rebuild" % (manifest_path, e), file=sys.stderr)
            return EXIT_FAIL
        if built == profile:
            print("corpus already built (%s, profile %s)" % (out_dir, profile))
            return 0
        print("corpus: %s holds a '%s' corpus, not '%s'; use another OUT_DIR or delete it" %
              (out_dir, built, profile), file=sys.stderr)
        return EXIT_FAIL
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            print("corpus: %s not found on PATH (a Debian system is needed)" % tool, file=sys.stderr)
            return EXIT_FAIL
    cache_dir = os.path.abspath(os.environ.get("SHEAR_DEB_CACHE") or os.path.join(out_dir, "..", ".debcache"))
    os.makedirs(out_dir, exist_ok=True)
    for d in rc.DOMAINS + ("licenses",):  # a half-finished earlier run leaves no stale files behind
        shutil.rmtree(os.path.join(out_dir, d), ignore_errors=True)
    os.makedirs(os.path.join(out_dir, "licenses"))
    log("building profile '%s' into %s (deb cache %s)" % (profile, out_dir, cache_dir))
    t_start = time.time()
    cache = DebCache(cache_dir)
    packages, skipped, domains, files = {}, [], {}, []
    try:
        for domain in rc.DOMAINS:
            log("[%s] ..." % domain)
            domains[domain], f = build_domain(domain, profile, out_dir, cache, packages, skipped)
            files.extend(f)
    except RuntimeError as e:
        print("corpus: ERROR: %s" % e, file=sys.stderr)
        return EXIT_FAIL
    for entry in files:
        path = os.path.join(out_dir, entry["path"])
        entry["bytes"] = os.path.getsize(path)
        entry["sha256"] = sha256_file(path)
    for domain in rc.DOMAINS:
        names = sorted({p for u in domains[domain]["sources"] for p in [u["package"]] + u["extra_packages"]})
        domains[domain]["packages"] = [{k: packages[p][k] for k in ("package", "version", "sha256", "deb")}
                                       for p in names]
    manifest = {
        "profile": profile,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "build_seconds": round(time.time() - t_start, 1),
        "recipe": {"small_domain_bytes": rc.SMALL_DOMAIN_BYTES, "small_source_bytes": rc.SMALL_SOURCE_BYTES,
                   "min_domain_bytes": rc.MIN_DOMAIN_BYTES, "max_doc_bytes": rc.MAX_DOC_BYTES,
                   "book_window_chars": rc.BOOK_WINDOW_CHARS, "min_doc_bytes": rc.MIN_DOC_BYTES},
        "domains": domains,
        "packages": {p: packages[p] for p in sorted(packages)},
        "skipped": skipped,
        "files": files,
    }
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, manifest_path)  # the manifest appears last: its presence means the corpus is complete
    for d in rc.DOMAINS:
        log("%-13s %8.2f MB %7d docs" % (d, domains[d]["text_bytes"] / 1e6, domains[d]["documents"]))
    log("done in %.1f s; manifest %s" % (time.time() - t_start, manifest_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
