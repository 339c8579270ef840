#!/usr/bin/python3
"""Tests tools/eval/make_manpage_set.py: the parsing of rendered pages, the
rules, and a whole run over a small manual tree made here.

    /usr/bin/python3 tests/tools/eval_manpage_set_test.py   (or python3 -m pytest FILE)

CTest runs it as tools.eval_manpage_set. The whole run needs groff (Debian:
groff-base) and is skipped without it.
"""
import collections
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

EVAL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "eval")
sys.path.insert(0, EVAL_DIR)
import make_manpage_set as mms  # noqa: E402

RENDERED_LS = """LS(1)                            User Commands                           LS(1)

NAME
       ls - list directory contents

SYNOPSIS
       ls [OPTION]... [FILE]...

DESCRIPTION
       List information about the FILEs (the current directory by default).

GNU coreutils 9.1                September 2022                          LS(1)
"""

# An mdoc page without header or footer, a translated heading, a wrapped
# description and Chinese text broken across lines.
RENDERED_ZH = """
NAME(名称)
     dig — 发送域名查询信息包到
     域名服务器

SYNOPSIS(总览)
     dig [@server] domain

描述
     Dig 是一个灵活的命令行工具，它可以用来从域名系统服务器中收
     集信息。
"""

BODY_WORDS = " ".join("word%d" % i for i in range(60))


def page_source(name, section, description, body=BODY_WORDS):
    return (".TH %s %s\n.SH NAME\n%s \\- %s\n.SH DESCRIPTION\n%s\n" %
            (name.upper(), section, name, description, body)).encode("utf-8")


class ParseTest(unittest.TestCase):

    def test_name_line_and_body_without_header_and_footer(self):
        name_line, body = mms.parse_page(RENDERED_LS)
        self.assertEqual(name_line, "ls - list directory contents")
        self.assertEqual(body, "SYNOPSIS\nls [OPTION]... [FILE]...\n\nDESCRIPTION\n"
                               "List information about the FILEs (the current directory by "
                               "default).")
        self.assertEqual(mms.split_name_line(name_line, "en"), ("ls", "list directory contents"))

    def test_mdoc_page_translated_heading_and_chinese_lines(self):
        name_line, body = mms.parse_page(RENDERED_ZH)
        self.assertEqual(name_line, "dig — 发送域名查询信息包到域名服务器")
        self.assertEqual(mms.split_name_line(name_line, "zh"), ("dig", "发送域名查询信息包到域名服务器"))
        self.assertIn("从域名系统服务器中收集信息。", body)
        self.assertTrue(body.startswith("SYNOPSIS(总览)\ndig [@server] domain"))

    def test_page_without_name_section(self):
        self.assertIsNone(mms.parse_page("FOO(1)\n\nSYNOPSIS\n       foo\n\nFOO(1)\n"))
        self.assertIsNone(mms.parse_page(""))

    def test_name_separators(self):
        self.assertEqual(mms.split_name_line("gzip, gunzip, zcat - compress or expand files",
                                             "en"),
                         ("gzip, gunzip, zcat", "compress or expand files"))
        self.assertEqual(mms.split_name_line("systemd-notify - notify service manager", "en"),
                         ("systemd-notify", "notify service manager"))
        self.assertIsNone(mms.split_name_line("named-bootconf converts files", "en"))
        self.assertEqual(mms.split_name_line("write -在一个文件描述符上执行写操作", "zh"),
                         ("write", "在一个文件描述符上执行写操作"))
        self.assertEqual(mms.split_name_line("perldata- Perl 数据类型", "zh"),
                         ("perldata", "Perl 数据类型"))
        self.assertEqual(mms.split_name_line("foo：做某事的程序", "zh"), ("foo", "做某事的程序"))
        # The Chinese fallbacks do not apply to English pages.
        self.assertIsNone(mms.split_name_line("perldata- Perl data types", "en"))

    def test_clean_removes_overstrike_and_escapes(self):
        self.assertEqual(mms.clean("N\bNA\bAM\bME\bE _\bf_\bi_\bl_\be \x1b[1mbold\x1b[0m"),
                         "NAME file bold")


