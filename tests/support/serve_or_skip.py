"""Starting `recserve serve` in tests that are written ahead of the subcommand (issue 5)."""
import contextlib

from recserve_testing import Service


@contextlib.contextmanager
def running_service(testcase, env, wait_ready=False, timeout=60):
    """Yields a started Service, stopped on exit. While `serve` still answers "not available
    yet" (exit code 2), the test is skipped with that reason; any other start failure raises."""
    service = Service(env=env)
    try:
        service.start(wait_ready=wait_ready, timeout=timeout)
    except RuntimeError as err:
        service.stop()
        if service.proc is not None and service.proc.returncode == 2 and \
                "not available yet" in str(err):
            testcase.skipTest("recserve serve has not landed (issue 5)")
        raise
    try:
        yield service
    finally:
        service.stop()
