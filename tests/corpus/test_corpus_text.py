#!/usr/bin/python3
"""Unit tests of the corpus recipe's text transforms and binary readers (no network, no .debs).
usage: test_corpus_text.py INPUTS_CORPUS_DIR"""
import gzip
import struct
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, sys.argv.pop(1) if len(sys.argv) > 1 else "inputs/corpus")
import corpus_readers as rd  # noqa: E402
import corpus_text as tx  # noqa: E402


class HtmlText(unittest.TestCase):
    PAGE = ("<html><head><title>The Title</title><style>p{}</style><script>var x=1;</script></head><body>"
            "<nav><a href='/'>Home</a> | <a href='/up'>Up</a></nav>"
            "<div role='main'><h2>Section<a class='headerlink'>\u00b6</a></h2><p>Hello\n   <b>bold</b> world.</p>"
            "<ul><li><p>first item</p></li><li>second</li></ul><pre>a\n  b</pre>"
            "<table><tr><td>c1</td><td>c2</td></tr></table>&amp; &lt;tag&gt;</div></body></html>")

    def test_page_keeps_navigation_drops_scripts(self):
        t = tx.html_to_text(self.PAGE)
        self.assertIn("The Title", t)
        self.assertIn("Home | Up", t)
        self.assertIn("Hello bold world.", t)
        self.assertIn("* first item", t)
        self.assertIn("* second", t)
        self.assertIn("a\n  b", t)
        self.assertIn("c1\tc2", t)
        self.assertIn("& <tag>", t)
        self.assertNotIn("var x", t)
        self.assertNotIn("p{}", t)
        self.assertNotIn("\u00b6", t)
        self.assertNotIn("\n\n\n", t)

    def test_main_only(self):
        t = tx.html_to_text(self.PAGE, main_only=True)
        self.assertNotIn("Home", t)
        self.assertTrue(t.startswith("Section"))


class C4(unittest.TestCase):
    def test_line_rules_and_duplicates(self):
        c4 = tx.C4Filter()
        page = ("Navigation Home Next\nThis line has five words.\nToo short line.\n"
                "Another proper sentence ends here!\nDoes this question count too?\nno terminal mark here at all")
        out = c4(page)
        self.assertEqual(out.split("\n"), ["This line has five words.", "Another proper sentence ends here!",
                                           "Does this question count too?"])
        # the same lines again are duplicates: nothing left, and fewer than 3 sentences drops the page
        self.assertEqual(c4(page), "")

    def test_page_needs_three_sentences(self):
        self.assertEqual(tx.C4Filter()("Only one good sentence is here.\nAnd a second one right here."), "")


class Latex(unittest.TestCase):
    def test_preamble_comments_chunks(self):
        src = ("\\documentclass{article}\n\\usepackage{x}\n\\begin{document}\n% full comment\n"
               "Text 50\\% more % trailing comment\n<<chunk>>=\nx %in% y\n@\n"
               "\\begin{verbatim}\n100% kept\n\\end{verbatim}\nEnd.\n\\end{document}\nafter\n")
        out = tx.clean_latex(src)
        self.assertNotIn("documentclass", out)
        self.assertNotIn("full comment", out)
        self.assertNotIn("trailing", out)
        self.assertIn("Text 50\\% more", out)
        self.assertIn("x %in% y", out)
        self.assertIn("100% kept", out)
        self.assertNotIn("after", out)


class Faq(unittest.TestCase):
    def test_numbered_faq_skips_table_of_contents(self):
        body = "\n".join("%d.%d What about thing %d%d?\n\n\tAnswer %s." % (a, b, a, b, "words " * 40)
                         for a in (1, 2) for b in (1, 2))
        text = "Contents:\n1.1 What about thing 11?\n1.2 What about thing 12?\n2.1 x\n2.2 y\n\n" + body
        docs = tx.split_numbered_faq(text, 100)
        self.assertEqual(len(docs), 4)
        self.assertTrue(docs[0].startswith("1.1 What about thing 11?"))
        self.assertTrue(all("Answer" in d for d in docs))

    def test_pod_questions(self):
        pod = ("=head1 NAME\n\nperlfaq0\n\n=head2 How do I C<print>?\n\nUse B<print> and see L<perlfunc/print>."
               "\n\n=head2 What is E<lt>=E<gt>?\n\nThe C<< <=> >> operator.\n\n=cut\n")
        docs = tx.pod_questions(pod)
        self.assertEqual(len(docs), 2)
        self.assertTrue(docs[0].startswith("How do I print?"))
        self.assertIn("see print in perlfunc", docs[0])
        self.assertIn("What is <=>?", docs[1])
        self.assertIn("The <=> operator.", docs[1])

    def test_rst_qa(self):
        rst = "=====\nTitle\n=====\n\nQ: First question?\n\n    A: " + "yes " * 60 + "\n\nSub\n---\n\nQ: Second?\n\n" \
              "    A: " + "no " * 80 + "\n"
        docs = tx.split_rst_qa(rst, 100)
        self.assertEqual(len(docs), 2)
        self.assertNotIn("Sub", docs[0])


class Books(unittest.TestCase):
    def test_windows_cut_at_paragraphs(self):
        paras = ["paragraph %d" % i + " word" * 30 for i in range(100)]
        text = "\n\n".join(paras)
        ws = tx.windows(text, 1000)
        self.assertTrue(all(len(w) <= 1000 for w in ws))
        self.assertEqual("\n\n".join(ws), text.strip())

    def test_gutenberg_boilerplate(self):
        t = "licence\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\nStory.\n*** END OF THIS PROJECT GUTENBERG\nmore"
        self.assertEqual(tx.strip_gutenberg(t).strip(), "Story.")


class Readers(unittest.TestCase):
    def test_dictd(self):
        entries = [b"alpha\n   first letter\n", b"beta\n   second letter\n"]
        data = b"".join(entries)
        b64 = rd._DICT_B64
        index = "alpha\tA\t%s\nalias\tA\t%s\nbeta\t%s\t%s\n00databaseinfo\tA\tB\n" % (
            b64[len(entries[0])], b64[len(entries[0])], b64[len(entries[0])], b64[len(entries[1])])
        got = list(rd.dictd_entries(index.encode(), gzip.compress(data)))
        self.assertEqual([h for h, _ in got], ["alpha", "beta"])
        self.assertEqual(tx.dict_entry(got[1][1]), "beta\nsecond letter")

    def test_r_character_vector(self):
        def charsxp(s):
            b = s.encode("utf-8")
            return struct.pack(">ii", 9 | (8 << 12), len(b)) + b
        buf = b"X\n" + struct.pack(">iii", 2, 0x40000, 0x20300) + struct.pack(">ii", 16, 3) + \
            charsxp("Chapter 1") + struct.pack(">ii", 9, -1) + charsxp("Caf\u00e9")
        obj = rd.r_unserialize(buf)
        self.assertEqual(obj.rtype, 16)
        self.assertEqual(obj.value, ["Chapter 1", None, "Caf\u00e9"])

    def test_code_filters(self):
        self.assertTrue(tx.code_ok("int main(void) { return 0; }\n" * 20))
        self.assertFalse(tx.code_ok("x" * 150))                    # too small
        self.assertFalse(tx.code_ok("a = [" + "1," * 800 + "]\n"))  # generated: overlong line
        self.assertFalse(tx.code_ok("{}\n" * 200 + "()" * 100))     # mostly punctuation


if __name__ == "__main__":
    unittest.main(verbosity=1)
