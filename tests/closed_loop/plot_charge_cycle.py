#!/usr/bin/env python3
"""Plot one run of the charge closed-loop test (a developer tool, not run in CI).

    JKBMS_CLOSED_LOOP_CSV=/tmp/cl build/tests/charge_test --gtest_filter='ClosedLoop*LFP_16S_poll1s_0p5C*'
    tests/closed_loop/plot_charge_cycle.py /tmp/cl/charge_LFP_16S_poll1s_0p5C.csv [-o out.png] [--from 60 --to 120]

Panel 1: true and reported highest/lowest cell voltage with the chemistry's bulk target.
Panel 2: CVL (published), the chargers' voltage set-point and the pack voltage.
Panel 3: CCL, DCL (published), the battery current, the solar fraction (right axis).
A band along the top shows the charge mode (Bulk / Absorption / Float / Equalize) over time.
Needs matplotlib only (Debian: apt-get install python3-matplotlib).
"""

import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODE_COLOURS = {"Bulk": "#f4a261", "Absorption": "#e76f51", "Float": "#2a9d8f", "Equalize": "#9b5de5"}


def mode_of(text):
    for m in MODE_COLOURS:
        if text.startswith(m):
            return m
    return "?"


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no rows")
    cols = {k: [] for k in rows[0]}
    for r in rows:
        for k, v in r.items():
            cols[k].append(v)
    out = {"mode": cols.pop("mode")}
    for k, v in cols.items():
        out[k] = [float(x) for x in v]
    return out


def mode_spans(t, modes):
    spans, start = [], 0
    for i in range(1, len(t) + 1):
        if i == len(t) or mode_of(modes[i]) != mode_of(modes[start]):
            spans.append((t[start], t[i - 1] if i == len(t) else t[i], mode_of(modes[start])))
            start = i
    return spans


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", help="one CSV written by the closed-loop test (JKBMS_CLOSED_LOOP_CSV=<dir>)")
    ap.add_argument("-o", "--output", help="PNG to write (default: next to the CSV)")
    ap.add_argument("--from", dest="t_from", type=float, help="start, minutes")
    ap.add_argument("--to", dest="t_to", type=float, help="end, minutes")
    ap.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args()

    d = read(args.csv)
    t = [x / 60 for x in d["t_s"]]
    keep = [i for i, x in enumerate(t)
            if (args.t_from is None or x >= args.t_from) and (args.t_to is None or x <= args.t_to)]
    if not keep:
        sys.exit("no rows in the chosen time range")

    def sel(key):
        return [d[key][i] for i in keep]

    t = [t[i] for i in keep]
    modes = [d["mode"][i] for i in keep]

    fig, (a1, a2, a3) = plt.subplots(3, 1, sharex=True, figsize=(13, 10), gridspec_kw={"height_ratios": [3, 2, 2]})
    name = os.path.splitext(os.path.basename(args.csv))[0]
    fig.suptitle(name)

    a1.plot(t, sel("true_max_cell_v"), color="tab:red", lw=1, label="true max cell")
    a1.plot(t, sel("true_min_cell_v"), color="tab:blue", lw=1, label="true min cell")
    a1.plot(t, sel("reported_max_cell_v"), color="tab:red", lw=0.6, alpha=0.45, ls="--", label="reported max")
    a1.plot(t, sel("reported_min_cell_v"), color="tab:blue", lw=0.6, alpha=0.45, ls="--", label="reported min")
    a1.plot(t, sel("target_cell_v"), color="k", lw=0.8, ls=":", label="bulk target")
    a1.set_ylabel("cell V")
    a1.legend(loc="lower right", fontsize=8, ncol=3)
    a1.grid(alpha=0.3)

    a2.plot(t, sel("cvl_v"), color="tab:purple", lw=1, label="CVL (published)")
    a2.plot(t, sel("charger_setpoint_v"), color="tab:gray", lw=0.8, alpha=0.8, label="charger set-point")
    a2.plot(t, sel("pack_v"), color="tab:green", lw=1, label="pack V (true)")
    a2.set_ylabel("V")
    a2.legend(loc="lower right", fontsize=8)
    a2.grid(alpha=0.3)

    a3.plot(t, sel("ccl_a"), color="tab:orange", lw=1, label="CCL")
    a3.plot(t, sel("current_a"), color="k", lw=0.8, label="current (+ charge)")
    dcl = sel("dcl_a")
    current = sel("current_a")
    if any(c < -1 for c in current):  # a discharge: show DCL (as a negative current)
        a3.plot(t, [-x for x in dcl], color="tab:cyan", lw=1, label="-DCL")
    a3.set_ylabel("A")
    a3.set_xlabel("minutes")
    a3.grid(alpha=0.3)
    a3b = a3.twinx()
    a3b.plot(t, sel("solar_fraction"), color="gold", lw=0.8, alpha=0.7, label="solar fraction")
    a3b.set_ylim(0, 1.05)
    a3b.set_ylabel("solar")
    h1, l1 = a3.get_legend_handles_labels()
    h2, l2 = a3b.get_legend_handles_labels()
    a3.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)

    # The charge mode as a band on every panel, named on the top one.
    for start, end, m in mode_spans(t, modes):
        for ax in (a1, a2, a3):
            ax.axvspan(start, end, color=MODE_COLOURS.get(m, "#cccccc"), alpha=0.08, lw=0)
        if end - start > (t[-1] - t[0]) * 0.03:
            a1.text((start + end) / 2, 1.01, m, transform=a1.get_xaxis_transform(), ha="center", va="bottom",
                    fontsize=8, color=MODE_COLOURS.get(m, "k"))
    # FET states: shade where the BMS had a FET open.
    for key, colour in (("charge_fet", "red"), ("discharge_fet", "blue")):
        fet = sel(key)
        i = 0
        while i < len(t):
            if fet[i] < 0.5:
                j = i
                while j < len(t) and fet[j] < 0.5:
                    j += 1
                a3.axvspan(t[i], t[min(j, len(t) - 1)], color=colour, alpha=0.15, lw=0)
                i = j
            else:
                i += 1

    fig.tight_layout()
    out = args.output or os.path.splitext(args.csv)[0] + ".png"
    fig.savefig(out, dpi=args.dpi)
    print(out)


if __name__ == "__main__":
    main()
