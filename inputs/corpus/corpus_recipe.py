"""Which Debian packages make each of the 7 RedPajama-style domains, which files of them, and how they are read.

Each domain lists its sources in the order the small profile takes them (small downloads first). The small
profile stops a domain once it holds SMALL_DOMAIN_BYTES of text and takes at most SMALL_SOURCE_BYTES from one
source (so a domain mixes at least two sources); the full profile takes every source whole, except for an
explicit per-source `cap`. A source that cannot be downloaded is skipped and the next one fills in.

Source keys: pkg (package to download), extra (more packages the reader needs), include / exclude (regular
expressions on the extracted path, no leading './'), reader (a function name in build_corpus.READERS), cap
(most bytes of text taken from the source in any profile), opts (reader options).
"""

DOMAINS = ("cc", "c4", "github", "book", "wiki", "arxiv", "stackexchange")

SMALL_DOMAIN_BYTES = 2_000_000
SMALL_SOURCE_BYTES = 1_000_000
MIN_DOMAIN_BYTES = 1_000_000   # both profiles: a domain below this is an error
MAX_DOC_BYTES = 200_000        # github files and LaTeX chapters above this are dropped / split
BOOK_WINDOW_CHARS = 50_000

_SPHINX_NOISE = r"/_sources/|/_modules/|/_static/|/(search|genindex[^/]*|py-modindex|modindex)\.html$"

