#!/usr/bin/env python3
"""Fails when a source file or a function outgrows what reads in one sitting.

Limits (the project's standard): a .cc file of product code at most FILE_LIMIT lines, a
function at most FUNCTION_LIMIT lines from its signature to its closing brace. Functions
are found the way clang-format lays them out: a definition starts at column 0 and ends at
the first `}` in column 0 after it. Unit tests are exempt (a test file
and a test body are lists of cases); fuzz targets and benchmarks only from the file limit.
"""
import re
import subprocess
import sys

FILE_LIMIT = 520
FUNCTION_LIMIT = 80
START = re.compile(r"^(?!namespace|struct|class|enum|union|extern|static_assert|#|//|\}|template <)"
                   r"[A-Za-z_~].*\(")
CONTROL = re.compile(r"^(if|for|while|switch|do|else|return|case|co_return|co_await)\b")


def definition_end(lines, i, indent):
    """The index of the closing brace of a definition starting at line i, or None."""
    j = i
    # the signature may wrap; the body opens with a `{` ending a line
    while j < len(lines) and j - i < 8:
        text = lines[j].rstrip()
        if text.endswith(";") or text.endswith("= {"):
            return None
        if text.endswith("}") and "{" in text:  # a one-line body
            return j
        if text.endswith("{"):
            break
        j += 1
    else:
        return None
    close = indent + "}"
    k = j + 1
    while k < len(lines) and not (lines[k].startswith(close) and
                                  not lines[k].startswith(close + " else")):
        k += 1
    return k


def functions(lines):
    """(signature line, first line number, length) of each definition: at column 0, and
    member functions defined inside a class or struct at column 0 (indented two)."""
    i = 0
    in_class = False
    while i < len(lines):
        line = lines[i]
        if re.match(r"^(class|struct) .*\{$", line):
            in_class = True
        elif line.startswith("};"):
            in_class = False
        indent = None
        if START.match(line):
            indent = ""
        elif in_class and line.startswith("  ") and not line.startswith("   ") and \
                START.match(line[2:]) and not CONTROL.match(line[2:]):
            indent = "  "
        if indent is not None:
            end = definition_end(lines, i, indent)
            if end is not None:
                yield line.strip(), i + 1, end - i + 1
                i = end + 1
                continue
        i += 1


def main() -> int:
    files = subprocess.run(["git", "ls-files", "*.cc"], capture_output=True, text=True,
                           check=True).stdout.split()
    problems = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        exempt_file = path.startswith(("tests/", "bench/"))
        if not exempt_file and len(lines) > FILE_LIMIT:
            problems.append(f"{path}: {len(lines)} lines (limit {FILE_LIMIT})")
        if path.startswith("tests/unit/"):
            continue  # test bodies and parameter lists are tables of cases
        for name, line, length in functions(lines):
            if length > FUNCTION_LIMIT:
                problems.append(f"{path}:{line}: {length} lines (limit {FUNCTION_LIMIT}): {name}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
