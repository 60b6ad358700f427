#!/usr/bin/env python3
"""Clang's thread-safety analysis over src/ (`make thread-safety-check`, part of `make test`).

Every src/**/*.cpp whose include closure inside src/ reaches core/thread_annotations.h is
compiled by clang++ with -fsyntax-only -Wthread-safety -Werror=thread-safety, so a member marked
GUARDED_BY(mu_) touched without holding mu_, or a function marked EXCLUSIVE_LOCKS_REQUIRED(mu_)
called without it, fails the check. A file that reaches no annotation has nothing to check and
is skipped (the build compiles with GCC, which ignores the attributes).

Flags: the defines and system include paths of the src/ entries in <build-dir>/compile_commands.json
(CMake writes it when it configures: `cmake -S . -B build`), so third-party headers parse as they
do in the build; the project include path is <root>/src, so a scratch copy of the tree is
checked against its own headers. Other warnings are not this check's business and stay off.

Exit status 0 when every file passes, 1 when one fails (clang's diagnostics printed, each naming
file:line), 2 when the check cannot run (no clang++, no compile_commands.json).
"""
import argparse
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ANNOTATIONS_HEADER = "core/thread_annotations.h"
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
CHECK_FLAGS = ["-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety"]


def quoted_includes(path):
    try:
        return INCLUDE_RE.findall(path.read_text(errors="replace"))
    except OSError:
        return []


def reaches_annotations(path, src_dir, memo):
    """True when `path` includes core/thread_annotations.h, directly or through src/ headers."""
    key = str(path)
    if key in memo:
        return memo[key]
    memo[key] = False  # cycle guard; #pragma once makes cycles harmless in the build
    found = False
    for include in quoted_includes(path):
        if include == ANNOTATIONS_HEADER:
            found = True
            break
        header = src_dir / include
        if header.is_file() and reaches_annotations(header, src_dir, memo):
            found = True
            break
    memo[key] = found
    return found


def build_flags(build_dir, src_dir):
    """Defines, system includes, language and OpenMP flags of the build's src/ entries."""
    database = pathlib.Path(build_dir, "compile_commands.json")
    if not database.is_file():
        sys.exit(f"check-thread-safety: {database} missing; configure first "
                 f"(cmake -S . -B {build_dir} -G Ninja)")
    flags = []
    for entry in json.loads(database.read_text()):
        if "/src/" not in entry["file"]:
            continue
        args = shlex.split(entry["command"])
        i = 1
        while i < len(args):
            arg = args[i]
            if arg == "-isystem" and i + 1 < len(args):
                option = [arg, args[i + 1]]
                i += 2
            else:
                option = [arg]
                i += 1
                if not (arg.startswith("-D") or arg.startswith("-std=") or arg == "-fopenmp"):
                    continue  # -I (ours, replaced below), -O, -W, -c, -o and the source file
            if not any(flags[j:j + len(option)] == option for j in range(len(flags))):
                flags += option
    return ["-I" + str(src_dir)] + flags


def check_file(compiler, flags, path):
    result = subprocess.run([compiler, *flags, *CHECK_FLAGS, str(path)], capture_output=True,
                            text=True)
    return path, result.returncode, result.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=".", help="tree whose src/ is checked (default: .)")
    parser.add_argument("--build-dir", default=None,
                        help="configured build with compile_commands.json (default: <root>/build)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("files", nargs="*", help="only these .cpp files (paths under --root)")
    args = parser.parse_args()

    root = pathlib.Path(args.root).resolve()
    src_dir = root / "src"
    compiler = shutil.which(os.environ.get("CLANGXX", "clang++"))
    if compiler is None:
        print("check-thread-safety: clang++ not found (set CLANGXX)", file=sys.stderr)
        return 2
    flags = build_flags(args.build_dir or root / "build", src_dir)

    candidates = ([root / f for f in args.files] if args.files
                  else sorted(src_dir.rglob("*.cpp")))
    memo = {}
    files = [f for f in candidates if reaches_annotations(f, src_dir, memo)]

    failed = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for path, code, stderr in pool.map(lambda f: check_file(compiler, flags, f), files):
            if code != 0:
                failed.append(path)
                sys.stdout.write(stderr)
    print(f"thread-safety: {len(files)} of {len(candidates)} files reach {ANNOTATIONS_HEADER}, "
          f"{len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
