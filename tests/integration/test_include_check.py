"""The room graph check (scripts/check-includes.py) passes on this tree and can fail.

The check is what enforces docs/ARCHITECTURE.md's room order, so it is tested like a rule: on a
scratch tree made for each case, every kind of violation it exists for (an include across rooms
with no declared edge, a declared edge nothing uses, an edge pointing up the order, an include of
a missing file, a folder that is no room) must fail it with a line naming the file or edge, and
the same tree without the violation must pass. Only python3 is needed (no recserve binary).
"""
import os
import pathlib
import subprocess
import sys
import unittest

from recserve_testing import SOURCE_DIR, temp_dir

SCRIPT = os.path.join(SOURCE_DIR, "scripts", "check-includes.py")

CLEAN_CMAKE = """
recserve_room(core)
recserve_room(models core)
recserve_room(engine core models)
"""

CLEAN_FILES = {
    "src/core/status.h": "#pragma once\n",
    "src/models/model.h": '#pragma once\n#include "core/status.h"\n',
    "src/engine/recommender.cpp": '#include "core/status.h"\n#include "models/model.h"\n',
    "src/app/main.cpp": '#include "engine/recommender.h"\n#include "models/model.h"\n',
    "src/engine/recommender.h": '#pragma once\n#include "engine/local.h"\n',
    "src/engine/local.h": "#pragma once\n#include <vector>\n",
}


def make_tree(root, cmake=CLEAN_CMAKE, files=None):
    pathlib.Path(root, "CMakeLists.txt").write_text(cmake)
    for rel, text in (files if files is not None else CLEAN_FILES).items():
        path = pathlib.Path(root, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run_check(root):
    return subprocess.run([sys.executable, SCRIPT, "--root", root], capture_output=True,
                          text=True, timeout=60)


class IncludeCheckTest(unittest.TestCase):
    def test_this_tree_follows_its_room_graph(self):
        result = run_check(SOURCE_DIR)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_a_clean_scratch_tree_passes(self):
        with temp_dir() as root:
            make_tree(root)
            result = run_check(root)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def assert_fails_naming(self, cmake, files, needle):
        with temp_dir() as root:
            make_tree(root, cmake, files)
            result = run_check(root)
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertIn(needle, result.stdout)

    def test_an_include_with_no_declared_edge_fails(self):
        files = dict(CLEAN_FILES)
        files["src/models/model.cpp"] = '#include "engine/local.h"\n'
        self.assert_fails_naming(CLEAN_CMAKE, files, "src/models/model.cpp:1: room 'models' includes engine/local.h")

    def test_a_header_only_include_across_rooms_fails(self):
        # The case the compiler cannot catch: models includes a sibling room's header only.
        cmake = CLEAN_CMAKE.replace("recserve_room(models core)", "recserve_room(models core)\nrecserve_room(store core)")
        files = dict(CLEAN_FILES)
        files["src/store/cache.h"] = "#pragma once\n"
        files["src/store/cache.cpp"] = '#include "core/status.h"\n'
        files["src/models/model.h"] = '#pragma once\n#include "core/status.h"\n#include "store/cache.h"\n'
        self.assert_fails_naming(cmake, files, "room 'models' includes store/cache.h")

    def test_an_unused_declared_edge_fails(self):
        cmake = CLEAN_CMAKE.replace("recserve_room(models core)", "recserve_room(models)")
        cmake = cmake.replace("recserve_room(engine core models)", "recserve_room(engine core models)\nrecserve_room(http core engine)")
        files = dict(CLEAN_FILES)
        files["src/models/model.h"] = "#pragma once\n"
        files["src/http/server.cpp"] = '#include "engine/recommender.h"\n'
        self.assert_fails_naming(cmake, files, "room 'http' declares a dependency on 'core' that no file")

    def test_an_edge_up_the_order_fails(self):
        cmake = "recserve_room(core models)\nrecserve_room(models core)\nrecserve_room(engine core models)\n"
        files = dict(CLEAN_FILES)
        files["src/core/status.h"] = '#pragma once\n#include "models/model.h"\n'
        self.assert_fails_naming(cmake, files, "room 'core' depends on 'models', declared after it")

    def test_an_include_of_a_missing_file_fails(self):
        files = dict(CLEAN_FILES)
        files["src/engine/recommender.cpp"] += '#include "models/gone.h"\n'
        self.assert_fails_naming(CLEAN_CMAKE, files, "includes missing file models/gone.h")

    def test_a_folder_that_is_no_room_fails(self):
        files = dict(CLEAN_FILES)
        files["src/extra/thing.h"] = "#pragma once\n"
        self.assert_fails_naming(CLEAN_CMAKE, files, "src/extra: folder is not a declared room")

    def test_a_room_including_app_fails(self):
        files = dict(CLEAN_FILES)
        files["src/app/commands.h"] = "#pragma once\n"
        files["src/engine/recommender.cpp"] += '#include "app/commands.h"\n'
        self.assert_fails_naming(CLEAN_CMAKE, files, "room 'engine' includes app/commands.h")


if __name__ == "__main__":
    unittest.main()
