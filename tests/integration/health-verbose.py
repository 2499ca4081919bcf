"""The verbose health document (issue 9, section 1, item 3): check
details (an http check's URL with userinfo and query string, an exec
check's output) are shown on the control socket only; the public
/health?verbose is off unless public_verbose_health is set, and then has
no details."""

import unittest

from asgtest import Health, free_port, wait_for

SECRETS = [b"s3cret", b"token=", b"hunter2", b"user:"]


def checks(port):
    return [
        {"name": "api", "type": "http", "critical": False, "interval": "200ms",
         "timeout": "100ms", "url": "http://user:s3cret@127.0.0.1:%d/x?token=abc" % port},
        {"name": "db", "type": "exec", "critical": False, "interval": "2s",
         "timeout": "2s",
         "command": ["/bin/sh", "-c", "echo postgres://app:hunter2@db/app; exit 1"]},
    ]


def ran(h):
    doc = h.control_request("GET", "/health")[1]
    return all(c["state"] == "fail" for c in doc["checks"].values()) and doc


class VerboseTest(unittest.TestCase):
    def assertNoSecrets(self, body):
        for s in SECRETS:
            self.assertNotIn(s, body)

    def test_default_public_document_is_plain(self):
        with Health(config={"checks": checks(free_port())}) as h:
            doc = wait_for(lambda: ran(h), what="the checks to run")
            # the control socket has everything, details included
            self.assertIn("hunter2", doc["checks"]["db"]["detail"])
            self.assertIn("s3cret", doc["checks"]["api"]["detail"])
            r = h.get("/health?verbose")
            self.assertEqual(r.status, 200)
            self.assertEqual(set(r.json()), {"status", "failing"})
            self.assertNoSecrets(r.body)

    def test_opt_in_public_document_is_redacted(self):
        with Health(config={"checks": checks(free_port()), "public_verbose_health": True}) as h:
            wait_for(lambda: ran(h), what="the checks to run")
            r = h.get("/health?verbose")
            doc = r.json()
            self.assertEqual(doc["checks"]["db"]["state"], "fail")
            self.assertEqual(doc["checks"]["api"]["type"], "http")
            for c in doc["checks"].values():
                self.assertNotIn("detail", c)
            self.assertNoSecrets(r.body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
