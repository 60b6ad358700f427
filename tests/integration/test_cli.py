"""The binary's command line: version works, unknown commands fail with usage errors."""
import unittest

from recserve_testing import run_recserve


class CliTest(unittest.TestCase):
    def test_version_prints_semver(self):
        out = run_recserve("version").stdout
        self.assertRegex(out, r"^recserve \d+\.\d+\.\d+\n$")

    def test_unknown_subcommand_is_a_usage_error(self):
        proc = run_recserve("no-such-command", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("subcommand", proc.stderr + proc.stdout)

    def test_help_lists_every_subcommand(self):
        out = run_recserve("--help").stdout
        for name in ["serve", "pipeline", "sync", "stage", "evaluate", "datagen", "version"]:
            self.assertIn(name, out)


if __name__ == "__main__":
    unittest.main()
