#!/usr/bin/python3
"""Builds a BEIR-layout retrieval test set from the manual pages installed here.

    make_manpage_set.py --lang en|zh --out DIR [--max-docs N] [--seed S]
                        [--max-per-package N] [--sections 1,5,8] [--exclude GLOB]...
                        [--jobs J]

Each kept page gives one document and one query:
  - query: the one-line description of the page's NAME section
    ("ls - list directory contents" -> "list directory contents");
  - document: the page rendered to plain text by groff as `man -l` renders it
    with LC_ALL=C.UTF-8, MANWIDTH=80, --nh --nj (no hyphenation, no
    justification: words stay whole), without its header and footer lines and
    without its NAME section; title = page name and section, e.g. "ls(1)".
English pages come from /usr/share/man/manN, Chinese ones from
/usr/share/man/zh_CN/manN (Debian package manpages-zh; installed by this
script when run as root).

Rules (each dropped page is counted under its reason in manifest.json):
  symlink, so-redirect     links and `.so` redirects (the target is kept);
  excluded                 page ids matching an --exclude glob;
  render-failed            groff fails or prints nothing;
  no-name-section          no NAME heading or no "names - description" line;
  name-not-chinese         (zh) the description has no Chinese character;
  short-description        under 3 words (zh: under 4 letters or characters);
  short-body               under 50 words after the NAME section;
  duplicate-content        same body as another page (the shortest id stays);
  duplicate-description    same description, compared case-insensitively, as
                           another page (the shortest id stays; the others
                           leave the corpus, so every query has one relevant
                           document and no near-copy competes with it);
  over-package-cap         beyond --max-per-package pages of one Debian
                           package (a sample by --seed; default 500 for en:
                           one generated reference, google-cloud-cli with
                           16.6k pages, must not make up most of the set; no
                           cap for zh, where manpages-zh is the corpus);
  over-max-docs            beyond --max-docs (a sample by --seed).
Words are whitespace-separated tokens with a letter or digit, except that every
Han or Kana character counts as one word.

The split is a hash of the query id (SHA-256, first byte even: dev, odd: test),
so a query stays in its split whatever else is installed. Output files are
sorted by id: the same installed pages and options give the same corpus,
queries and qrels. Standard library only; needs groff (Debian: groff-base).
"""

import argparse
import bz2
import collections
import concurrent.futures
import datetime
import fnmatch
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys

MAN_ROOT = "/usr/share/man"
LANG_DIRS = {"en": "", "zh": "zh_CN"}
DEFAULT_SECTIONS = "1,2,3,4,5,6,7,8"
DPKG_INFO = "/var/lib/dpkg/info"
# English: no package more than 500 pages (google-cloud-cli alone has 16.6k);
# Chinese: none, nearly every page comes from the one translation package.
DEFAULT_MAX_PER_PACKAGE = {"en": 500, "zh": 0}
ZH_PACKAGE = "manpages-zh"
RENDER_WIDTH = 80
MIN_BODY_WORDS = 50
LONG_DOC_WORDS = 512
MIN_DESCRIPTION_WORDS = 3
MIN_DESCRIPTION_CHARS_ZH = 4

# The NAME heading once brackets and spaces are gone: manpages-zh writes "名称",
# "NAME(名称)", "NAME [名字]", "名称 (NAME)", ...
NAME_HEADING = re.compile(r"(?:NAMES?|名称|名字|名稱|命令名)+")

# Han (CJK unified ideographs and extensions, compatibility ideographs) and Kana.
CJK_CLASS = ("\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
             "\U00020000-\U0002fa1f")
