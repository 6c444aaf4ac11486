"""Summarise a py-spy profile in collapsed-stack form (`py-spy record --format raw --threads`).

    python bench/profile_summary.py profile.txt [--thread MainThread] [--top 25]

Prints, per thread, the samples it was seen running; then for one thread the functions
with the most samples on top of the stack ("self") and in the stack at all ("total"),
each as a share of that thread's samples. `bench/ingest.py --profile profile.txt` writes
such a file for the first hookgate round.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    """`_accept (gateway/http.py:252)` → `gateway/http.py:_accept` (line numbers merged)."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{match['func']}"


def parse(lines: Sequence[str]) -> list[tuple[str, list[str], int]]:
    stacks = []
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        name = thread.split(":", 1)[1].strip() if ":" in thread else thread
        stacks.append((name, [frame_name(f) for f in frames], int(count)))
    return stacks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--thread", default="MainThread", help="thread to break down (default MainThread)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    stacks = parse(args.profile.read_text(encoding="utf-8").splitlines())

    per_thread: Counter[str] = Counter()
    for thread, _, count in stacks:
        per_thread[thread] += count
    print("samples per thread")
    for thread, count in per_thread.most_common():
        print(f"  {count:7d}  {thread}")

    own = [(frames, count) for thread, frames, count in stacks if thread == args.thread]
    total = sum(count for _, count in own)
    if not total:
        print(f"no samples for thread {args.thread!r}")
        return 1
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in own:
        if frames:
            self_time[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    for title, counter in (("self", self_time), ("total", inclusive)):
        print(f"\n{args.thread}: top {args.top} by {title} ({total} samples)")
        for name, count in counter.most_common(args.top):
            print(f"  {100 * count / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
