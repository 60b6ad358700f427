#!/usr/bin/env python3
"""The room graph, checked: every project include in src/ must follow a declared edge.

The rooms and the rooms each may depend on are declared once, in CMakeLists.txt, as
`recserve_room(NAME DEP...)` (the same declaration CMake links by). For every file in src/<room>/
this check reads each `#include "<other>/..."` and fails when:
  - <other> is not the room itself and not one of its declared dependencies (an edge that the
    graph does not allow: a header-only include across rooms compiles, since every room sees
    all of src/ on its include path, so the compiler cannot catch it);
  - a declared dependency is never included by any file of the room (an unused edge: it widens
    what the room may reach without need);
  - the declared graph has a cycle, or a room depends on a room declared after it (the order in
    CMakeLists.txt is the layering, lowest first);
  - an include names a file that does not exist under src/.
`src/app` (the binary's subcommands) may include every room and is not declared as a room.

Usage: scripts/check-includes.py [--root DIR]   (exit 0 clean, 1 with one line per violation)
"""

import argparse
import pathlib
import re
import sys

ROOM_DECLARATION = re.compile(r"^\s*recserve_room\(\s*([a-z_]+)((?:\s+[a-z_]+)*)\s*\)", re.M)
PROJECT_INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"', re.M)
APP_ROOM = "app"


def declared_rooms(cmakelists: pathlib.Path):
    """[(room, [deps...])] in declaration order."""
    text = cmakelists.read_text()
    return [(m.group(1), m.group(2).split()) for m in ROOM_DECLARATION.finditer(text)]


def check(root: pathlib.Path):
    errors = []
    src = root / "src"
    rooms = declared_rooms(root / "CMakeLists.txt")
    if not rooms:
        return ["CMakeLists.txt: no recserve_room(...) declarations found"]
    order = {name: i for i, (name, _) in enumerate(rooms)}
    allowed = {name: set(deps) for name, deps in rooms}

    for name, deps in rooms:
        if not (src / name).is_dir():
            errors.append(f"CMakeLists.txt: room '{name}' has no folder src/{name}")
        for dep in deps:
            if dep not in order:
                errors.append(f"CMakeLists.txt: room '{name}' depends on undeclared room '{dep}'")
            elif order[dep] >= order[name]:
                errors.append(
                    f"CMakeLists.txt: room '{name}' depends on '{dep}', declared after it "
                    "(rooms are declared lowest first)")

    folders = {p.name for p in src.iterdir() if p.is_dir()}
    for folder in sorted(folders - set(order) - {APP_ROOM}):
        errors.append(f"src/{folder}: folder is not a declared room (add recserve_room to CMakeLists.txt)")

    used = {name: set() for name in order}
    for folder in sorted(folders):
        for path in sorted((src / folder).rglob("*")):
            if path.suffix not in (".h", ".cpp"):
                continue
            rel = path.relative_to(root)
            text = path.read_text(errors="replace")
            for m in PROJECT_INCLUDE.finditer(text):
                target_room, rest = m.group(1), m.group(2)
                line = text.count("\n", 0, m.start()) + 1
                if not (src / target_room / rest).is_file():
                    errors.append(f"{rel}:{line}: includes missing file {target_room}/{rest}")
                    continue
                if target_room == folder:
                    continue
                if folder == APP_ROOM:
                    continue
                if target_room == APP_ROOM:
                    errors.append(f"{rel}:{line}: room '{folder}' includes app/{rest} (nothing depends on app)")
                    continue
                if folder not in allowed:
                    continue  # reported above as an undeclared folder
                if target_room not in allowed[folder]:
                    errors.append(
                        f"{rel}:{line}: room '{folder}' includes {target_room}/{rest}, but "
                        f"'{target_room}' is not among its declared dependencies "
                        f"({', '.join(sorted(allowed[folder])) or 'none'})")
                else:
                    used[folder].add(target_room)

    for name, deps in rooms:
        for dep in deps:
            if dep in order and dep not in used[name]:
                errors.append(
                    f"CMakeLists.txt: room '{name}' declares a dependency on '{dep}' that no file "
                    f"in src/{name}/ includes (remove the edge)")
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=pathlib.Path(__file__).resolve().parent.parent,
                        type=pathlib.Path, help="checkout root (default: this script's repo)")
    args = parser.parse_args()
    errors = check(args.root)
    for e in errors:
        print(f"include-check: {e}")
    if errors:
        return 1
    rooms = declared_rooms(args.root / "CMakeLists.txt")
    print(f"include-check: {len(rooms)} rooms, every include follows a declared edge, no unused edge")
    return 0


if __name__ == "__main__":
    sys.exit(main())
