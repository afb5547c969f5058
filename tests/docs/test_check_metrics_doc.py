#!/usr/bin/env python3
"""The drift check itself: on a copy of daemon/ and docs/metrics.md it passes, and each kind of
disagreement (a family, a type, a label, a name in an alert, an unreadable registration) makes it
fail with a line naming that family. Python stdlib only; runs in well under a second.

Usage: test_check_metrics_doc.py [REPO_ROOT]   (default: two directories up from this file)
"""
import os
import pathlib
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_metrics_doc  # noqa: E402

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])


class DriftCheck(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="herald-metrics-doc-"))
        shutil.copytree(ROOT / "daemon", self.tmp / "daemon")
        (self.tmp / "docs").mkdir()
        shutil.copy(ROOT / "docs" / "metrics.md", self.tmp / "docs" / "metrics.md")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def edit(self, rel, old, new):
        path = self.tmp / rel
        text = path.read_text()
        self.assertIn(old, text, f"the fixture no longer has {old!r} in {rel}")
        path.write_text(text.replace(old, new, 1))

    def problems(self):
        return check_metrics_doc.compare(self.tmp)[0]

    def assert_one_problem_naming(self, *words):
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        for w in words:
            self.assertIn(w, problems[0])

    def test_the_copy_agrees(self):
        problems, count = check_metrics_doc.compare(self.tmp)
        self.assertEqual(problems, [])
        self.assertGreater(count, 20)

    def test_family_missing_from_the_doc(self):
        # A family built at each scrape (scrape.gauge(...)), not registered once.
        self.edit("docs/metrics.md", "| `herald_peer_bfd_detect_time_seconds` |", "| `herald_peer_bfd_detect_time` |")
        problems = self.problems()
        self.assertTrue(any("herald_peer_bfd_detect_time_seconds" in p and "missing from docs" in p for p in problems),
                        problems)
        self.assertTrue(any("herald_peer_bfd_detect_time is documented but not registered" in p for p in problems),
                        problems)

    def test_family_only_in_the_code(self):
        self.edit("daemon/controller_metrics.cpp", "ControllerMetrics::ControllerMetrics() {",
                  'ControllerMetrics::ControllerMetrics() {\n  registry_.counter("herald_x_total", "X.", {"peer"});')
        self.assert_one_problem_naming("herald_x_total", "missing from docs/metrics.md")

    def test_wrong_type(self):
        self.edit("docs/metrics.md", "| `herald_check_results_total` | counter |", "| `herald_check_results_total` | gauge |")
        self.assert_one_problem_naming("herald_check_results_total", "documented as a gauge", "counter")

    def test_wrong_labels(self):
        self.edit("docs/metrics.md", "| `herald_peer_uptime_seconds` | gauge | `peer` |",
                  "| `herald_peer_uptime_seconds` | gauge | `neighbor` |")
        self.assert_one_problem_naming("herald_peer_uptime_seconds", "neighbor")

    def test_unknown_name_and_label_in_an_alert(self):
        self.edit("docs/metrics.md", "expr: herald_check_up == 0", 'expr: herald_check_upp{peer="a"} == 0')
        self.assert_one_problem_naming("herald_check_upp", "not a documented family")
        self.edit("docs/metrics.md", "herald_check_upp", "herald_check_up")
        self.assert_one_problem_naming("herald_check_up", "no label 'peer'")

    def test_histogram_series_are_names_of_their_family(self):
        self.edit("docs/metrics.md", "expr: herald_check_up == 0",
                  'expr: histogram_quantile(0.99, rate(herald_check_latency_seconds_bucket{le="0.1"}[5m])) > 0'
                  " and herald_check_latency_seconds_count > 0")
        self.assertEqual(self.problems(), [])

    def test_comments_do_not_count_but_other_registrations_do(self):
        self.edit("daemon/controller_metrics.cpp", "ControllerMetrics::ControllerMetrics() {",
                  'ControllerMetrics::ControllerMetrics() {\n  // registry_.gauge("herald_in_a_comment", "", {});')
        self.assertEqual(self.problems(), [])
        self.edit("daemon/controller_metrics.cpp", "ControllerMetrics::ControllerMetrics() {",
                  "ControllerMetrics::ControllerMetrics() {\n  registry_.gauge(kSomeName, \"\", {});")
        self.assert_one_problem_naming("without a literal name")

    def test_a_metric_name_registered_out_of_sight(self):
        self.edit("daemon/controller_metrics.cpp", "ControllerMetrics::ControllerMetrics() {",
                  'ControllerMetrics::ControllerMetrics() {\n  const char* hidden = "herald_hidden_total";')
        self.assert_one_problem_naming("herald_hidden_total", "looks like a metric name")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=1)