class RulesTest(unittest.TestCase):

    def test_words(self):
        self.assertEqual(mms.count_words("ls [OPTION]... -- a b"), 4)
        self.assertEqual(mms.count_words("列出目录 ls"), 5)

    def test_page_fields_rules(self):
        self.assertEqual(mms.page_fields("ls.1", RENDERED_LS, "en")["drop"], "short-body")
        long_ls = RENDERED_LS.replace("(the current", BODY_WORDS + " (the current")
        page = mms.page_fields("ls.1", long_ls, "en")
        self.assertEqual((page["title"], page["description"]), ("ls(1)", "list directory contents"))
        short = long_ls.replace("list directory contents", "lists files")
        self.assertEqual(mms.page_fields("ls.1", short, "en")["drop"], "short-description")
        english_in_zh = long_ls
        self.assertEqual(mms.page_fields("ls.1", english_in_zh, "zh")["drop"], "name-not-chinese")
        self.assertEqual(mms.page_fields("x.1", "X(1)\n\nFOO\n  bar\n", "en")["drop"],
                         "no-name-section")

    def test_short_chinese_description(self):
        self.assertTrue(mms.description_too_short("关闭流", "zh"))
        self.assertFalse(mms.description_too_short("列出目录", "zh"))

    def test_duplicates_keep_the_shortest_id(self):
        def page(page_id, description, body):
            return {"id": page_id, "description": description, "body": body}
        pages = [page("gcloud_alpha_x.1", "create a thing", "alpha body"),
                 page("gcloud_x.1", "Create a thing.", "ga body"),
                 page("b.1", "something else entirely", "same body"),
                 page("a.1", "yet another description", "same body")]
        dropped = collections.Counter()
        kept = mms.deduplicate(pages, dropped)
        self.assertEqual([p["id"] for p in kept], ["a.1", "gcloud_x.1"])
        self.assertEqual(dropped, {"duplicate-content": 1, "duplicate-description": 1})

    def test_split_is_a_stable_hash(self):
        self.assertEqual(mms.split_for("q:ls.1"), mms.split_for("q:ls.1"))
        splits = [mms.split_for("q:page%d.1" % i) for i in range(2000)]
        self.assertTrue(800 < splits.count("dev") < 1200)

    def test_titles_and_stems(self):
        self.assertEqual(mms.page_stem("ls.1.gz"), "ls.1")
        self.assertEqual(mms.page_title("File::Basename.3perl"), "File::Basename(3perl)")
        self.assertTrue(mms.is_so_redirect(b'.\\" comment\n.so man1/gzip.1\n'))
        self.assertFalse(mms.is_so_redirect(b".TH X 1\n.so common.roff\n.SH NAME\n"))


