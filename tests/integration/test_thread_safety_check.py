"""The thread-safety check (scripts/check-thread-safety.py) passes on this tree and can fail.

The check is what makes a GUARDED_BY annotation a rule rather than a comment, so it is tested
like one: on a scratch tree, each kind of lock misuse the annotations exist to catch (a guarded
member read or written without its mutex, written under a shared lock, a function that requires
the mutex called without it) must fail it with clang's diagnostic naming the file, and the same
tree with the lock taken must pass. A copy of this tree's src/ with one lock removed from a real
module must fail, and this tree's annotated modules must pass. Needs clang++ and the configured
build next to RECSERVE_BIN (its compile_commands.json gives the third-party include paths).
"""
import os
import pathlib
import shutil
import subprocess
import sys
import unittest

from recserve_testing import RECSERVE_BIN, SOURCE_DIR, temp_dir

SCRIPT = os.path.join(SOURCE_DIR, "scripts", "check-thread-safety.py")
BUILD_DIR = os.path.dirname(os.path.abspath(RECSERVE_BIN))
ANNOTATIONS = pathlib.Path(SOURCE_DIR, "src", "core", "thread_annotations.h")

COUNTER_H = """#pragma once
#include "core/thread_annotations.h"

namespace demo {
class Counter {
 public:
  void Add(int n);
  int Get();
  void Set(int n);
  void Reset();

 private:
  void ResetLocked() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  recserve::core::Mutex mu_;
  int value_ GUARDED_BY(mu_) = 0;
};

class Table {
 public:
  int Read();
  void Write(int n);

 private:
  recserve::core::SharedMutex mu_;
  int cell_ GUARDED_BY(mu_) = 0;
};
}  // namespace demo
"""

COUNTER_CPP = """#include "demo/counter.h"

namespace demo {
void Counter::Add(int n) {
  recserve::core::MutexLock lock(mu_);
  value_ += n;
}
int Counter::Get() {
  recserve::core::MutexLock lock(mu_);
  return value_;
}
void Counter::Set(int n) {
  recserve::core::MutexLock lock(mu_);
  value_ = n;
}
void Counter::ResetLocked() { value_ = 0; }
void Counter::Reset() {
  recserve::core::MutexLock lock(mu_);
  ResetLocked();
}
int Table::Read() {
  recserve::core::ReaderLock lock(mu_);
  return cell_;
}
void Table::Write(int n) {
  recserve::core::WriterLock lock(mu_);
  cell_ = n;
}
}  // namespace demo
"""

# A file that reaches no annotation is not compiled at all (it would not parse).
PLAIN_CPP = "this is not C++ and nobody compiles it\n"


def make_tree(root, counter_cpp=COUNTER_CPP):
    files = {
        "src/core/thread_annotations.h": ANNOTATIONS.read_text(),
        "src/demo/counter.h": COUNTER_H,
        "src/demo/counter.cpp": counter_cpp,
        "src/demo/plain.cpp": PLAIN_CPP,
    }
    for rel, text in files.items():
        path = pathlib.Path(root, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run_check(root, *files):
    return subprocess.run([sys.executable, SCRIPT, "--root", root, "--build-dir", BUILD_DIR,
                           "--jobs", "2", *files],
                          capture_output=True, text=True, timeout=900)


def cpp_files_of_annotated_modules():
    """src/ .cpp files that declare a GUARDED_BY member or include a header of their own room
    that does: the modules whose locking the annotations describe."""
    src = pathlib.Path(SOURCE_DIR, "src")
    annotated_headers = {str(h.relative_to(src)) for h in src.rglob("*.h")
                         if h.name != "thread_annotations.h" and "GUARDED_BY(" in h.read_text()}
    found = []
    for cpp in sorted(src.rglob("*.cpp")):
        text = cpp.read_text()
        room = cpp.parent.name + "/"
        if "GUARDED_BY(" in text or any(f'#include "{h}"' in text for h in annotated_headers
                                         if h.startswith(room)):
            found.append(str(cpp.relative_to(SOURCE_DIR)))
    return found


@unittest.skipUnless(shutil.which("clang++"), "needs clang++")
@unittest.skipUnless(os.path.isfile(os.path.join(BUILD_DIR, "compile_commands.json")),
                     "needs a configured build beside RECSERVE_BIN")
class ThreadSafetyCheckTest(unittest.TestCase):
    def test_a_clean_scratch_tree_passes_and_skips_unannotated_files(self):
        with temp_dir() as root:
            make_tree(root)
            result = run_check(root)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertIn("1 of 2 files reach", result.stdout)

    def assert_fails_naming(self, correct, broken, needle):
        """COUNTER_CPP with `correct` replaced by `broken` fails, with `needle` in the output."""
        self.assertIn(correct, COUNTER_CPP)
        with temp_dir() as root:
            make_tree(root, COUNTER_CPP.replace(correct, broken))
            result = run_check(root)
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertIn("src/demo/counter.cpp:", result.stdout)
            self.assertIn(needle, result.stdout)

    def test_a_guarded_read_without_the_lock_fails(self):
        self.assert_fails_naming("int Counter::Get() {\n  recserve::core::MutexLock lock(mu_);\n",
                                 "int Counter::Get() {\n",
                                 "reading variable 'value_' requires holding mutex 'mu_'")

    def test_a_guarded_write_without_the_lock_fails(self):
        self.assert_fails_naming("void Counter::Set(int n) {\n  recserve::core::MutexLock lock(mu_);\n",
                                 "void Counter::Set(int n) {\n",
                                 "writing variable 'value_' requires holding mutex 'mu_'")

    def test_a_write_under_a_shared_lock_fails(self):
        self.assert_fails_naming("void Table::Write(int n) {\n  recserve::core::WriterLock",
                                 "void Table::Write(int n) {\n  recserve::core::ReaderLock",
                                 "writing variable 'cell_' requires holding mutex 'mu_' exclusively")

    def test_calling_a_function_that_requires_the_lock_without_it_fails(self):
        self.assert_fails_naming("void Counter::Reset() {\n  recserve::core::MutexLock lock(mu_);\n",
                                 "void Counter::Reset() {\n",
                                 "calling function 'ResetLocked' requires holding mutex 'mu_'")

    def test_this_trees_annotated_modules_pass(self):
        files = cpp_files_of_annotated_modules()
        self.assertTrue(files, "no module declares a GUARDED_BY member")
        result = run_check(SOURCE_DIR, *files)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_a_copy_of_this_tree_with_one_lock_removed_fails(self):
        # CircuitBreaker::state() reads state_ under its MutexLock; the copy drops that lock.
        rel = "src/resilience/circuit_breaker.cpp"
        with temp_dir() as root:
            shutil.copytree(os.path.join(SOURCE_DIR, "src"), os.path.join(root, "src"))
            path = pathlib.Path(root, rel)
            text = path.read_text()
            marker = "BreakerState CircuitBreaker::state() {\n  core::MutexLock lock(mu_);\n"
            self.assertTrue(marker in text, f"{rel} no longer has: {marker}")
            path.write_text(text.replace(marker, "BreakerState CircuitBreaker::state() {\n"))
            result = run_check(root, rel)
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertIn("circuit_breaker.cpp:", result.stdout)
            self.assertIn("reading variable 'state_' requires holding mutex 'mu_'", result.stdout)


if __name__ == "__main__":
    unittest.main()
