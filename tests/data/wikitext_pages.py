#!/usr/bin/env python3
"""Writes wikitext_pages.tsv, the reference for tests/test_eval_tasks.cpp: for each page of the
WikiText-2 test set as lm-evaluation-harness's `wikitext` task sees it, its word count, byte count
(both of the page before detokenizing) and the 64-bit FNV-1a hash of the detokenized page's bytes.

Run: python3 tests/data/wikitext_pages.py ../shared/data/eval/wikitext/wiki.test.raw > tests/data/wikitext_pages.tsv

Written from the harness's definitions with Python's own `re`, independently of the C++ code:
pages as the EleutherAI/wikitext_document_level dataset script cuts them, the detokenizer of
lm_eval/tasks/wikitext/preprocess_wikitext.py, counts as its process_results. The shared copy of
the file has CRLF line ends and emptied blank lines; the original (LF, blank lines " ") is restored first.
"""
import re
import sys


def restore(copy):
    lines = copy.split("\n")
    out = []
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
        out.append(" " if line == "" and i + 1 < len(lines) else line)
    return "\n".join(out)


def pages(raw):
    ret = []
    for line in raw.split("\n"):
        rline = line.replace("= = =", "===").replace("= =", "==").strip()
        if rline.startswith("= ") and rline.strip().endswith(" ="):
            page = "\n".join(ret)
            if page.strip():
                yield page
            ret = []
        ret.append(line)
    yield "\n".join(ret)


def detokenize(string):
    string = string.replace("s '", "s'")
    string = re.sub(r"/' [0-9]/", r"/'[0-9]/", string)
    string = string.replace(" @-@ ", "-")
    string = string.replace(" @,@ ", ",")
    string = string.replace(" @.@ ", ".")
    string = string.replace(" : ", ": ")
    string = string.replace(" ; ", "; ")
    string = string.replace(" . ", ". ")
    string = string.replace(" ! ", "! ")
    string = string.replace(" ? ", "? ")
    string = string.replace(" , ", ", ")
    string = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", string)
    string = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", string)
    string = re.sub(r"{\s*([^}]*?)\s*}", r"{\1}", string)
    string = re.sub(r"\"\s*([^\"]*?)\s*\"", r'"\1"', string)
    string = re.sub(r"'\s*([^']*?)\s*'", r"'\1'", string)
    string = string.replace("= = = =", "====")
    string = string.replace("= = =", "===")
    string = string.replace("= =", "==")
    string = string.replace(" " + chr(176) + " ", chr(176))
    string = string.replace(" \n", "\n")
    string = string.replace("\n ", "\n")
    string = string.replace(" N ", " 1 ")
    string = string.replace(" 's", "'s")
    return string


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


raw = restore(open(sys.argv[1], encoding="utf-8", newline="").read())
for page in pages(raw):
    words = len(re.split(r"\s+", page))
    print(f"{words}\t{len(page.encode('utf-8'))}\t{fnv1a64(detokenize(page).encode('utf-8')):016x}")
