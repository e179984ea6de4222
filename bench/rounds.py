#!/usr/bin/env python3
"""Times pairs of commands round by round and prints bench/run.sh's Markdown table rows.

Usage: rounds.py SPEC ROUNDS PEAK_RSS [WARMUP]    (rounds.py --header prints the header)

SPEC has one JSON object per line, a row of the table:
  {"key": …, "label": …, "target": 0.6 or null, "memory": true if our peak RSS is held to the
   2 MiB target, "input": a file fed on stdin, "ours": [argv…], "theirs": [argv…]}

Why rounds: a helper process lives about a millisecond, and a shared machine's slow spells last
longer than that. Every round runs every command of every row once, in a new random order, so a
slow spell hits ours and theirs alike, and no command always follows the same one (caches,
CPU frequency). The ratio ours / theirs is taken within each round; the table shows the median
of those per-round ratios, their interquartile range, and the range of the medians of the
first, second and last third of the rounds: how much the ratio would have moved had the run
been a third as long. A target is met only if the worst third meets it. Commands are started
with posix_spawn and reaped with wait4, so the time is what git pays to run them (start, work,
exit), with no shell or wrapper to subtract. Peak memory is measured apart, five runs of each
command through PEAK_RSS (bench/peak-rss.c, which explains why), the largest counted.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time

MEMORY_TARGET_KIB = 2 * 1024


def run(argv, stdin_path, devnull):
    stdin = os.open(stdin_path, os.O_RDONLY)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, stdin, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, devnull, 2),
        ]
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter_ns() - start
    finally:
        os.close(stdin)
    if status != 0:
        raise SystemExit(f"rounds.py: {argv} failed (wait status {status})")
    return elapsed


def peak_kib(peak_rss, argv, stdin_path):
    runs = [
        subprocess.run([peak_rss, stdin_path] + argv, capture_output=True, text=True, check=True)
        for _ in range(5)
    ]
    return max(int(run.stdout) for run in runs)


def header():
    print(
        "| case | ours | theirs | ours / theirs | interquartile | thirds | target "
        "| ours peak RSS | theirs peak RSS |"
    )
    print("|---|--:|--:|--:|--:|--:|---|--:|--:|")


def main():
    if sys.argv[1:] == ["--header"]:
        header()
        return
    spec, rounds, peak_rss = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    with open(spec, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    devnull = os.open(os.devnull, os.O_WRONLY)
    jobs = [(row, side) for row in rows for side in ("ours", "theirs")]
    times = {(row["key"], side): [] for row, side in jobs}
    for number in range(warmup + rounds):
        random.shuffle(jobs)
        for row, side in jobs:
            elapsed = run(row[side], row["input"], devnull)
            if number >= warmup:
                times[(row["key"], side)].append(elapsed)
    peak = {(row["key"], side): peak_kib(peak_rss, row[side], row["input"]) for row, side in jobs}

    for row in rows:
        ours, theirs = times[(row["key"], "ours")], times[(row["key"], "theirs")]
        ratios = [o / t for o, t in zip(ours, theirs)]
        median = statistics.median(ratios)
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        third = len(ratios) // 3
        thirds = [statistics.median(ratios[i * third : (i + 1) * third]) for i in range(3)]
        verdict = ""
        if row["target"] is not None:
            met = max(thirds + [median]) <= row["target"]
            verdict = f"≤ {row['target']} {'✅' if met else '❌'}"
        ours_kib, theirs_kib = peak[(row["key"], "ours")], peak[(row["key"], "theirs")]
        memory = f"{ours_kib / 1024:.1f} MiB"
        if row.get("memory"):
            memory += " ✅" if ours_kib <= MEMORY_TARGET_KIB else " ❌"
        print(
            f"| {row['label']} | {statistics.median(ours) / 1e6:.2f} ms "
            f"| {statistics.median(theirs) / 1e6:.2f} ms | {median:.2f}× "
            f"| {q1:.2f}–{q3:.2f} | {min(thirds):.2f}–{max(thirds):.2f} | {verdict} "
            f"| {memory} | {theirs_kib / 1024:.1f} MiB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