CJK_CHAR = re.compile("[" + CJK_CLASS + "]")
CJK_SPACE = re.compile("(?<=[" + CJK_CLASS + "]) (?=[" + CJK_CLASS + "])")
WORD_PIECE = re.compile("[" + CJK_CLASS + "]|[^\\s" + CJK_CLASS + "]+")
HAS_WORD_CHAR = re.compile(r"\w")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
OVERSTRIKE = re.compile(r".\x08")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# "names - description": the first dash (ASCII or typographic, one or two)
# with a space on each side; else, in Chinese pages, a dash with a space on
# one side ("write -在", "perldata- Perl"), then a full-width dash or colon.
DASHES = "-\u2010-\u2015\u2212\uff0d"
NAME_SEPARATORS = {
    "en": [re.compile(r"\s[%s]{1,2}\s" % DASHES)],
    "zh": [re.compile(r"\s[%s]{1,2}\s" % DASHES),
           re.compile(r"\s[%s]{1,2}|[%s]{1,2}\s" % (DASHES, DASHES)),
           re.compile(r"\s?(?:[\uff0d\u2014]{1,2}|[:\uff1a])\s?")],
}
COMPRESSION = (".gz", ".xz", ".bz2", ".lzma")
LEGACY_ENCODING = {"en": "latin-1", "zh": "gb18030"}
# `'\" te` on a page's first line names its preprocessors (man(1), -p).
PREPROCESSOR_LINE = re.compile(r"""^['.]\\" ([a-z]+)\s*$""")
PREPROCESSOR_FLAGS = {"e": "-e", "p": "-p", "r": "-R"}
NO_HYPHENATION_NO_ADJUST = b".nh\n.de hy\n..\n.na\n.de ad\n..\n"


def count_words(text):
    """Whitespace-separated tokens holding a letter or digit; each Han or Kana
    character is a word of its own."""
    return sum(1 for piece in WORD_PIECE.findall(text) if HAS_WORD_CHAR.search(piece))


def split_for(query_id):
    """'dev' or 'test', from the first byte of SHA-256(query id)."""
    return "dev" if hashlib.sha256(query_id.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def page_stem(filename):
    """'ls.1.gz' -> 'ls.1'."""
    for ext in COMPRESSION:
        if filename.endswith(ext):
            return filename[:-len(ext)]
    return filename


def page_title(stem):
    """'ls.1' -> 'ls(1)', 'File::Basename.3perl' -> 'File::Basename(3perl)'."""
    name, dot, section = stem.rpartition(".")
    return "%s(%s)" % (name, section) if dot and name else stem


def read_source(path):
    """The page's roff source, decompressed (None when it cannot be read)."""
    openers = {".gz": gzip.open, ".xz": lzma.open, ".lzma": lzma.open, ".bz2": bz2.open}
    opener = next((fn for ext, fn in openers.items() if path.endswith(ext)), open)
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, lzma.LZMAError):
        return None


def is_so_redirect(source):
    """True when the only request of the page is `.so other/page`."""
    lines = [line.strip() for line in source.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines
             if line and not line.startswith(('.\\"', "'\\\"", '\\"')) and line != "."]
    return len(lines) == 1 and lines[0].startswith(".so ")


def roff_command(source):
    """The groff command line for a page: what man-db runs (tbl always, eqn,
    pic and refer when the page's first line asks for them, mandoc macros),
    for UTF-8 output at width 80 (-rLL=78n, as man-db for MANWIDTH=80) with
    grotty's bold, underline and overstrike off."""
    command = ["groff", "-mandoc", "-Tutf8", "-k", "-Kutf-8", "-t"]
    first = source.split(b"\n", 1)[0].decode("latin-1")
    match = PREPROCESSOR_LINE.match(first)
    if match:
        command += [flag for letter, flag in PREPROCESSOR_FLAGS.items() if letter in match.group(1)]
    return command + ["-rLL=%dn" % (RENDER_WIDTH - 2), "-rLT=%dn" % (RENDER_WIDTH - 2), "-P-cbou"]


