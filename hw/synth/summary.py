#!/usr/bin/env python3
"""Summarises a yosys `stat` report (hw/synth/synth.sh) per module: LUTs, flip-flops, carry chains,
DSP48 blocks, block RAMs. Usage: summary.py hw/synth/out/stat-64.txt"""
import re
import sys

KINDS = {"LUT": r"LUT\d", "FF": r"FD[RSCP]E", "CARRY4": r"CARRY4", "DSP48E1": r"DSP48E1", "RAMB18E1": r"RAMB18E1",
         "RAMB36E1": r"RAMB36E1"}
modules, current = {}, None
for line in open(sys.argv[1]):
    m = re.match(r"=== (.*) ===", line)
    if m:
        current = re.sub(r"^\$paramod(\$[0-9a-f]+)?\\\\?", "", m.group(1)).split("\\")[0]
        modules.setdefault(current, {k: 0 for k in KINDS})
        continue
    m = re.match(r"\s+(\S+)\s+(\d+)$", line)
    if current and m:
        for kind, pattern in KINDS.items():
            if re.fullmatch(pattern, m.group(1)):
                modules[current][kind] += int(m.group(2))
print("| module | " + " | ".join(KINDS) + " |")
print("|---" * (len(KINDS) + 1) + "|")
for name, counts in modules.items():
    print(f"| {name} | " + " | ".join(str(counts[k]) for k in KINDS) + " |")
