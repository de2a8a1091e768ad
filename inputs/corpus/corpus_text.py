"""Text transforms of the corpus recipe: HTML to text, C4 line rules, LaTeX cleaning, POD to text,
FAQ splitting, book windows, code-file filters. Pure functions over strings; standard library only."""
import re
import textwrap
from html.parser import HTMLParser

# ---------------------------------------------------------------- HTML -> text

_BLOCK = {"address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
          "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "frameset", "header",
          "hr", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
          "tfoot", "thead", "title", "tr", "ul", "h1", "h2", "h3", "h4", "h5", "h6"}
_PARAGRAPH = {"p", "pre", "blockquote", "table", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "title",
              "hr", "figure", "section", "article", "header", "footer", "nav", "main"}
_SKIP = {"script", "style", "noscript", "template", "svg", "math", "object", "iframe", "map"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
         "wbr"}
# A heading start is marked in the text with this sentinel so FAQ splitters can cut there; plain users strip it.
HEADING_MARK = "\x01"
_HEADING_RE = re.compile("\x01([1-6])\x02")


class _HtmlText(HTMLParser):
    def __init__(self, main_only):
        super().__init__(convert_charrefs=True)
        self.main_only = main_only
        self.out = []          # pieces of text
        self.skip_depth = 0    # inside script/style/headerlink: drop text
        self.pre_depth = 0
        self.main_depth = 0    # inside role="main" (only used when main_only)
        self.stack = []        # open elements: (tag, skip?, main?)
        self.at_line_start = True

    def _newlines(self, n):
        if not self.out or self.out[-1] == "* ":  # keep a list bullet on the line of its first paragraph
            return
        tail = "".join(self.out[-3:])
        have = len(tail) - len(tail.rstrip("\n"))
        if have < n:
            self.out.append("\n" * (n - have))
        self.at_line_start = True

    def _emitting(self):
        return self.skip_depth == 0 and (not self.main_only or self.main_depth > 0)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        skip = tag in _SKIP or "headerlink" in cls or (a.get("hidden") is not None)
        main = a.get("role") == "main" or tag == "main"
        if tag not in _VOID:
            self.stack.append((tag, skip, main))
            self.skip_depth += skip
            self.main_depth += main
        if tag == "br":
            if self._emitting():
                self.out.append("\n")
                self.at_line_start = True
            return
        if tag in _BLOCK and self._emitting():
            self._newlines(2 if tag in _PARAGRAPH else 1)
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.out.append("%s%s\x02" % (HEADING_MARK, tag[1]))
            elif tag == "li":
                self.out.append("* ")
                self.at_line_start = False
        if tag == "pre":
            self.pre_depth += 1
        if tag in ("td", "th") and self._emitting() and not self.at_line_start:
            self.out.append("\t")

    def handle_endtag(self, tag):
        # Close up to the matching open element (HTML in the wild leaves <p>, <li> unclosed).
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for t, skip, main in self.stack[i:]:
                    self.skip_depth -= skip
                    self.main_depth -= main
                    if t == "pre":
                        self.pre_depth -= 1
                del self.stack[i:]
                break
        else:
            return
        if tag in _BLOCK and self._emitting():
            self._newlines(2 if tag in _PARAGRAPH else 1)

    def handle_data(self, data):
        if not self._emitting():
            return
        data = data.replace(HEADING_MARK, "").replace("\x02", "")
        if self.pre_depth:
            self.out.append(data)
            self.at_line_start = data.endswith("\n")
            return
        text = re.sub(r"\s+", " ", data)
        if self.at_line_start:
            text = text.lstrip()
        if text:
            self.out.append(text)
            self.at_line_start = False


def html_to_text(html, main_only=False, keep_heading_marks=False):
    """Render HTML as plain text like a text browser: block elements on their own lines, paragraphs separated
    by a blank line, navigation kept (unless main_only: then only role="main"/<main> content, when present)."""
    p = _HtmlText(main_only)
    p.feed(html)
    p.close()
    if main_only and not "".join(p.out).strip():
        return html_to_text(html, False, keep_heading_marks)  # page without a main region: take it all
    text = "".join(p.out)
    if not keep_heading_marks:
        text = _HEADING_RE.sub("", text)
    return tidy(text)


