#!/usr/bin/env python3
"""Checks that the scaling flowchart shows the policy defaults docs/SCALING_ALGORITHM.md states
(scripts/check-docs): a threshold, window, cooldown or step changed in the policy table fails
here, naming the phrase the flowchart should now show, until the diagram is redrawn.

Prints one `ok`/`not ok` line; exits 1 on a mismatch. Standard library only.

    check_flowchart_defaults.py DECIDE_MD FLOWCHART_DOT
"""

import html
import re
import sys

from check_diagram_names import labels_of

ROW = re.compile(r"^\|\s*`([a-z0-9_]+)`\s*\|\s*`[A-Z0-9_]+`\s*\|\s*([^|]+?)\s*\|\s*$")


def policy_defaults(decide_md):
    """{field: default} from the policy table of docs/SCALING_ALGORITHM.md."""
    defaults = {}
    for line in decide_md.splitlines():
        match = ROW.match(line)
        if match:
            defaults[match.group(1)] = match.group(2)
    return defaults


def duration(seconds):
    """How the flowchart writes a window: whole minutes as `N min`, else `N s`."""
    seconds = int(float(seconds))
    return f"{seconds // 60} min" if seconds % 60 == 0 and seconds >= 60 else f"{seconds} s"


def number(value):
    """2.0 as 2, 70 as 70."""
    return f"{float(value):g}"


def expected_phrases(d):
    """The phrases the flowchart must contain, from the defaults."""
    headroom = float(d["consolidation_headroom_pct"])
    return [
        f"CPU > {number(d['cpu_scale_up_pct'])} % sustained {duration(d['cpu_scale_up_window_s'])}",
        f"hostable pods > 0 sustained {duration(d['pending_pods_window_s'])}",
        f"latest memory > {number(d['mem_scale_up_pct'])} %",
        f"latest queue depth > {number(d['queue_scale_up'])}",
        f"latest p95 latency > {number(d['p95_latency_scale_up_s'])} s",
        f"error rate > {number(d['error_rate_scale_up_pct'])} % sustained {duration(d['error_rate_window_s'])}",
        f"CPU < {number(d['cpu_scale_down_pct'])} % sustained {duration(d['scale_down_window_s'])}",
        f"latest memory < {number(d['mem_scale_down_pct'])} %",
        f"queue < {number(d['queue_scale_down'])} sustained {duration(d['scale_down_window_s'])}",
        f"last scale-up < {number(d['cooldown_scale_up_s'])} s ago",
        f"of either kind < {number(d['cooldown_scale_down_s'])} s ago",
        f"MIN_NODES ({number(d['min_nodes'])})",
        f"MAX_NODES ({number(d['max_nodes'])})",
        f"+{number(d['scale_up_step_urgent'])} if urgent",
        f"else +{number(d['scale_up_step'])}",
        f"over the last {duration(d['scale_down_fit_lookback_s'])}",
        f"at most {number(d['scale_down_fit_max_pct'])} %",
        f"at least {number(headroom)} points below",
        f"CPU < {number(float(d['cpu_scale_up_pct']) - headroom)} %, memory < {number(float(d['mem_scale_up_pct']) - headroom)} %",
        f"every {number(d['sample_interval_s'])} s (METRICS_STEP)",
    ]


def main(argv):
    if len(argv) != 3:
        print("usage: check_flowchart_defaults.py DECIDE_MD FLOWCHART_DOT", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        defaults = policy_defaults(handle.read())
    with open(argv[2], encoding="utf-8") as handle:
        text = " ".join(html.unescape(label) for label in labels_of(handle.read()))
    text = re.sub(r"\s+", " ", text)
    try:
        phrases = expected_phrases(defaults)
    except KeyError as missing:
        print(f"not ok scaling flowchart shows docs/SCALING_ALGORITHM.md's defaults\n    no policy row {missing} in {argv[1]}")
        return 1
    absent = [phrase for phrase in phrases if phrase not in text]
    if absent:
        print("not ok scaling flowchart shows docs/SCALING_ALGORITHM.md's defaults")
        for phrase in absent:
            print(f"    the flowchart does not say: {phrase}")
        return 1
    print(f"ok scaling flowchart shows docs/SCALING_ALGORITHM.md's defaults ({len(phrases)} phrases)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
