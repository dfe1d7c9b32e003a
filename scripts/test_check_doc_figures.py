#!/usr/bin/env python3
"""Unit tests of scripts/check_doc_figures.py on small fixture texts, both directions: it catches
a hand figure, and it passes a goal, a setting and a generated one (run by scripts/check-docs).

Prints `ok figure checker: NAME` or `not ok figure checker: NAME` per test; exits 1 on a failure.
"""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the working tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_doc_figures as figures  # noqa: E402

GENERATED = figures.GENERATED_HEADER + "\n| week | $21.73 | 1.10 | 0.077 % | 180 s |\n"


def offences(hand, generated=GENERATED):
    """[(line, figure)] the checker reports for one hand text against one generated text."""
    found = figures.check({"hand.md": hand}, {"gen.md": generated} if generated else {})
    return [(o.line, o.figure) for o in found["hand.md"]]


class CatchesHandFigures(unittest.TestCase):
    def test_a_result_sentence_not_in_any_generated_file(self):
        hand = "# Results\n\nMeasured on the week: $22.10, 1.12 × the oracle, 0.081 % unschedulable.\n"
        self.assertEqual(offences(hand), [(3, "$22.10"), (3, "1.12 ×"), (3, "0.081 %")])

    def test_a_table_row_whole_when_one_cell_has_a_decimal(self):
        hand = "| load | cost | p95 |\n|---|---|---|\n| week | $21.73 | 195 s |\n"
        # $21.73 is generated; 195 s is not, and the row's decimal makes it a result.
        self.assertEqual(offences(hand), [(3, "195 s")])

    def test_before_and_after_with_round_numbers(self):
        hand = "The fast path, off → on: p95 time to capacity 270 → 180 s, thrash 4 → 6.\n"
        self.assertEqual(offences(hand), [(1, "270"), (1, "4"), (1, "6")])

    def test_the_word_measured_makes_round_figures_results(self):
        hand = "The end-to-end check measured 31 s from pending pods to the message.\n"
        self.assertEqual(offences(hand), [(1, "31 s")])

    def test_a_sentence_across_lines_is_reported_on_the_figures_line(self):
        hand = "Intro line.\n\nThe median run took\n2.36 s on two cores.\n"
        self.assertEqual(offences(hand), [(4, "2.36 s")])

    def test_rounded_is_not_the_same_figure(self):
        self.assertEqual(offences("It leaves 0.08 % waiting and costs $21.7 a fortnight.\n"),
                         [(1, "0.08 %"), (1, "$21.7")])

    def test_a_date_or_a_command_in_generated_text_is_no_figure(self):
        generated = figures.GENERATED_HEADER + "\nMeasured 2026-12-01, `smartscale compare --days 14`.\n"
        self.assertEqual(offences("Thrash went 12 → 14.\n", generated), [(1, "12"), (1, "14")])

    def test_a_range_needs_both_ends(self):
        self.assertEqual(offences("Measured: 180–195 s.\n"), [(1, "180–195 s")])

    def test_no_generated_file_at_all(self):
        self.assertEqual(offences("Measured: $21.73.\n", generated=None), [(1, "$21.73")])

    def test_the_reason_names_the_marker(self):
        found = figures.check({"d.md": "It took 2.36 s.\n"}, {})
        self.assertIn('"2.36 s" has a decimal point', found["d.md"][0].why)

    def test_cli_prints_file_line_and_reason_and_fails(self):
        import io
        import contextlib
        import tempfile
        with tempfile.TemporaryDirectory() as root:
            (Path(root) / "docs").mkdir()
            (Path(root) / "docs/GEN.md").write_text(GENERATED)
            (Path(root) / "docs/hand.md").write_text("A\n\nMeasured: 2.36 s.\n")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = figures.main(["x", root])
        self.assertEqual(rc, 1)
        self.assertIn('not ok figures docs/hand.md\n    docs/hand.md:3: "2.36 s" is in no generated file', out.getvalue())

    def test_a_broken_results_marker_is_an_error(self):
        with self.assertRaisesRegex(figures.FigureError, "never closed"):
            offences("<!-- results:begin acceptance -->\n| $1.00 |\n")
        with self.assertRaisesRegex(figures.FigureError, "no results:begin"):
            offences("<!-- results:begin a -->\n<!-- results:end b -->\n")

    def test_a_goal_sentence_that_reports_a_measurement(self):
        hand = "The goal is 2 s for smartscale; the median run measured 2.59 s against ≤ 2.5 s.\n"
        self.assertEqual(offences(hand), [(1, "2 s"), (1, "2.59 s")])

    def test_a_marker_quoted_in_code_is_no_block(self):
        hand = "Write `<!-- results:begin x -->` and `<!-- results:end x -->`; measured 4.56 s.\n"
        self.assertEqual(offences(hand), [(1, "4.56 s")])

    def test_a_declaration_without_a_reason_is_an_error(self):
        with self.assertRaisesRegex(figures.FigureError, "must say why"):
            offences("<!-- figures: not measured: -->\n| $1.15 |\n")


