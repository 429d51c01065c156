# buildtrace — PGXS build.
#
# Layout: src/*.c is the module; src/sql/*.sql (in name order) is concatenated
# into the versioned install script; src/sql/released holds earlier releases'
# install scripts as shipped, src/sql/updates the scripts between releases;
# sql/ + expected/ are pg_regress tests; test/isolation/{specs,expected} are
# isolation specs; test/pgtap holds pgTAP suites run by pg_prove (see
# test/check.sh).

EXTENSION   = buildtrace
# The version is set once, in buildtrace.control.
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big  = $(EXTENSION)
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
SQL_PARTS   = $(sort $(wildcard src/sql/*.sql))
# Released versions' install scripts, frozen as shipped, and the update
# scripts between releases: every schema change of a release goes into the
# update script from the one before it.
DATA        = $(sort $(wildcard src/sql/released/*.sql) $(wildcard src/sql/updates/*.sql))

REGRESS     = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
ISOLATION   = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation

EXTRA_CLEAN = $(DATA_built) results output_iso regression.diffs regression.out

# Warnings are errors in the builds of the test scripts and CI (test/lib.sh
# passes WERROR=-Werror), not in a user's "make", where a newer compiler's
# new warning must not stop the install. -Wno-unused-parameter only because
# PostgreSQL's own headers trip it.
WERROR     ?=
PG_CFLAGS  += -Wall -Wextra -Wno-unused-parameter $(WERROR)

# -O3, and link-time optimisation so that the diff's inner loops inline the
# small functions of other files they call (the pair cursor, the jsonb
# writer, the numeric helpers): bt_diff takes about a tenth less time
# (README, Performance). -fno-semantic-interposition lets the compiler
# inline the module's exported functions into its own callers: a call
# within the module always means the module's own function, never one of
# that name in another loaded library. "make OPTFLAGS=" builds with the
# server's flags alone, for a compiler without these options.
OPTFLAGS   ?= -O3 -flto=auto -fno-semantic-interposition
PG_CFLAGS  += $(OPTFLAGS)

# No fused multiply-adds (compilers for aarch64 fuse by default): a sketch's
# bucket of a value comes from a polynomial, and must be the same on every
# machine for sketches to merge bit for bit wherever they were made.
PG_CFLAGS  += -ffp-contract=off

# BT_ASSERTS=1 compiles buildtrace's Assert()s and state checks in, even
# against a server built without --enable-cassert (as Debian's is).
ifdef BT_ASSERTS
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING
endif

PG_CONFIG  ?= pg_config
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The JIT's bitcode too: without fused multiply-adds (see PG_CFLAGS).
BITCODE_CFLAGS += -ffp-contract=off

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) $(EXTENSION).control
	cat $(SQL_PARTS) > $@

$(OBJS): $(wildcard src/*.h)

.PHONY: bench
bench:
	bash test/bench/run.sh

.PHONY: load
load:
	bash test/load/run.sh