def tidy(text):
    """Strip trailing spaces, collapse runs of blank lines, drop NULs and a BOM, normalise newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").lstrip("\ufeff")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").rstrip()


# ---------------------------------------------------------------- C4 rules

_TERMINAL = ('.', '!', '?', '"', '\u201d')
_SENTENCE_END = re.compile(r"[.!?][\"\u201d']?(?=\s|$)")


class C4Filter:
    """C4's line rules over one domain: keep lines ending in terminal punctuation with >= 5 words, drop lines
    already seen anywhere earlier in the domain, drop pages left with fewer than 3 sentences."""

    def __init__(self):
        self.seen = set()

    def __call__(self, text):
        kept = []
        for line in text.split("\n"):
            s = line.strip()
            if not s.endswith(_TERMINAL) or len(s.split()) < 5:
                continue
            low = s.lower()
            if "javascript" in low or "lorem ipsum" in low:
                continue
            if s in self.seen:
                continue
            self.seen.add(s)
            kept.append(s)
        if sum(len(_SENTENCE_END.findall(s)) for s in kept) < 3:
            return ""
        return "\n".join(kept)


# ---------------------------------------------------------------- LaTeX (arxiv)

_VERBATIM_BEGIN = re.compile(r"\\begin\{(verbatim\*?|Verbatim|Sinput|Soutput|Scode|Schunk|Code|CodeInput|"
                             r"CodeOutput|CodeChunk|lstlisting|alltt|comment)\}")
_VERBATIM_END = re.compile(r"\\end\{(verbatim\*?|Verbatim|Sinput|Soutput|Scode|Schunk|Code|CodeInput|"
                           r"CodeOutput|CodeChunk|lstlisting|alltt|comment)\}")


def _strip_tex_comment(line):
    # A % starts a comment unless escaped by an odd number of backslashes.
    i = 0
    while True:
        i = line.find("%", i)
        if i < 0:
            return line, False
        j = i
        while j > 0 and line[j - 1] == "\\":
            j -= 1
        if (i - j) % 2 == 0:
            return line[:i], True
        i += 1


def clean_latex(src):
    """arXiv-style cleaning: drop the preamble (up to \\begin{document}) and what follows \\end{document},
    remove % comments (whole-line comments vanish) except inside Sweave code chunks and verbatim environments."""
    begin = src.find("\\begin{document}")
    if begin >= 0:
        src = src[begin + len("\\begin{document}"):]
    end = src.find("\\end{document}")
    if end >= 0:
        src = src[:end]
    out, in_chunk, in_verb = [], False, False
    for line in src.replace("\r\n", "\n").split("\n"):
        if not in_verb and re.match(r"^<<.*>>=\s*$", line):
            in_chunk = True
        elif in_chunk and re.match(r"^@\s*$", line):
            in_chunk = False
            out.append(line)
            continue
        if in_chunk or in_verb:
            out.append(line)
            if in_verb and _VERBATIM_END.search(line):
                in_verb = False
            continue
        code, had_comment = _strip_tex_comment(line)
        if had_comment and not code.strip():
            continue
        out.append(code.rstrip())
        if _VERBATIM_BEGIN.search(code) and not _VERBATIM_END.search(code):
            in_verb = True
    return tidy("\n".join(out))


def split_tex_sections(text, max_bytes):
    """Cut a long TeX manual chapter into documents at \\section boundaries (kept whole when short)."""
    if len(text.encode("utf-8")) <= max_bytes:
        return [text]
    parts = re.split(r"(?m)^(?=\\section\b)", text)
    return [p.strip("\n") for p in parts if p.strip()]


# ---------------------------------------------------------------- POD (perlfaq)

def _pod_codes(s):
    s = re.sub(r"[A-Z]<<+\s+(.+?)\s+>>+", lambda m: m.group(1), s, flags=re.S)
    entities = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/", "quot": '"', "amp": "&"}
    s = re.sub(r"E<(\w+)>", lambda m: entities.get(m.group(1), m.group(0)), s)
    s = re.sub(r"Z<>", "", s)
    for _ in range(10):  # innermost first: B<C<x>> -> B<x> -> x
        new = re.sub(r"L<([^<>|]*)\|[^<>]*>", r"\1", s)
        new = re.sub(r"L<(\w+://[^<>]*)>", r"\1", new)
        new = re.sub(r'L<([^<>/"]*)/"?([^<>"]*)"?>', lambda m: m.group(2) + (" in " + m.group(1) if m.group(1)
                                                                             else ""), new)
        new = re.sub(r"[A-Z]<([^<>]*)>", r"\1", new)
        if new == s:
            break
        s = new
    return s


def pod_questions(pod):
    """perlfaq: one document per =head2 (a question), POD markup turned into plain text."""
    docs, cur = [], None
    skip_block = False
    for line in pod.split("\n"):
        if line.startswith("=begin"):
            skip_block = True
            continue
        if line.startswith("=end"):
            skip_block = False
            continue
        if skip_block:
            continue
        if line.startswith("=head1"):
            if cur is not None:
                docs.append(cur)
            cur = None
            continue
        if line.startswith("=head2"):
            if cur is not None:
                docs.append(cur)
            cur = [line[6:].strip(), ""]
            continue
        if cur is None:
            continue
        if line.startswith("=item"):
            cur.append("* " + line[5:].strip())
        elif line.startswith("="):
            continue
        else:
            cur.append(line)
    if cur is not None:
        docs.append(cur)
    return [tidy(_pod_codes("\n".join(d))) for d in docs]


# ---------------------------------------------------------------- FAQ splitting

def merge_short(pieces, min_bytes):
    """Glue pieces shorter than min_bytes (section headings without a body) onto the piece that follows."""
    out, carry = [], ""
    for p in pieces:
        p = (carry + "\n\n" + p).strip("\n") if carry else p
        carry = ""
        if len(p.encode("utf-8")) < min_bytes:
            carry = p
        else:
            out.append(p)
    if carry and out:
        out[-1] = out[-1] + "\n\n" + carry
    return out


_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})+)\.?[^\S\n]+\S", re.M)


def split_numbered_faq(text, min_bytes):
    """Text FAQs whose questions start at column 0 with a section number (1.2.3 Question?). A table of
    contents repeats the numbers first, so the last occurrence of each number is the question itself."""
    last = {}
    for m in _NUMBERED.finditer(text):
        last[m.group(1)] = m.start()
    starts, prev = [], None
    for num, pos in sorted(last.items(), key=lambda kv: kv[1]):
        key = tuple(int(x) for x in num.split("."))
        if prev is None or key > prev:  # numbers must grow through the body
            starts.append(pos)
            prev = key
    if not starts:
        return []
    pieces = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    return merge_short([tidy(p) for p in pieces], min_bytes)


def split_html_faq(html, min_bytes):
    """HTML FAQs: the question level is the shallowest heading below h1 used at least 3 times in the main
    content; cut before every heading at or above it."""
    text = html_to_text(html, main_only=True, keep_heading_marks=True)
    levels = [int(m.group(1)) for m in _HEADING_RE.finditer(text)]
    qlevel = next((lv for lv in range(2, 7) if levels.count(lv) >= 3), 2)
    pieces, last = [], 0
    for m in _HEADING_RE.finditer(text):
        if int(m.group(1)) <= qlevel and m.start() > last:
            pieces.append(text[last:m.start()])
            last = m.start()
    pieces.append(text[last:])
    nav = re.compile(r"^(\s*\[[^\]\n]*\])+\s*$", re.M)  # texi2html link rows: [ << ] [ >> ] [Top]
    pieces = [tidy(nav.sub("", _HEADING_RE.sub("", p))) for p in pieces]
    return merge_short([p for p in pieces if p], min_bytes)


_RST_UNDERLINE = re.compile(r"^([=\-~+'^\"#*])\1{2,}\s*$")


def split_rst_qa(rst, min_bytes):
    """reStructuredText FAQs written as 'Q: ...' paragraphs: one document per Q, section titles removed."""
    lines = rst.split("\n")
    keep = [True] * len(lines)
    for i, line in enumerate(lines):  # section titles: a line underlined (and maybe overlined)
        if _RST_UNDERLINE.match(line) and i > 0 and lines[i - 1].strip() and not _RST_UNDERLINE.match(lines[i - 1]):
            keep[i] = keep[i - 1] = False
            if i > 1 and _RST_UNDERLINE.match(lines[i - 2]):
                keep[i - 2] = False
    text = "\n".join(l for l, k in zip(lines, keep) if k)
    parts = re.split(r"(?m)^(?=Q: )", text)
    pieces = [tidy(p) for p in parts[1:]]
    return merge_short([p for p in pieces if p], min_bytes)


# ---------------------------------------------------------------- books

def strip_gutenberg(text):
    """Keep what lies between Project Gutenberg's START and END markers (the licence boilerplate goes)."""
    m = re.search(r"^\*\*\* ?START OF (THIS|THE) PROJECT GUTENBERG.*$", text, re.M | re.I)
    if m:
        text = text[m.end():]
    m = re.search(r"^(\*\*\* ?END OF (THIS|THE) PROJECT GUTENBERG|End of (the )?Project Gutenberg)", text,
                  re.M | re.I)
    if m:
        text = text[:m.start()]
    return text


