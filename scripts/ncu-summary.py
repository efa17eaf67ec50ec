#!/usr/bin/env python3
"""Sums the kernel times of an Nsight Compute CSV by kernel name (the per-kernel split of a step).

  ncu --clock-control none --metrics gpu__time_duration.sum --csv build-cuda/mmfree bench-train --device cuda \\
      --steps 1 --warmup 0 --skip-peak ... > ncu.csv
  scripts/ncu-summary.py ncu.csv [TOP]

The program's own output lines in the file are skipped; ncu writes the unit of each value ("ns", "us", "msecond",
...) beside it. Template arguments stay in the names (the product kernel's <NT, RT> variants are listed apart).
"""
import collections
import csv
import re
import sys

MS = {"ns": 1e-6, "nsecond": 1e-6, "us": 1e-3, "usecond": 1e-3, "ms": 1.0, "msecond": 1.0, "s": 1e3, "second": 1e3}


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    top = int(sys.argv[2]) if len(sys.argv) == 3 else 40
    total, count = collections.defaultdict(float), collections.Counter()
    header = None
    with open(sys.argv[1], newline="") as f:
        for row in csv.reader(f):
            if header is None:
                if "Kernel Name" in row and "Metric Value" in row:
                    header = {name: i for i, name in enumerate(row)}
                continue
            if len(row) != len(header) or row[header["Metric Name"]] != "gpu__time_duration.sum":
                continue
            unit = row[header["Metric Unit"]]
            if unit not in MS:
                sys.exit(f"ncu-summary: unknown unit {unit!r}")
            name = re.sub(r"\(.*$", "", row[header["Kernel Name"]]).removeprefix("void ")
            name = re.sub(r"mmfree::(cuda::)?(<unnamed>::|\(anonymous namespace\)::)?", "", name)
            total[name] += float(row[header["Metric Value"]].replace(",", "")) * MS[unit]
            count[name] += 1
    if header is None:
        sys.exit("ncu-summary: no ncu CSV header (Kernel Name, Metric Value) in " + sys.argv[1])
    s = sum(total.values())
    print(f"{s:.2f} ms in {sum(count.values())} kernels")
    for name, ms in sorted(total.items(), key=lambda x: -x[1])[:top]:
        print(f"{ms:9.3f} ms {100 * ms / s:5.1f}% {count[name]:6d}  {name}")


main()
