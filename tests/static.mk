# Static analysis (issue 9 section 5): cppcheck with the committed check
# list.  clang -Wall -Wextra -Werror is the fuzz build (tests/fuzz.mk),
# which compiles the whole tree with clang.
# clang-tidy (the committed .clang-tidy) runs only with ./scripts/check
# --slow: about 110 s of CPU.
STATIC_TESTS = tests/static/cppcheck.sh tests/static/clang-tidy.sh
TESTS += $(STATIC_TESTS)
EXTRA_DIST += $(STATIC_TESTS) tests/static/cppcheck.supp tests/static/cppcheck-macros.h .clang-tidy