RECIPE = {
    # Web pages with boilerplate: HTML documentation sites rendered to text, navigation kept.
    "cc": [
        dict(pkg="git-doc", include=r"^usr/share/doc/git-doc/.*\.html$", reader="html_page"),
        dict(pkg="zsh-doc", include=r"^usr/share/doc/zsh-common/html/.*\.html$",
             exclude=r"/(FAQ\d*|The-Zsh-FAQ)\.html$", reader="html_page"),   # the FAQ goes to stackexchange
        dict(pkg="mplayer-doc", include=r"^usr/share/doc/mplayer/HTML/en/.*\.html$", reader="html_page"),
        dict(pkg="libgtk2.0-doc", include=r"^usr/share/(gtk-doc/html/(gtk2|gdk2)|doc/libgtk2\.0-doc/"
             r"(tutorial|faq))/.*\.html$", reader="html_page"),
        dict(pkg="apache2-doc", include=r"^usr/share/doc/apache2-doc/manual/en/.*\.html$", reader="html_page"),
        dict(pkg="gimp-help-en", include=r"^usr/share/gimp/2\.0/help/en/.*\.html$", reader="html_page"),
        dict(pkg="postgresql-doc-15", include=r"^usr/share/doc/postgresql-doc-15/html/.*\.html$",
             reader="html_page"),
    ],
    # Cleaned web prose: other documentation sites through C4's line rules.
    "c4": [
        dict(pkg="docutils-doc", include=r"^usr/share/doc/docutils-doc/.*\.html$", reader="c4_page"),
        dict(pkg="developers-reference", include=r"^usr/share/developers-reference/[^/]*\.html$",
             exclude=r"/(developers-reference|search|genindex)\.html$", reader="c4_page"),
        dict(pkg="debian-reference-en", include=r"^usr/share/debian-reference/.*\.en\.html$", reader="c4_page"),
        dict(pkg="debian-policy", include=r"^usr/share/doc/debian-policy/.*\.html$", exclude=_SPHINX_NOISE,
             reader="c4_page"),
        dict(pkg="sphinx-doc", include=r"^usr/share/doc/sphinx-doc/html/.*\.html$", exclude=_SPHINX_NOISE,
             reader="c4_page"),
        dict(pkg="python-sqlalchemy-doc", include=r"^usr/share/doc/python-sqlalchemy-doc/html/.*\.html$",
             exclude=_SPHINX_NOISE + r"|/faq/", reader="c4_page"),
        dict(pkg="python-django-doc", include=r"^usr/share/doc/python-django-doc/html/.*\.html$",
             exclude=_SPHINX_NOISE, reader="c4_page"),
        dict(pkg="python3.11-doc", include=r"^usr/share/doc/python3\.11/html/.*\.html$",
             exclude=_SPHINX_NOISE + r"|/faq/", reader="c4_page"),
        dict(pkg="debian-handbook", include=r"^usr/share/doc/debian-handbook/html/en-US/.*\.html$",
             reader="c4_page"),
    ],
    # Code: one document per source file.
    "github": [
        dict(pkg="libpython3.11-stdlib", include=r"^usr/lib/python3\.11/.*\.py$", reader="code"),
        dict(pkg="perl-modules-5.36", include=r"^usr/share/perl/5\.36[^/]*/.*\.(pm|pl)$", reader="code"),
        dict(pkg="golang-1.19-src", include=r"^usr/share/go-1\.19/src/.*\.go$", exclude=r"/testdata/|/vendor/",
             reader="code"),
        dict(pkg="glibc-source", include=r"^usr/src/glibc/glibc-[^/]*\.tar\.xz$", reader="code_tarxz",
             opts=dict(inner=r"\.(c|h)$")),
    ],
    # Public-domain books cut into windows.
    "book": [
        dict(pkg="golang-github-jdkato-prose-dev", include=r"/testdata/sherlock\.txt$", reader="gutenberg"),
        dict(pkg="r-cran-tokenizers", include=r"/tokenizers/data/Rdata\.(rdx|rdb)$", reader="r_books"),
        dict(pkg="r-cran-janeaustenr", include=r"/janeaustenr/data/Rdata\.(rdx|rdb)$", reader="r_books"),
        dict(pkg="bible-kjv-text", extra=["bible-kjv"], include=r"^usr/(lib/bible\.data(\.conc)?|bin/bible)$",
             reader="bible_cli"),
        dict(pkg="sword-text-web", include=r"^usr/share/sword/modules/texts/ztext/[^/]+/[on]t\.bz[svz]$",
             reader="sword"),
    ],
    # Encyclopedic text: dictd databases, one document per entry.
    "wiki": [
        dict(pkg="dict-jargon", include=r"^usr/share/dictd/.*\.(index|dict\.dz)$", reader="dictd"),
        dict(pkg="dict-foldoc", include=r"^usr/share/dictd/.*\.(index|dict\.dz)$", reader="dictd"),
        dict(pkg="dict-devil", include=r"^usr/share/dictd/.*\.(index|dict\.dz)$", reader="dictd"),
        dict(pkg="dict-elements", include=r"^usr/share/dictd/.*\.(index|dict\.dz)$", reader="dictd"),
        dict(pkg="dict-gcide", include=r"^usr/share/dictd/.*\.(index|dict\.dz)$", reader="dictd",
             cap=8_000_000),  # 40 MB of short definitions would swamp the domain
    ],
    # Scientific LaTeX: R vignettes (mostly Journal of Statistical Software papers) and the PARI manual.
    "arxiv": [dict(pkg=p, include=r"^usr/lib/R/(site-)?library/[^/]+/doc/[^/]+\.(Rnw|tex)$", reader="latex")
              for p in ("r-cran-sandwich", "r-cran-zoo", "r-cran-vcd", "r-cran-coin", "r-cran-flexmix",
                        "r-cran-actuar", "r-cran-partykit", "r-cran-spatstat", "r-cran-lme4", "r-cran-survival",
                        "r-cran-sp", "r-cran-pscl", "r-cran-matrix", "r-cran-strucchange", "r-cran-lmtest",
                        "r-cran-mvtnorm")]
    + [dict(pkg="pari-doc", include=r"^usr/share/pari/doc/usersch\d+\.tex$", reader="latex")],
    # Q&A: FAQs, one document per question.
    "stackexchange": [
        dict(pkg="lsof", include=r"^usr/share/doc/lsof/00FAQ(\.gz)?$", reader="numbered_faq"),
        dict(pkg="sed", include=r"^usr/share/doc/sed/sedfaq\.txt(\.gz)?$", reader="numbered_faq"),
        dict(pkg="debian-faq", include=r"^usr/share/doc/debian/FAQ/debian-faq\.en\.txt(\.gz)?$",
             reader="numbered_faq"),
        dict(pkg="openvswitch-doc", include=r"^usr/share/doc/openvswitch-doc/html/_sources/faq/.*\.rst\.txt$",
             reader="rst_qa"),
        dict(pkg="zsh-doc", include=r"^usr/share/doc/zsh-common/html/FAQ\d+\.html$", reader="html_faq"),
        dict(pkg="perl-doc", include=r"^usr/share/perl/5\.36[^/]*/pod/perlfaq\d\.pod$", reader="pod_faq"),
        dict(pkg="python-sqlalchemy-doc", include=r"^usr/share/doc/python-sqlalchemy-doc/html/faq/.*\.html$",
             exclude=r"/index\.html$", reader="html_faq"),
        dict(pkg="python3.11-doc", include=r"^usr/share/doc/python3\.11/html/faq/.*\.html$",
             exclude=r"/index\.html$", reader="html_faq"),
    ],
}

# Smallest document kept, per domain (UTF-8 bytes of the text).
MIN_DOC_BYTES = {"cc": 200, "c4": 200, "github": 200, "book": 200, "wiki": 200, "arxiv": 500,
                 "stackexchange": 200}
