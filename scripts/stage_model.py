#!/usr/bin/env python3
"""Stage an MLflow run for serving (runbook section 3): a thin wrapper over `recserve stage`.

Usage: scripts/stage_model.py <mlflow_run_dir> [--models-root models] [--deploy]

Checks the run (meta.yaml present and FINISHED, bundle under artifacts/model/ complete, every
sha256 in manifest.json matching) and copies it atomically to <models-root>/staging/run; with
--deploy also publishes <models-root>/<model_version>/ and points <models-root>/current at it.
A bad run fails with a message naming what is wrong and leaves <models-root>/staging/ untouched.
Exit code: 0 staged, 1 rejected, 2 usage error or binary missing.

The binary is $RECSERVE_BIN, else build/recserve beside this script's repository. Python standard
library only.
"""
import os
import sys


def recserve_binary():
    configured = os.environ.get("RECSERVE_BIN")
    if configured:
        return configured
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(repo, "build", "recserve")


def main(argv):
    binary = recserve_binary()
    if not os.access(binary, os.X_OK):
        print(f"stage_model.py: {binary} is not an executable recserve binary "
              "(run `make build` or set RECSERVE_BIN)", file=sys.stderr)
        return 2
    os.execv(binary, [binary, "stage", *argv])
    return 2  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
