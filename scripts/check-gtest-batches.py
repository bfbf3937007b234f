#!/usr/bin/env python3
"""Checks that every GoogleTest case listed in a batched tree ran in a batch.

With ALLM_TEST_BATCHES (tests/CMakeLists.txt, allm_gtest_tests) each case is
still a CTest test, labelled allm_gtest_case, running EXE --gtest_filter=CASE;
scripts/test.sh runs the batch tests instead, each writing GoogleTest's JSON
report to BUILD/gtest-batches/EXE@BATCH.json. Prints the CTest name of each
labelled case that no report shows as run, and exits 1 if there is one.
usage: check-gtest-batches.py BUILD_DIR
"""
import json
import pathlib
import subprocess
import sys

build = pathlib.Path(sys.argv[1])
ran = set()
for report in (build / "gtest-batches").glob("*@*.json"):
    exe = report.name.split("@", 1)[0]
    for suite in json.loads(report.read_text())["testsuites"]:
        for case in suite["testsuite"]:
            if case.get("status") == "RUN":
                ran.add((exe, f"{suite['name']}.{case['name']}"))

listing = json.loads(subprocess.run(["ctest", "--test-dir", str(build), "--show-only=json-v1"],
                                    check=True, capture_output=True, text=True).stdout)
missing = []
for test in listing["tests"]:
    labels = next((p["value"] for p in test.get("properties", []) if p["name"] == "LABELS"), [])
    if "allm_gtest_case" not in labels:
        continue
    command = test.get("command", [])
    name = next((a[len("--gtest_filter="):] for a in command if a.startswith("--gtest_filter=")), None)
    if not command or name is None or (pathlib.Path(command[0]).name, name) not in ran:
        missing.append(test["name"])
for name in sorted(missing):
    print(name)
sys.exit(1 if missing else 0)
