#!/usr/bin/env python3
"""Renders the template fixtures (tests/data/chat_templates.json, jinja_semantics.json) with Python's jinja2, set up
as transformers sets it up for apply_chat_template (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loop controls, raise_exception, transformers' tojson), and checks that every case
gives the text (or the raised message) the fixture expects: the expectations are checked by an
implementation other than mmfree's. Exit 77 (skipped) when jinja2 is not installed
(Debian: python3-jinja2)."""
import json
import sys

try:
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("check_with_jinja2: skipped: python3-jinja2 is not installed")
    sys.exit(77)


class Raised(Exception):
    pass


def raise_exception(message):
    raise Raised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def cases(path):
    """(name, template text, variables, expected) of each case of a fixture file."""
    fixture = json.load(open(path, encoding="utf-8"))
    for i, case in enumerate(fixture["cases"]):
        if "templates" in fixture:  # chat_templates.json: named templates, chat variables
            variables = dict(case.get("extra", {}), messages=case["messages"], bos_token=case["bos_token"],
                             eos_token=case["eos_token"], add_generation_prompt=case["add_generation_prompt"])
            want = ("expected", case["expected"]) if "expected" in case else ("raised", case["raised"])
            yield case["template"] + "/" + case["name"], fixture["templates"][case["template"]], variables, want
        else:
            yield f"{path}#{i}", case["template"], case["variables"], ("expected", case["expected"])


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    total = failed = 0
    for path in sys.argv[1:]:
        for name, template, variables, want in cases(path):
            total += 1
            try:
                got = ("expected", env.from_string(template).render(**variables))
            except Raised as e:
                got = ("raised", str(e))
            if got != want:
                failed += 1
                print(f"FAIL {name}\n  jinja2:  {got!r}\n  fixture: {want!r}")
    print(f"check_with_jinja2: {total - failed} of {total} cases agree with jinja2 {__import__('jinja2').__version__}")
    return 1 if failed or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
