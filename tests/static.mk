# Static analysis (issue 9 section 5): cppcheck with the committed check
# list.  clang -Wall -Wextra -Werror is the fuzz build (tests/fuzz.mk),
# which compiles the whole tree with clang.
STATIC_TESTS = tests/static/cppcheck.sh
TESTS += $(STATIC_TESTS)
EXTRA_DIST += $(STATIC_TESTS) tests/static/cppcheck.supp tests/static/cppcheck-macros.h