def windows(text, size):
    """Cut a book into windows of at most `size` characters at paragraph boundaries (line or space when one
    paragraph is longer than a window)."""
    text = tidy(text)
    out = []
    while len(text) > size:
        cut = text.rfind("\n\n", 0, size)
        if cut < size // 2:
            cut = text.rfind("\n", 0, size)
        if cut < size // 2:
            cut = text.rfind(" ", 0, size)
        if cut <= 0:
            cut = size
        out.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        out.append(text)
    return [w for w in out if w]


# ---------------------------------------------------------------- code

def code_ok(text, min_bytes=200, max_bytes=200_000):
    """RedPajama-like GitHub filters: size bounds, no overlong lines (generated data), enough alphanumerics."""
    n = len(text.encode("utf-8"))
    if n < min_bytes or n > max_bytes or "\x00" in text:
        return False
    lines = text.split("\n")
    if max(len(l) for l in lines) > 1000 or n / len(lines) > 100:
        return False
    return sum(c.isalnum() for c in text) >= 0.25 * len(text)


def dict_entry(text):
    """A dictd entry: headword line, then the definition dedented."""
    lines = text.replace("\r\n", "\n").strip("\n").split("\n")
    return tidy(lines[0].strip() + "\n" + textwrap.dedent("\n".join(lines[1:])))
