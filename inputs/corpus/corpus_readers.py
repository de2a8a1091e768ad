"""Binary formats some corpus packages ship their text in, read with the Python standard library only.

- dictd databases (.index + .dict.dz): dict-foldoc, dict-jargon, dict-gcide, ...
- R lazy-load data (Rdata.rdx + Rdata.rdb, R's XDR serialization): r-cran-janeaustenr, r-cran-tokenizers
- SWORD zText Bible modules (.bzs/.bzv/.bzz): sword-text-web
"""
import gzip
import re
import struct
import zlib
from html import unescape

# ---------------------------------------------------------------- dictd

_DICT_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DICT_B64_VALUE = {c: i for i, c in enumerate(_DICT_B64)}


def _dict_b64_number(s):
    # dictd writes offsets and lengths as base-64 numbers (most significant digit first), not RFC 4648 bytes.
    n = 0
    for c in s:
        n = n * 64 + _DICT_B64_VALUE[c]
    return n


def dictd_entries(index_bytes, dict_dz_bytes):
    """Yield (headword, entry text) in file order, one per distinct (offset, length), meta entries skipped."""
    data = gzip.decompress(dict_dz_bytes)  # dictzip is gzip with a random-access table in an extra field
    spans = {}
    for line in index_bytes.decode("utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        head = parts[0]
        if head.startswith("00database") or head.startswith("00-database"):
            continue
        try:
            off, length = _dict_b64_number(parts[1]), _dict_b64_number(parts[2])
        except KeyError:
            continue
        spans.setdefault((off, length), head)  # aliases point at the same definition: keep one
    for (off, length) in sorted(spans):
        yield spans[(off, length)], data[off:off + length].decode("utf-8", errors="replace")


# ---------------------------------------------------------------- R serialization (XDR, versions 2 and 3)

_R_NIL = None


class RSym(str):
    """An R symbol (attribute and list names are symbols)."""


class RObj:
    """An R value: type code, payload (list of values, str list, numbers) and attributes dict."""

    def __init__(self, rtype, value, attrs=None):
        self.rtype, self.value, self.attrs = rtype, value, attrs or {}


class _RReader:
    def __init__(self, buf):
        self.buf, self.pos, self.refs = buf, 0, []

    def _int(self):
        (v,) = struct.unpack_from(">i", self.buf, self.pos)
        self.pos += 4
        return v

    def _length(self):
        n = self._int()
        if n == -1:  # long vector: two more ints
            hi, lo = self._int(), self._int()
            n = (hi << 32) + lo
        return n

    def _bytes(self, n):
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def _string_vec(self):
        if self._int() != 0:
            raise ValueError("R serialization: bad persistent string vector")
        return [self.item() for _ in range(self._int())]

    def header(self):
        if self._bytes(2) != b"X\n":
            raise ValueError("R serialization: only the XDR format ('X') is supported")
        version = self._int()
        self._int()
        self._int()
        if version == 3:
            self._bytes(self._int())  # native encoding name
        elif version != 2:
            raise ValueError("R serialization: unsupported version %d" % version)

    def _attrs_of(self, pairlist):
        attrs = {}
        node = pairlist
        while isinstance(node, RObj) and node.rtype == 2:
            car, tag, cdr = node.value
            attrs[str(tag)] = car
            node = cdr
        return attrs

    def item(self):
        flags = self._int()
        t = flags & 0xFF
        has_attr, has_tag = flags & (1 << 9), flags & (1 << 10)
        if t == 254 or t in (253, 252, 251, 250, 242, 241):  # NULL, environments, special markers
            return _R_NIL
        if t == 255:  # reference to an earlier symbol/environment
            idx = flags >> 8
            if idx == 0:
                idx = self._int()
            return self.refs[idx - 1]
        if t in (247, 248, 249):  # persistent / package / namespace
            v = RObj(t, self._string_vec())
            self.refs.append(v)
            return v
        if t == 1:  # SYMSXP
            name = self.item()
            sym = RSym(name if isinstance(name, str) else "")
            self.refs.append(sym)
            return sym
        if t == 4:  # ENVSXP
            env = RObj(4, None)
            self.refs.append(env)
            self._int()
            enclos, frame, hashtab, attr = self.item(), self.item(), self.item(), self.item()
            env.value = (enclos, frame, hashtab)
            env.attrs = self._attrs_of(attr)
            return env
        if t in (2, 3, 5, 6, 17):  # pairlist-like: attr?, tag?, car, cdr
            attr = self.item() if has_attr else _R_NIL
            tag = self.item() if has_tag else _R_NIL
            car = self.item()
            cdr = self.item()
            return RObj(t, (car, tag, cdr), self._attrs_of(attr))
        if t in (7, 8):  # SPECIALSXP / BUILTINSXP
            return RObj(t, self._bytes(self._int()).decode("latin-1"))
        if t == 9:  # CHARSXP
            n = self._int()
            if n == -1:
                return None  # NA_character_
            raw = self._bytes(n)
            latin1 = (flags >> 12) & (1 << 2)
            return raw.decode("latin-1") if latin1 else raw.decode("utf-8", errors="replace")
        if t == 238:  # ALTREP: class info, state, attributes
            info, state, attr = self.item(), self.item(), self.item()
            return self._altrep(info, state, attr)
        if t in (10, 13):  # LGLSXP, INTSXP
            n = self._length()
            v = list(struct.unpack_from(">%di" % n, self.buf, self.pos))
            self.pos += 4 * n
        elif t == 14:  # REALSXP
            n = self._length()
            v = list(struct.unpack_from(">%dd" % n, self.buf, self.pos))
            self.pos += 8 * n
        elif t == 15:  # CPLXSXP
            n = self._length()
            self.pos += 16 * n
            v = None
        elif t == 16 or t in (19, 20):  # STRSXP, VECSXP, EXPRSXP
            v = [self.item() for _ in range(self._length())]
        elif t == 24:  # RAWSXP
            v = self._bytes(self._length())
        elif t == 25:  # S4SXP: attributes only
            v = None
        else:
            raise ValueError("R serialization: unsupported SEXP type %d" % t)
        attrs = self._attrs_of(self.item()) if has_attr else {}
        return RObj(t, v, attrs)

    def _altrep(self, info, state, attr):
        cls = ""
        if isinstance(info, RObj) and info.rtype == 2:
            cls = str(info.value[0])
        if cls == "compact_intseq" and isinstance(state, RObj):
            n, start, step = (int(x) for x in state.value[:3])
            obj = RObj(13, [start + i * step for i in range(n)])
        elif cls.startswith("wrap_") and isinstance(state, RObj) and state.rtype == 19:
            obj = state.value[0]
        elif cls == "deferred_string" and isinstance(state, RObj) and state.rtype == 2:
            arg = state.value[0]
            obj = RObj(16, [str(x) for x in arg.value]) if isinstance(arg, RObj) else RObj(16, [])
        else:
            raise ValueError("R serialization: unsupported ALTREP class %r" % cls)
        if isinstance(obj, RObj):
            obj.attrs.update(self._attrs_of(attr))
        return obj


def r_unserialize(buf):
    r = _RReader(buf)
    r.header()
    return r.item()


def _r_lazyload_blob(rdb, off, length):
    # Each object in an .rdb is a 4-byte big-endian uncompressed length, then zlib data (or a type byte).
    blob = rdb[off:off + length]
    body = blob[4:]
    if body[:1] in (b"Z", b"2", b"X", b"0"):
        kind, body = body[:1], body[1:]
        if kind == b"Z":
            return zlib.decompress(body)
        if kind == b"0":
            return body
        import bz2
        import lzma
        return bz2.decompress(body) if kind == b"2" else lzma.decompress(body)
    return zlib.decompress(body)


def r_lazyload_character_vectors(rdx_bytes, rdb_bytes):
    """Return {variable name: [strings]} for every character vector in an R package's data/Rdata.{rdx,rdb}."""
    index = r_unserialize(gzip.decompress(rdx_bytes) if rdx_bytes[:2] == b"\x1f\x8b" else zlib.decompress(rdx_bytes[4:]))
    names = index.attrs.get("names")
    variables = index.value[names.value.index("variables")]
    out = {}
    for name, pos in zip(variables.attrs["names"].value, variables.value):
        off, length = int(pos.value[0]), int(pos.value[1])
        obj = r_unserialize(_r_lazyload_blob(rdb_bytes, off, length))
        if isinstance(obj, RObj) and obj.rtype == 16:
            out[name] = [s for s in obj.value if s is not None]
    return out


# ---------------------------------------------------------------- SWORD zText (OSIS markup)

_OSIS_DROP = re.compile(r"<note\b[^>]*>.*?</note>|<note\b[^>]*/>", re.S)
_OSIS_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title>", re.S)
_OSIS_CHAPTER = re.compile(r'<chapter\b[^>]*\bn="(\d+)"[^>]*/?>')
_OSIS_PARA = re.compile(r'<div\b[^>]*type="x-p"[^>]*/>|<lb\b[^>]*/>|<l\b[^>]*/>')
_OSIS_TAG = re.compile(r"<[^>]*>")


def _osis_to_text(s):
    s = _OSIS_DROP.sub("", s)
    s = _OSIS_TITLE.sub(lambda m: "\n\n" + m.group(1) + "\n\n", s)
    s = _OSIS_CHAPTER.sub(lambda m: "\n\nChapter " + m.group(1) + "\n\n", s)
    s = _OSIS_PARA.sub("\n\n", s)
    return unescape(_OSIS_TAG.sub("", s))


def sword_ztext_books(files):
    """files: {'ot.bzs': bytes, ...} of one zText module. Yield the plain text of each compressed block,
    which is one Bible book when the module's BlockType is BOOK, in canonical order (OT then NT)."""
    for testament in ("ot", "nt"):
        bzs, bzv, bzz = (files.get("%s.%s" % (testament, ext)) for ext in ("bzs", "bzv", "bzz"))
        if bzs is None or bzv is None or bzz is None:
            continue
        blocks = [struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs) - 11, 12)]
        verses_by_block = {}
        for i in range(0, len(bzv) - 9, 10):
            block, start, size = struct.unpack_from("<IIH", bzv, i)
            if size:
                verses_by_block.setdefault(block, []).append((start, size))
        for b, (off, csize, _usize) in enumerate(blocks):
            raw = zlib.decompress(bzz[off:off + csize])
            parts = [raw[s:s + n].decode("utf-8", errors="replace") for s, n in verses_by_block.get(b, [])]
            text = _osis_to_text(" ".join(parts))
            text = re.sub(r"[ \t]+", " ", text)
            text = re.sub(r" *\n *", "\n", text)
            text = re.sub(r"\n{3,}", "\n\n", text).strip()
            if text:
                yield text
