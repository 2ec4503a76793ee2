#!/usr/bin/env bash
# The project's test command: installs dependencies, starts dockerd, builds the agent
# (plain and ASan+UBSan), runs the C unit tests and the Python suites, and prints one
# summary line "N passed, M failed".
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PY=/usr/bin/python3
results=$(mktemp -d /tmp/ecs-test-results.XXXXXX)
status=0

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
bash scripts/deps.sh || exit 1

step "docker engine"
bash scripts/start-dockerd.sh || exit 1
if [ -x scripts/test-images.sh ]; then
  bash scripts/test-images.sh || exit 1
fi

# What users and packagers build: gcc Release with Debian's hardening flags, so a warning
# only the optimiser or _FORTIFY_SOURCE sees fails here (-Werror) and not on their machine.
hard_cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
hard_ldflags="$(dpkg-buildflags --get LDFLAGS)"

step "build (Release, gcc, Debian hardening flags)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
  -DCMAKE_C_FLAGS="$hard_cflags" -DCMAKE_EXE_LINKER_FLAGS="$hard_ldflags" >/dev/null || exit 1
cmake --build build -j"$(nproc)" || exit 1

step "build (ASan+UBSan, gcc Debug)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DECS_SANITIZE=ON \
  >/dev/null || exit 1
cmake --build build-asan -j"$(nproc)" || exit 1

# clang sees other warnings than gcc; this build also carries the libFuzzer targets.
step "build (clang RelWithDebInfo, hardening flags, libFuzzer+ASan)"
cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DECS_FUZZ=ON \
  -DCMAKE_C_FLAGS="$hard_cflags" -DCMAKE_EXE_LINKER_FLAGS="$hard_ldflags" >/dev/null || exit 1
cmake --build build-clang -j"$(nproc)" || exit 1

step "clang-format check"
mapfile -t cfiles < <(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)
fmt_bad=0
for f in "${cfiles[@]}"; do
  [ -f "$f" ] || continue
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f"; fmt_bad=1; }
done
[ "$fmt_bad" -eq 0 ] || status=1

# cmocka writes one JUnit file per test group (its cases are what the summary counts);
# ctest's own file counts the executables, so a crashed one is counted too.
step "unit tests (ctest, plain build)"
(cd build && CMOCKA_MESSAGE_OUTPUT=xml CMOCKA_XML_FILE="$results/cmocka-plain-%g.xml" \
  ctest --output-on-failure --output-junit "$results/ctest-plain.xml") || status=1

step "unit tests (ctest, ASan+UBSan build)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  CMOCKA_MESSAGE_OUTPUT=xml CMOCKA_XML_FILE="$results/cmocka-asan-%g.xml" \
  ctest --output-on-failure --output-junit "$results/ctest-asan.xml") || status=1

# Each fuzz target for a short while from an empty corpus (plus the shared test vectors);
# a crash, leak or sanitizer report fails it. One JUnit case per target for the summary.
step "short fuzz runs (libFuzzer, ${ECS_FUZZ_SECONDS:-20} s each)"
for f in build-clang/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=$(mktemp -d /tmp/ecs-fuzz-corpus.XXXXXX)
  if "$f" -max_total_time="${ECS_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -print_final_stats=1 \
    "$corpus" >"$results/$name.log" 2>&1; then
    echo "$name: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$results/$name.log" | grep -o '[0-9]*$') runs)"
    printf '<testsuite name="fuzz"><testcase name="%s"/></testsuite>\n' "$name" >"$results/fuzz-$name.xml"
  else
    echo "$name: FAILED"; tail -n 40 "$results/$name.log"
    printf '<testsuite name="fuzz"><testcase name="%s"><failure/></testcase></testsuite>\n' \
      "$name" >"$results/fuzz-$name.xml"
    status=1
  fi
  rm -rf "$corpus"
done

step "control plane tests (pytest)"
if [ -d tests/controlplane ]; then
  $PY -m pytest -q -p no:cacheprovider --junitxml="$results/pytest-controlplane.xml" tests/controlplane || status=1
fi

step "integration tests (pytest, ASan+UBSan agent)"
if [ -d tests/integration ] && ls tests/integration/test_*.py >/dev/null 2>&1; then
  ECS_AGENT_BIN="$top/build-asan/ecs-agent" \
    $PY -m pytest -q -p no:cacheprovider --junitxml="$results/pytest-integration.xml" tests/integration || status=1
fi

step "summary"
$PY - "$results" <<'PYEOF'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in sorted(glob.glob(sys.argv[1] + "/*.xml")):
    name = path.rsplit("/", 1)[-1]
    is_ctest = name.startswith("ctest-")
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    p = f = s = 0
    for su in suites:
        for case in su.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                f += 1
                print(f"  FAILED {su.get('name')}::{case.get('name')}")
            elif case.find("skipped") is not None:
                s += 1
            else:
                p += 1
    if is_ctest:
        # Executables: their cases are counted from cmocka's files; only a failed
        # executable adds to the total (it may have crashed before writing its file).
        print(f"{name}: {p} test programs passed, {f} failed")
        failed += f
        continue
    print(f"{name}: {p} passed, {f} failed, {s} skipped")
    passed += p; failed += f; skipped += s
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
PYEOF
rm -rf "$results"
exit $status