class PassesWhatIsNotMeasured(unittest.TestCase):
    def test_figures_in_a_generated_file(self):
        self.assertEqual(offences("Measured: $21.73, 1.10 × the oracle, 0.077 %, 180 s, 3 min.\n"), [])

    def test_same_value_other_precision(self):
        self.assertEqual(offences("Measured: $21.730, 0.0770 % and 1.1 × the oracle.\n"), [])

    def test_goals(self):
        hand = ("Goals: cost ≤ 1.15 × the oracle, unschedulable ≤ 0.1 % of pod-minutes.\n\n"
                "The speed goal is 1.5 s for ca-like.\n\nIt must stay < 2.5 s and > 0.25 s.\n")
        self.assertEqual(offences(hand), [])

    def test_settings(self):
        hand = ("Measured with `SCALE_DOWN_COOLDOWN_S=600` and `--days 14`, a window = 630 s and the\n"
                "default 2.5 s back-off.\n")
        self.assertEqual(offences(hand), [])

    def test_unit_prices(self):
        self.assertEqual(offences("Measured at $0.0208/h and $0.40/M requests.\n"), [])

    def test_round_settings_in_plain_prose(self):
        hand = "The decider runs every 2 min and scales up above 70 % CPU for 3 min; Spot is 65 % off.\n"
        self.assertEqual(offences(hand), [])

    def test_figures_inside_a_generated_block(self):
        hand = ("Intro.\n\n<!-- results:begin acceptance -->\n| week | $30.01 | 2.22 % |\n"
                "<!-- results:end acceptance -->\n\nMeasured: the week costs $30.01.\n")
        self.assertEqual(offences(hand, generated=None), [])

    def test_a_generated_block_in_another_doc_counts(self):
        found = figures.check(
            {"a.md": "<!-- results:begin -->\n0.333 %\n<!-- results:end -->\n", "b.md": "Measured: 0.333 %.\n"}, {})
        self.assertEqual(found, {"a.md": [], "b.md": []})

    def test_code_comments_and_link_targets(self):
        hand = ("```\n$ smartscale simulate\ncost $99.99 1.99 ×\n```\n\n"
                "See `0.123 %` and <!-- 4.44 s --> and [the table](results.md#v1.5-s).\n")
        self.assertEqual(offences(hand), [])

    def test_a_declared_block(self):
        hand = ("<!-- figures: not measured: list prices and the arithmetic on them -->\n"
                "| NAT | $0.045/h × 730 h | ≈ $33.30 |\n| KMS | 1 key | $1.15 |\n\nMeasured: 9.99 s.\n")
        self.assertEqual(offences(hand), [(5, "9.99 s")])

    def test_an_arrow_to_a_name_is_no_count(self):
        self.assertEqual(offences("Eviction maps 429 → `Blocked` and 404 → NotFound.\n"), [])

    def test_numbers_without_units_are_not_figures(self):
        self.assertEqual(offences("Seed 1.5 of node 3.25, with 44.4 node-hours.\n"), [])


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    failed = 0
    for case in suite:
        for test in case:
            result = unittest.TestResult()
            test.run(result)
            name = test.id().rsplit(".", 2)
            label = f"{name[-2]}.{name[-1]}"
            problems = result.failures + result.errors
            if problems:
                failed += 1
                print(f"not ok figure checker: {label}")
                for _, trace in problems:
                    print("    " + trace.strip().replace("\n", "\n    "))
            else:
                print(f"ok figure checker: {label}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
