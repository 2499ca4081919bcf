#!/bin/bash
# clang-tidy over the C sources with the committed check list (.clang-tidy
# at the top of the tree); any finding fails.  About 110 s of CPU, so
# ./scripts/check runs it only with --slow (ASG_TEST_SLOW=1), in the plain
# pass (cppcheck always runs); it skips otherwise.  Run by hand, it runs.
set -u
if [ -n "${srcdir:-}" ]; then # under make check
	[ "${ASG_TEST_SLOW:-0}" = 1 ] || { echo "clang-tidy: only with ./scripts/check --slow"; exit 77; }
	[ -z "${ASAN_OPTIONS:-}" ] || { echo "clang-tidy: the plain pass runs it"; exit 77; }
fi
cd "${top_srcdir:-$(dirname "$0")/../..}" || exit 1
command -v clang-tidy >/dev/null || { echo "clang-tidy is not installed (scripts/deps test)" >&2; exit 1; }
flags=(-std=gnu11 -D_GNU_SOURCE -Icommon -Ihealth -Iagent -DSYSCONFDIR='"/etc"' -DLOCALSTATEDIR='"/var"'
       -DPACKAGE_VERSION='"0"' $(pkg-config --cflags jansson libsystemd libmicrohttpd libcurl))
TIDY_FLAGS=$(printf '%s\n' "${flags[@]}")
export TIDY_FLAGS
# Four files an invocation, one invocation a core; the flags go after "--"
# (there is no compilation database), so they travel in TIDY_FLAGS.
ls common/*.c health/*.c agent/*.c |
	xargs -P"$(nproc)" -n4 bash -c 'mapfile -t f <<< "$TIDY_FLAGS"; clang-tidy --quiet "$@" -- "${f[@]}" 2>/dev/null' _ |
	grep -E '(warning|error):' | sort -u > "${TMPDIR:-/tmp}/clang-tidy.$$"
n=$(wc -l < "${TMPDIR:-/tmp}/clang-tidy.$$")
cat "${TMPDIR:-/tmp}/clang-tidy.$$"
rm -f "${TMPDIR:-/tmp}/clang-tidy.$$"
echo "clang-tidy: $n findings"
[ "$n" -eq 0 ]
