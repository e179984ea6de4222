#!/usr/bin/env python3
"""Prints bench/run.sh's results as a Markdown table.

Usage: report.py ROWS RESULTS_DIR RUNS LS_RUNS CHUNK

ROWS has one tab-separated line per case: key, label, target ratio ("≤ 0.5" or empty), our
peak RSS and theirs in KiB. RESULTS_DIR/KEY.N.json are hyperfine's exports, one per round,
with the commands named `ours` and `theirs`; medians are taken over the runs of all rounds.
RESULTS_DIR/wrapper.N.json times bench/stdin-from.c running a static no-op (`ours`) against
the no-op alone (`theirs`): the wrapper's share of every time in the table.
"""

import glob
import statistics
import sys
import json

MEMORY_TARGET_KIB = 8 * 1024  # any `get` of ours


def medians(results, key):
    times = {"ours": [], "theirs": []}
    for export in sorted(glob.glob(f"{results}/{key}.*.json")):
        with open(export, encoding="utf-8") as f:
            for result in json.load(f)["results"]:
                times[result["command"]] += result["times"]
    return statistics.median(times["ours"]), statistics.median(times["theirs"])


def main():
    rows_file, results, runs, ls_runs, chunk = sys.argv[1:6]
    wrapped, alone = medians(results, "wrapper")
    wrapper = wrapped - alone
    print(
        f"`hyperfine -N`: median wall time of the whole process over {runs} runs ({ls_runs} "
        f"for `git ls-remote`), in rounds of {chunk}, ours then theirs. Each command ran "
        "through bench/stdin-from.c, which feeds the request on stdin; its own cost, "
        f"{wrapper * 1000:.2f} ms (a static no-op: {alone * 1000:.2f} ms alone, "
        f"{wrapped * 1000:.2f} ms through it), is subtracted from the times and ratios below. "
        "The ratio with it left in is shown too; a target is met only if both ratios meet it. "
        "Peak memory is the largest max RSS (`/usr/bin/time -f %M`) of 5 runs.\n"
    )
    print(
        "| case | ours | theirs | ours / theirs | (wrapper left in) | target "
        "| ours peak RSS | theirs peak RSS |"
    )
    print("|---|--:|--:|--:|--:|---|--:|--:|")
    with open(rows_file, encoding="utf-8") as f:
        for line in f:
            key, label, target, ours_kib, theirs_kib = line.rstrip("\n").split("\t")
            ours, theirs = medians(results, key)
            raw = ours / theirs
            ours, theirs = ours - wrapper, theirs - wrapper
            ratio = ours / theirs
            verdict = ""
            if target:
                limit = float(target.split()[-1])
                verdict = f"{target} {'✅' if max(ratio, raw) <= limit else '❌'}"
            memory = f"{int(ours_kib) / 1024:.1f} MiB"
            if key.startswith("get-"):
                memory += " ✅" if int(ours_kib) <= MEMORY_TARGET_KIB else " ❌ (> 8 MiB)"
            print(
                f"| {label} | {ours * 1000:.2f} ms | {theirs * 1000:.2f} ms | {ratio:.2f}× "
                f"| {raw:.2f}× | {verdict} | {memory} | {int(theirs_kib) / 1024:.1f} MiB |"
            )


if __name__ == "__main__":
    main()
