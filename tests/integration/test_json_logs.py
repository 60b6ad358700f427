"""LOG_FORMAT=json (the Kubernetes default) writes one JSON object per line whatever the logged
text holds. Every Service of the integration suite checks its own log on stop()
(recserve_testing.json_log_records); this test feeds the log a hostile string on purpose: a
reload `source` with a quote and a newline, which a pattern that pasted the message between
quotes turned into two lines that are not JSON (issue 13, finding 8)."""
import json
import os
import shutil
import tempfile
import unittest

import recserve_testing as rt

TOKEN = "json-logs-token"
FORGED_SOURCE = 'x"y\nz'


class JsonLogTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="recserve-json-logs-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def test_a_forged_reload_source_stays_inside_its_json_string(self):
        models = os.path.join(self.tmp, "models")
        os.makedirs(models)
        svc = rt.Service(env={"MODEL_DIR": models,
                              "FEATURE_STORE_PATH": os.path.join(self.tmp, "none.db"),
                              "DATA_QUALITY_REPORT": os.path.join(self.tmp, "none.json"),
                              "ADMIN_TOKEN": TOKEN, "LOG_FORMAT": "json", "HTTP_THREADS": "2"})
        svc.start(wait_ready=False)
        try:
            body = json.dumps({"mode": "shadow", "source": FORGED_SOURCE})
            self.assertEqual(body, r'{"mode": "shadow", "source": "x\"y\nz"}')
            status, _, answer = svc.request(
                "POST", "/models/reload", body=body,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            self.assertEqual(status, 404, answer)  # refused and logged: no such bundle
        finally:
            svc.stop()  # raises at the first log line that is not JSON
        records = svc.log_records()
        refused = [r for r in records if "model reload (shadow) refused" in r["msg"]]
        self.assertEqual(len(refused), 1, svc.log())
        self.assertIn(os.path.join(models, FORGED_SOURCE), refused[0]["msg"])
        self.assertEqual(refused[0]["level"], "warning")
        # On disk the source is escaped: one line, the quote and newline as \" and \n.
        self.assertIn(r'x\"y\nz', svc.log())


if __name__ == "__main__":
    unittest.main()
