#!/usr/bin/env python3
"""Compares builds of the helper (or any commands) run for run, in turn.

Usage: compare.py [--runs N] [--input FILE] COMMAND...

Each COMMAND is one string (split like a shell would, no shell run). Every round runs each
command once, in turn, with FILE as its standard input, so a slow spell of a shared machine hits
every command alike; hyperfine (bench/run.sh) runs one command's runs together and then the
next's. Prints the median wall time of each command, its quartiles and its ratio to the first.
Used for the "what each change gained" table in docs/performance.md, e.g.

    bench/compare.py --runs 300 --input get.in "old/git-credential-bitbucket get" \\
        "new/git-credential-bitbucket get"
"""

import argparse
import os
import shlex
import shutil
import statistics

import rounds  # bench/rounds.py: the same spawn-and-time


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--input", default=os.devnull)
    parser.add_argument("commands", nargs="+")
    args = parser.parse_args()

    commands = []
    for command in args.commands:
        argv = shlex.split(command)
        argv[0] = shutil.which(argv[0]) or argv[0]
        commands.append(argv)
    devnull = os.open(os.devnull, os.O_WRONLY)

    def run(argv):
        return rounds.run(argv, args.input, devnull)

    for argv in commands:
        for _ in range(args.warmup):
            run(argv)
    times = [[] for _ in commands]
    for _ in range(args.runs):
        for argv, measured in zip(commands, times):
            measured.append(run(argv))

    first = None
    for argv, measured in zip(commands, times):
        median = statistics.median(measured) / 1000
        q1, _, q3 = (q / 1000 for q in statistics.quantiles(measured, n=4))
        first = first or median
        print(
            f"{median:8.0f} µs  (quartiles {q1:.0f}–{q3:.0f})  {median / first:5.2f}×  "
            f"{shlex.join(argv)}"
        )


if __name__ == "__main__":
    main()