def render(path, lang):
    """(ok, text, error): the page as plain UTF-8 text.

    The source goes to groff directly, not through `man -l`: the same
    formatting in a fifth of the time, and without man-db's Chinese line
    breaking, which splits words (two Han characters) across lines. Like
    man-db, a source that is not UTF-8 is read in the language's legacy
    encoding. --nh / --nj as man-db does them: hyphenation and adjustment off,
    and the requests that would turn them back on made into no-ops.
    """
    source = read_source(path)
    if source is None:
        return False, "", "cannot read"
    try:
        source.decode("utf-8")
    except UnicodeDecodeError:
        source = source.decode(LEGACY_ENCODING[lang], "replace").encode("utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8",
           "GROFF_NO_SGR": "1"}
    try:
        done = subprocess.run(roff_command(source), input=NO_HYPHENATION_NO_ADJUST + source,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return False, "", "timed out"
    text = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0 or not text.strip():
        error = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return False, "", "exit %d: %s" % (done.returncode, error[-1] if error else "no output")
    return True, clean(text), ""


def clean(text):
    """Drops terminal escapes, overstrike (`X\\bX`, `_\\bX`) and control
    characters (C0 other than newline and tab, C1)."""
    text = ANSI_ESCAPE.sub("", text)
    while "\x08" in text:
        stripped = OVERSTRIKE.sub("", text)
        if stripped == text:
            text = text.replace("\x08", "")
            break
        text = stripped
    return CONTROL.sub("", text)


def parse_page(text):
    """Splits a rendered page into (name line, body) or returns None.

    Section headings start in column 0 and hold a letter (Tcl pages draw a
    rule of underscores above NAME), and so do man's header and footer lines
    ("LS(1)  User Commands  LS(1)"; some mdoc pages have neither). The NAME
    section runs from its heading, the first or second such line, to the next
    heading; whatever is above it is the header. The body is what follows,
    without a footer (a last line in column 0), each line stripped and runs of
    blank lines reduced to one.
    """
    lines = [line.rstrip() for line in text.split("\n")]
    headings = [i for i, line in enumerate(lines)
                if line and not line[0].isspace() and HAS_WORD_CHAR.search(line.replace("_", ""))]
    start = next((i for i in headings[:2] if NAME_HEADING.fullmatch(re.sub(r"\W", "", lines[i]))),
                 None)
    if start is None:
        return None
    end = next((i for i in headings if i > start), len(lines))
    name_line = join_cjk(" ".join(" ".join(lines[start + 1:end]).split()))
    rest = lines[end:]
    while rest and not rest[-1]:
        rest.pop()
    if rest and not rest[-1][0].isspace():
        rest.pop()
    body_lines = []
    for line in join_cjk_lines(rest):
        line = line.strip()
        if line or (body_lines and body_lines[-1]):
            body_lines.append(line)
    return name_line, "\n".join(body_lines).strip()


def join_cjk(text):
    """Drops a space between two Han or Kana characters: Chinese has no spaces
    between words, and groff turns each line break of the source into one."""
    return CJK_SPACE.sub("", text)


def join_cjk_lines(lines):
    """Joins a line ending in a Han or Kana character to the next line of the
    same paragraph (same indentation) when that one starts with one too, and
    drops spaces between such characters (join_cjk), so a word is never split."""
    joined = []
    for line in lines:
        if joined and joined[-1] and line and CJK_CHAR.fullmatch(joined[-1][-1]):
            indent = len(line) - len(line.lstrip())
            previous = joined[-1]
            if (indent == len(previous) - len(previous.lstrip()) and indent > 0 and
                    CJK_CHAR.fullmatch(line[indent])):
                joined[-1] = previous + line[indent:]
                continue
        joined.append(line)
    return [join_cjk(line) for line in joined]


def split_name_line(name_line, lang):
    """'ls - list directory contents' -> ('ls', 'list directory contents')."""
    match = next(filter(None, (sep.search(name_line) for sep in NAME_SEPARATORS[lang])), None)
    if not match or match.start() == 0:
        return None
    names = name_line[:match.start()].strip()
    description = name_line[match.end():].strip()
    if not names or not description:
        return None
    return names, description


def description_key(description):
    """Descriptions compared for duplicates: case-folded, spaces collapsed,
    trailing full stops dropped."""
    return " ".join(description.casefold().split()).rstrip(".。 ")


def description_too_short(description, lang):
    if lang == "zh":
        return len(re.findall(r"\w", description)) < MIN_DESCRIPTION_CHARS_ZH
    return len(description.split()) < MIN_DESCRIPTION_WORDS


def list_pages(root, lang, sections, excludes, dropped):
    """[(id, path)] of the candidate pages, sorted by id; counts what it skips."""
    base = os.path.join(root, LANG_DIRS[lang]) if LANG_DIRS[lang] else root
    pages = {}
    for section in sections:
        directory = os.path.join(base, "man" + section)
        if not os.path.isdir(directory):
            continue
        for filename in sorted(os.listdir(directory)):
            path = os.path.join(directory, filename)
            stem = page_stem(filename)
            if os.path.islink(path):
                dropped["symlink"] += 1
                continue
            if not os.path.isfile(path):
                continue
            if any(fnmatch.fnmatchcase(stem, glob) for glob in excludes):
                dropped["excluded"] += 1
                continue
            source = read_source(path)
            if source is None:
                dropped["unreadable"] += 1
                continue
            if is_so_redirect(source):
                dropped["so-redirect"] += 1
                continue
            page_id = stem if stem not in pages else "man%s/%s" % (section, stem)
            pages[page_id] = path
    return sorted(pages.items())


def examine(page_id, path, lang):
    """Renders one page: see page_fields()."""
    ok, text, error = render(path, lang)
    if not ok:
        return {"id": page_id, "drop": "render-failed", "error": error}
    page = page_fields(page_id, text, lang)
    page["path"] = path
    return page


def page_fields(page_id, text, lang):
    """A rendered page's fields (id, names, description, body, words, title),
    or {"id", "drop": reason} when a rule drops it."""
    parsed = parse_page(text)
    split = split_name_line(parsed[0], lang) if parsed else None
    if not split:
        return {"id": page_id, "drop": "no-name-section"}
    names, description = split
    body = parsed[1]
    if lang == "zh" and not CJK_CHAR.search(description):
        return {"id": page_id, "drop": "name-not-chinese"}
    if description_too_short(description, lang):
        return {"id": page_id, "drop": "short-description"}
    words = count_words(body)
    if words < MIN_BODY_WORDS:
        return {"id": page_id, "drop": "short-body"}
    return {"id": page_id, "names": names, "description": description, "body": body,
            "words": words, "title": page_title(page_id.rpartition("/")[2])}


def preference(page):
    """Which page of a duplicate group stays: the shortest id, then the first."""
    return (len(page["id"]), page["id"])


def deduplicate(pages, dropped):
    """Drops duplicate bodies, then duplicate descriptions; returns the rest."""
    kept = []
    for reason, key in (("duplicate-content", lambda p: p["body"]),
                        ("duplicate-description", lambda p: description_key(p["description"]))):
        seen = set()
        kept = []
        for page in sorted(pages, key=preference):
            k = key(page)
            if k in seen:
                dropped[reason] += 1
                continue
            seen.add(k)
            kept.append(page)
        pages = kept
    return sorted(kept, key=lambda p: p["id"])


def sample_key(seed, page_id):
    """The order in which sampling takes pages (a hash, so adding a page does
    not reshuffle the others)."""
    return hashlib.sha256(("%d:%s" % (seed, page_id)).encode("utf-8")).digest()


def package_owners(info_dir):
    """{path: Debian package} for the manual pages dpkg knows of (from
    INFO_DIR/*.list); {} when there is no dpkg database."""
    owners = {}
    if not os.path.isdir(info_dir):
        return owners
    for name in sorted(os.listdir(info_dir)):
        if not name.endswith(".list"):
            continue
        package = name[:-len(".list")].split(":")[0]
        with open(os.path.join(info_dir, name), encoding="utf-8", errors="replace") as f:
            for line in f:
                if "/man/" in line:
                    owners[line.rstrip("\n")] = package
    return owners


class Renderer:
    """Renders and examines pages `jobs` at a time, reporting progress."""

    def __init__(self, lang, jobs, total):
        self.lang = lang
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
        self.total = total
        self.done = 0
        self.failures = []

    def examine(self, candidates):
        results = []
        for start in range(0, len(candidates), 256):
            chunk = candidates[start:start + 256]
            for page in self.pool.map(lambda c: examine(c[0], c[1], self.lang), chunk):
                if page.get("drop") == "render-failed":
                    self.failures.append("%s: %s" % (page["id"], page["error"]))
                results.append(page)
            self.done += len(chunk)
            print("make_manpage_set: rendered %d of at most %d pages" % (self.done, self.total),
                  file=sys.stderr, flush=True)
        return results

    def close(self):
        self.pool.shutdown()


def select_pages(candidates, owners, args, dropped, renderer):
    """Renders the candidates and applies the rules, the per-package cap and
    --max-docs; returns the kept pages sorted by id.

    A package over the cap is rendered in sample order, `cap` pages at a
    time, only until `cap` of its pages pass the rules (google-cloud-cli has
    16.6k pages; rendering them all would take most of the time).
    """
    by_package = {}
    for page_id, path in candidates:
        by_package.setdefault(owners.get(path), []).append((page_id, path))
    cap = args.max_per_package
    capped = {package: sorted(items, key=lambda item: sample_key(args.seed, item[0]))
              for package, items in by_package.items()
              if package is not None and cap and len(items) > cap}
    results = renderer.examine([c for c in candidates if owners.get(c[1]) not in capped])
    for package, items in sorted(capped.items()):
        taken = 0
        rendered = []
        while taken < len(items):
            rendered += renderer.examine(items[taken:taken + cap])
            taken += min(cap, len(items) - taken)
            passing = [page for page in rendered if "drop" not in page]
            if len(deduplicate(passing, collections.Counter())) >= cap:
                break
        dropped["over-package-cap"] += len(items) - taken
        results += rendered
    pages = []
    for page in results:
        if "drop" in page:
            dropped[page["drop"]] += 1
        else:
            pages.append(page)
    pages = deduplicate(pages, dropped)
    if capped:
        kept = []
        count = collections.Counter()
        for page in sorted(pages, key=lambda p: sample_key(args.seed, p["id"])):
            package = owners.get(page["path"])
            if package in capped and count[package] >= cap:
                dropped["over-package-cap"] += 1
                continue
            count[package] += 1
            kept.append(page)
        pages = kept
    if args.max_docs and len(pages) > args.max_docs:
        pages.sort(key=lambda p: sample_key(args.seed, p["id"]))
        dropped["over-max-docs"] += len(pages) - args.max_docs
        pages = pages[:args.max_docs]
    return sorted(pages, key=lambda p: p["id"]), sorted(capped)


def ensure_zh_pages(root):
    """Makes sure manpages-zh is installed: installs it with apt-get when run
    as root, else exits saying what to run."""
    marker = os.path.join(root, "zh_CN", "man1")
    installed = False
    if shutil.which("dpkg-query"):
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", ZH_PACKAGE],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
        installed = status.stdout.decode().endswith("installed")
    elif os.path.isdir(marker) and len(os.listdir(marker)) > 100:
        installed = True
    if installed:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("make_manpage_set: installing %s (Chinese manual pages) with apt-get" % ZH_PACKAGE,
              file=sys.stderr)
        done = subprocess.run(["apt-get", "install", "-y", ZH_PACKAGE], check=False,
                              env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if done.returncode != 0:
            sys.exit("make_manpage_set: `apt-get install -y %s` failed (exit %d); run "
                     "`apt-get update` and try again" % (ZH_PACKAGE, done.returncode))
        return
    sys.exit("make_manpage_set: the Chinese pages come from Debian's %s package, which is not "
             "installed; run `sudo apt-get install -y %s` (or run this script as root, which "
             "installs it) and try again" % (ZH_PACKAGE, ZH_PACKAGE))


def tool_versions():
    """groff's version, and manpages-zh's when dpkg knows it."""
    versions = {}
    done = subprocess.run(["groff", "--version"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False)
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    versions["groff"] = lines[0].strip() if lines else "unknown"
    if shutil.which("dpkg-query"):
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", ZH_PACKAGE],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
        if done.returncode == 0 and done.stdout:
            versions[ZH_PACKAGE] = done.stdout.decode().strip()
    return versions


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_set(out, pages, manifest):
    os.makedirs(os.path.join(out, "qrels"), exist_ok=True)
    write_jsonl(os.path.join(out, "corpus.jsonl"),
                ({"_id": p["id"], "title": p["title"], "text": p["body"]} for p in pages))
    write_jsonl(os.path.join(out, "queries.jsonl"),
                ({"_id": "q:" + p["id"], "text": p["description"]} for p in pages))
    for split in ("dev", "test"):
        with open(os.path.join(out, "qrels", split + ".tsv"), "w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for p in pages:
                if split_for("q:" + p["id"]) == split:
                    f.write("q:%s\t%s\t1\n" % (p["id"], p["id"]))
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme_text(manifest))


def readme_text(m):
    c = m["counts"]
    lines = [
        "# Manual-page retrieval set (%s)" % m["lang"],
        "",
        "Built %s by `tools/eval/make_manpage_set.py` (flashembed) from the manual pages in" %
        m["created"],
        "`%s` (sections %s), rendered with %s." %
        (m["source"], ",".join(m["sections"]), m["tools"].get("groff")),
        "Command: `%s`." % m["command"],
        "",
        "- `corpus.jsonl`: %d pages (`_id` = page file name without compression, `title` = "
        "`name(section)`, `text` = the rendered page without its NAME section)." % c["documents"],
        "- `queries.jsonl`: %d queries, the one-line descriptions of the NAME sections "
        "(`_id` = `q:` + page id)." % c["queries"],
        "- `qrels/dev.tsv` (%d queries, for choosing settings) and `qrels/test.tsv` (%d, held "
        "out): each query's own page, score 1." % (c["dev"], c["test"]),
        "",
        "Documents: %d words on average, median %d; %.1f %% longer than %d words." %
        (m["words"]["mean"], m["words"]["median"], 100 * m["words"]["long_share"],
         LONG_DOC_WORDS),
        "",
        "Pages considered: %d; kept %d; dropped:" % (c["files"], c["documents"]),
        "",
    ]
    for reason, n in m["dropped"].items():
        lines.append("- %s: %d" % (reason, n))
    lines += ["", "The rules are in `tools/eval/README.md` of the flashembed repository.", ""]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=sorted(LANG_DIRS), required=True)
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--max-docs", type=int, default=0,
                        help="keep at most N pages, a sample chosen by --seed (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed for --max-docs")
    parser.add_argument("--sections", default=DEFAULT_SECTIONS,
                        help="manual sections to read (default %s)" % DEFAULT_SECTIONS)
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="leave out pages whose id (e.g. gcloud_alpha_*) matches; repeatable")
    parser.add_argument("--jobs", type=int, default=2, help="pages rendered at once (default 2)")
    parser.add_argument("--max-per-package", type=int,
                        help="keep at most N pages of one Debian package, a sample chosen by "
                        "--seed; 0: no limit (default: %s)" %
                        ", ".join("%d for %s" % (n, lang)
                                  for lang, n in sorted(DEFAULT_MAX_PER_PACKAGE.items())))
    parser.add_argument("--man-root", default=MAN_ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--dpkg-info", default=DPKG_INFO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.max_per_package is None:
        args.max_per_package = DEFAULT_MAX_PER_PACKAGE[args.lang]
    if args.max_docs < 0 or args.max_per_package < 0 or args.jobs < 1:
        parser.error("--max-docs and --max-per-package must be >= 0, --jobs >= 1")
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    return args


def main(argv):
    args = parse_args(argv)
    if not shutil.which("groff"):
        sys.exit("make_manpage_set: needs groff (Debian: apt-get install groff-base)")
    if args.lang == "zh" and args.man_root == MAN_ROOT:
        ensure_zh_pages(args.man_root)
    dropped = collections.Counter()
    candidates = list_pages(args.man_root, args.lang, args.sections, args.exclude, dropped)
    files = len(candidates) + sum(dropped.values())
    if not candidates:
        sys.exit("make_manpage_set: no manual pages found under %s for --lang %s" %
                 (args.man_root, args.lang))
    owners = package_owners(args.dpkg_info)
    renderer = Renderer(args.lang, args.jobs, len(candidates))
    try:
        pages, capped = select_pages(candidates, owners, args, dropped, renderer)
    finally:
        renderer.close()
    if not pages:
        sys.exit("make_manpage_set: every page was dropped (%s)" % dict(dropped))

    words = sorted(p["words"] for p in pages)
    dev = sum(1 for p in pages if split_for("q:" + p["id"]) == "dev")
    packages = collections.Counter(owners.get(p["path"], "(unknown)") for p in pages)
    manifest = {
        "lang": args.lang,
        "source": os.path.normpath(os.path.join(args.man_root, LANG_DIRS[args.lang])),
        "sections": args.sections,
        "exclude": args.exclude,
        "max_per_package": args.max_per_package,
        "capped_packages": capped,
        "max_docs": args.max_docs,
        "seed": args.seed,
        "created": datetime.date.today().isoformat(),
        "command": " ".join(["make_manpage_set.py"] + argv),
        "render": " ".join(["LC_ALL=C.UTF-8"] + roff_command(b"")) + " (tbl always; eqn, pic, "
                  "refer when the page asks; .nh/.na first)",
        "tools": tool_versions(),
        "counts": {"files": files, "documents": len(pages), "queries": len(pages), "dev": dev,
                   "test": len(pages) - dev},
        "dropped": dict(dropped),
        "words": {
            "mean": round(sum(words) / len(words), 1),
            "median": words[len(words) // 2],
            "long_threshold": LONG_DOC_WORDS,
            "long_share": round(sum(1 for w in words if w > LONG_DOC_WORDS) / len(words), 4),
        },
        "packages": dict(packages.most_common(15)),
        "render_failures": renderer.failures[:50],
    }
    write_set(args.out, pages, manifest)
    print("make_manpage_set: %d documents and queries (dev %d, test %d) in %s; %.1f %% longer "
          "than %d words; dropped %s" %
          (len(pages), dev, len(pages) - dev, args.out, 100 * manifest["words"]["long_share"],
           LONG_DOC_WORDS, json.dumps(manifest["dropped"])), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