@unittest.skipUnless(shutil.which("groff"), "needs groff (Debian: groff-base)")
class WholeRunTest(unittest.TestCase):

    def make_tree(self, root):
        man1 = os.path.join(root, "man1")
        os.makedirs(man1)
        pages = {
            "ls.1.gz": page_source("ls", "1", "list directory contents"),
            "cp.1.gz": page_source("cp", "1", "copy files and directories"),
            "cp2.1.gz": page_source("cp2", "1", "copy files and directories", "other " * 60),
            "tiny.1.gz": page_source("tiny", "1", "a tiny page here", "too short"),
            "terse.1.gz": page_source("terse", "1", "terse", "long enough " * 40),
            "redirect.1.gz": b".so man1/ls.1\n",
        }
        for name, source in pages.items():
            with gzip.open(os.path.join(man1, name), "wb") as f:
                f.write(source)
        os.symlink("ls.1.gz", os.path.join(man1, "dir.1.gz"))

    def run_script(self, root, out, *extra):
        return subprocess.run([sys.executable, os.path.join(EVAL_DIR, "make_manpage_set.py"),
                               "--lang", "en", "--out", out, "--man-root", root, "--sections",
                               "1", "--dpkg-info", os.path.join(root, "no-dpkg"), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=True)

    def test_builds_a_beir_set(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "man")
            self.make_tree(root)
            out = os.path.join(tmp, "set")
            self.run_script(root, out)
            with open(os.path.join(out, "corpus.jsonl"), encoding="utf-8") as f:
                corpus = [json.loads(line) for line in f]
            with open(os.path.join(out, "queries.jsonl"), encoding="utf-8") as f:
                queries = [json.loads(line) for line in f]
            self.assertEqual([d["_id"] for d in corpus], ["cp.1", "ls.1"])
            self.assertEqual(corpus[1]["title"], "ls(1)")
            self.assertTrue(corpus[1]["text"].startswith("DESCRIPTION\nword0 word1"))
            self.assertNotIn("list directory contents", corpus[1]["text"])
            self.assertEqual(queries, [{"_id": "q:cp.1", "text": "copy files and directories"},
                                       {"_id": "q:ls.1", "text": "list directory contents"}])
            qrels = []
            for split in ("dev", "test"):
                with open(os.path.join(out, "qrels", split + ".tsv"), encoding="utf-8") as f:
                    lines = f.read().splitlines()
                self.assertEqual(lines[0], "query-id\tcorpus-id\tscore")
                qrels += [(split, line) for line in lines[1:]]
            self.assertEqual(sorted(line for _, line in qrels),
                             ["q:cp.1\tcp.1\t1", "q:ls.1\tls.1\t1"])
            for split, line in qrels:
                self.assertEqual(mms.split_for(line.split("\t")[0]), split)
            with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
                manifest = json.load(f)
            self.assertEqual(manifest["dropped"], {"symlink": 1, "so-redirect": 1,
                                                   "short-description": 1, "short-body": 1,
                                                   "duplicate-description": 1})
            self.assertEqual(manifest["counts"]["documents"], 2)
            self.assertEqual(manifest["counts"]["files"], 7)
            # The same pages give the same files.
            again = os.path.join(tmp, "again")
            self.run_script(root, again)
            for name in ("corpus.jsonl", "queries.jsonl", "qrels/dev.tsv", "qrels/test.tsv"):
                with open(os.path.join(out, name), "rb") as a, \
                        open(os.path.join(again, name), "rb") as b:
                    self.assertEqual(a.read(), b.read(), name)

    def test_package_cap(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "man")
            self.make_tree(root)
            info = os.path.join(tmp, "info")
            os.mkdir(info)
            with open(os.path.join(info, "coreutils:amd64.list"), "w", encoding="utf-8") as f:
                for name in ("ls.1.gz", "cp.1.gz", "cp2.1.gz", "tiny.1.gz"):
                    f.write(os.path.join(root, "man1", name) + "\n")
            out = os.path.join(tmp, "set")
            self.run_script(root, out, "--dpkg-info", info, "--max-per-package", "1")
            with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
                manifest = json.load(f)
            self.assertEqual(manifest["counts"]["documents"], 1)
            self.assertEqual(manifest["capped_packages"], ["coreutils"])
            self.assertEqual(manifest["packages"], {"coreutils": 1})
            # Four pages of the package: rendered one at a time until one
            # passes the rules; the rest are over the cap.
            dropped = manifest["dropped"]
            self.assertEqual(dropped["over-package-cap"] + dropped.get("short-body", 0) +
                             dropped.get("duplicate-description", 0), 3)

    def test_max_docs_samples(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "man")
            self.make_tree(root)
            out = os.path.join(tmp, "set")
            self.run_script(root, out, "--max-docs", "1", "--seed", "3")
            with open(os.path.join(out, "corpus.jsonl"), encoding="utf-8") as f:
                self.assertEqual(len(f.readlines()), 1)


if __name__ == "__main__":
    unittest.main()
