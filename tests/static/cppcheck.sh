#!/bin/bash
# Static analysis of the C sources with cppcheck and the committed check
# list (tests/static/cppcheck.supp); any finding fails.  About 3 s of CPU.
# System headers are not read (faster, and their findings are not ours):
# jansson's iteration macros get their shape from cppcheck-macros.h.
set -u
cd "${top_srcdir:-$(dirname "$0")/../..}" || exit 1
command -v cppcheck >/dev/null || { echo "cppcheck is not installed (scripts/deps test)" >&2; exit 1; }
exec cppcheck -j2 -q --enable=warning,portability,performance --std=c11 --inline-suppr \
	--suppressions-list=tests/static/cppcheck.supp --error-exitcode=1 \
	-D__GNUC__ --include=tests/static/cppcheck-macros.h -DSYSCONFDIR='"/etc"' -DLOCALSTATEDIR='"/var"' -DPACKAGE_VERSION='"0"' \
	-Icommon -Ihealth -Iagent common health agent
