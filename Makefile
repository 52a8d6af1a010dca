# sipprov: one non-recursive GNU Makefile.
#   make            build sipprovd and sipprov into $(B) (default build/)
#   make test       install missing dependencies, build, run every test through prove
#   make check      build and run every test (no installs)
#   make asan       the whole suite, daemon included, under ASan+UBSan (build-asan/)
#   make tsan       the whole suite, daemon included, under ThreadSanitizer (build-tsan/)
#   make fuzz       libFuzzer targets (clang, build-fuzz/); make test replays corpora
#   make bench      sipprovd vs nginx on the same configs, as ratios (SQLite);
#                   make bench-pg the same on a throwaway PostgreSQL cluster
#   make install    PREFIX=/usr/local DESTDIR= (SYSCONFDIR=/etc LOCALSTATEDIR=/var)
#   make compile_commands.json   for clangd / clang-tidy
# Sources are picked up by folder: server/{core,sip}/*.c form libsipprov-core.a,
# server/daemon/*.c (but main.c) libsipprov-daemon.a, server/ops/*.c
# libsipprov-ops.a, tools/*.c the CLI, tests/unit/*.c one test binary each,
# tests/fuzz/*.c fuzzers.

PKGS    := libmicrohttpd sqlite3 libxml-2.0 jansson openssl gnutls libpq
# Only the CLI links libqrencode (`account qr`); the daemon does not.
CLI_PKGS := libqrencode
B       ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
# Configuration and state stay in /etc and /var whatever PREFIX is: that is
# where the unit, systemd-sysusers and systemd-tmpfiles expect them (FHS).
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
BINDIR   := $(PREFIX)/bin
SBINDIR  := $(PREFIX)/sbin
DATADIR  := $(PREFIX)/share
MANDIR   := $(DATADIR)/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
CC      ?= cc

# test, asan and deps install what is missing first (tools/install-deps.sh),
# then build in a sub-make, which checks; other goals check here.
ifeq ($(filter clean deps deps-check test asan tsan,$(MAKECMDGOALS)),)
MISSING := $(shell for p in $(PKGS) $(CLI_PKGS); do pkg-config --exists $$p || echo $$p; done)
ifneq ($(MISSING),)
$(error missing build dependencies: $(MISSING); install them with: sudo tools/install-deps.sh)
endif
endif

WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wno-unused-parameter
SP_CFLAGS  := -std=c11 -D_GNU_SOURCE -Iserver -Itools -I$(B) $(WARN) -MMD -MP \
              $(shell pkg-config --cflags $(PKGS))
SP_LIBS    := $(shell pkg-config --libs $(PKGS)) -lresolv -lpthread -lm
CFLAGS  ?= -O2 -g
CFLAGS  += $(EXTRA_CFLAGS)
LDFLAGS += $(EXTRA_LDFLAGS)

# Layers (HACKING.md): core (+ sip) is the library everything links; the
# daemon layer only sipprovd links; the ops layer (move, jobs, NOTIFY,
# diagnose) both link, so the admin API runs the CLI's engines.
CORE_SRC  := $(wildcard server/core/*.c server/sip/*.c)
CORE_OBJ  := $(CORE_SRC:%.c=$(B)/%.o) $(B)/schema_sql.o $(B)/schema_pg_sql.o
DMN_SRC   := $(filter-out server/daemon/main.c,$(wildcard server/daemon/*.c))
# The OpenAPI document is compiled into the daemon (served at /api/v1/openapi.json).
# So are the web console's files (web/*, served under /ui/ by console.c).
WEB       := $(sort $(wildcard web/*.html web/*.js web/*.css web/*.svg))
DMN_OBJ   := $(DMN_SRC:%.c=$(B)/%.o) $(B)/openapi_json.o $(B)/web_assets.o
OPS_SRC   := $(wildcard server/ops/*.c)
OPS_OBJ   := $(OPS_SRC:%.c=$(B)/%.o)
CLI_SRC   := $(wildcard tools/*.c)
CLI_OBJ   := $(CLI_SRC:%.c=$(B)/%.o)
# Tests link every layer, plus test-only helpers that never ship.
TLIBS     := $(B)/libsipprov-daemon.a $(B)/libsipprov-ops.a $(B)/libsipprov-test.a $(B)/libsipprov-core.a
TEST_SRC  := $(wildcard tests/support/*.c)
TEST_OBJ  := $(TEST_SRC:%.c=$(B)/%.o)
$(TEST_OBJ): SP_CFLAGS += -Itests
UNIT_SRC  := $(wildcard tests/unit/*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC  := $(filter-out tests/fuzz/replay.c,$(wildcard tests/fuzz/*.c))
# Corpus replay: the same fuzz targets linked with a plain main() (tests/fuzz/replay.c).
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/replay/%)
SCHEMA    := $(sort $(wildcard schema/*.sql))
# The same numbers in PostgreSQL's dialect (issue 17; tests/t/9d checks parity).
SCHEMA_PG := $(sort $(wildcard schema/pg/*.sql))

all: $(B)/sipprovd $(B)/sipprov
.PHONY: all test check check-mhd check-pg check-asan check-tsan asan tsan fuzz bench bench-quick bench-pg bench-bootstorm bench-firmware install clean deps deps-check unit compile_commands.json FORCE

# The installation paths are compiled into one object, server/core/paths.o,
# which depends on a stamp holding them: the stamp is rewritten only when a
# path changes, so `make install PREFIX=/usr` after a plain `make` rebuilds
# that object and relinks, and nothing else.
PATH_DEFS := -DSP_DATADIR='"$(DATADIR)/sipprov"' -DSP_SYSCONFDIR='"$(SYSCONFDIR)"'
$(B)/server/core/paths.o: SP_CFLAGS += $(PATH_DEFS)
$(B)/server/core/paths.o: $(B)/paths.stamp
$(B)/paths.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(PATH_DEFS)' > $@.$$$$; if cmp -s $@.$$$$ $@; then rm -f $@.$$$$; else mv $@.$$$$ $@; fi

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) $(CFLAGS) -c -o $@ $<

# schema/*.sql is compiled into the library so the daemon, CLI and tests
# migrate from exactly the files in the tree, with no path to install.
$(B)/schema_sql.c: $(SCHEMA) tools/embed-schema.sh
	@mkdir -p $(B)
	sh tools/embed-schema.sh $(SCHEMA) > $@.tmp && mv $@.tmp $@

$(B)/schema_sql.o: $(B)/schema_sql.c
	$(CC) $(SP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/schema_pg_sql.c: $(SCHEMA_PG) tools/embed-schema.sh
	@mkdir -p $(B)
	sh tools/embed-schema.sh -n schema_pg $(SCHEMA_PG) > $@.tmp && mv $@.tmp $@

$(B)/schema_pg_sql.o: $(B)/schema_pg_sql.c
	$(CC) $(SP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/openapi_json.c: openapi/sipprov-v1.json tools/embed-file.sh
	@mkdir -p $(B)
	sh tools/embed-file.sh sp_openapi_json openapi/sipprov-v1.json > $@.tmp && mv $@.tmp $@

$(B)/openapi_json.o: $(B)/openapi_json.c
	$(CC) $(SP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/web_assets.c: $(WEB) tools/embed-web.sh tools/embed-file.sh
	@mkdir -p $(B)
	sh tools/embed-web.sh $(WEB) > $@.tmp && mv $@.tmp $@

$(B)/web_assets.o: $(B)/web_assets.c
	$(CC) $(SP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libsipprov-core.a: $(CORE_OBJ)
$(B)/libsipprov-daemon.a: $(DMN_OBJ)
$(B)/libsipprov-ops.a: $(OPS_OBJ)
$(B)/libsipprov-test.a: $(TEST_OBJ)
$(B)/libsipprov-%.a:
	@rm -f $@
	ar rcs $@ $^

$(B)/sipprovd: $(B)/server/daemon/main.o $(B)/libsipprov-daemon.a $(B)/libsipprov-ops.a $(B)/libsipprov-core.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(SP_LIBS)

$(B)/sipprov: $(CLI_OBJ) $(B)/libsipprov-ops.a $(B)/libsipprov-core.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(SP_LIBS) $(shell pkg-config --libs $(CLI_PKGS))

$(B)/tests/%: tests/unit/%.c tests/tap.h $(TLIBS)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) -Itests $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLIBS) $(SP_LIBS)

$(B)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(TLIBS)
	@mkdir -p $(dir $@)
	$(CC) $(SP_CFLAGS) -Itests $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(TLIBS) $(SP_LIBS)

# The benchmarks tools/bench-fetch.sh and tools/bench-hep.sh run: built with
# every tree so they compile warning-free with the code they measure, and
# tests/t/8b-bench-tools.sh runs them.
BENCH_BIN := $(B)/fetch_bench $(B)/hep_bench
$(BENCH_BIN): $(B)/%: tests/bench/%.c tests/bench/fresh.h $(TLIBS)
	$(CC) $(SP_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLIBS) $(SP_LIBS)

unit: all $(UNIT_BIN) $(REPLAY_BIN) $(BENCH_BIN)

# One runner for everything: prove over the C unit binaries and the shell
# integration scripts; both print TAP.  SP_BUILD tells scripts which binaries.
# -f --comments: a failed check is printed with its got/want lines, and the
# figures tests report (diag) are in the suite logs.
# `make test` is the full suite, what CI runs: it installs what the suite
# needs (Debian packages: build dependencies and the real peers), builds the
# three trees, then runs the same files four ways, two at a time side by
# side (tools/suites.sh): on SQLite (then the listener files on
# phone_server = mhd) and on PostgreSQL, then under ASan+UBSan
# and under TSan.  Two at a time: four at once on two cores would finish a
# few minutes sooner, but the tests that time a peer (a2's 250 ms, 4c's
# header timeout) would run under twice the load.  `make check` runs one
# way only (SQLite, build/): a developer's loop; `make check-pg`, `make
# asan`, `make tsan` the others, one at a time.
ASAN_VARS := B=build-asan CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
TSAN_VARS := B=build-tsan CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=thread"
# halt_on_error: the first data race stops the process with exit code 66,
# so a race cannot scroll past; tests/tsan.supp lists suppressions, each
# with its reason.
TSAN_OPTIONS_SP := halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$(abspath tests/tsan.supp)
TSAN_ENV = TSAN_OPTIONS="$(TSAN_OPTIONS_SP) $${TSAN_OPTIONS:-}"

test: deps
	@$(MAKE) --no-print-directory B=$(B) unit
	@$(MAKE) --no-print-directory $(ASAN_VARS) unit
	@$(MAKE) --no-print-directory $(TSAN_VARS) unit
	@rc=0; SUITES_LOG=$(B)/suites sh tools/suites.sh \
		'sqlite=make --no-print-directory B=$(B) check check-mhd' \
		'pg=make --no-print-directory B=$(B) check-pg' || rc=1; \
	SUITES_LOG=$(B)/suites sh tools/suites.sh \
		'asan=make --no-print-directory check-asan' \
		'tsan=make --no-print-directory check-tsan' || rc=1; \
	SUITES_LOG=$(B)/suites sh tools/suites.sh --report sqlite pg asan tsan; \
	exit $$rc

PROVE = SP_BUILD=$(abspath $(B)) prove -f --comments $(PROVE_FLAGS)
SUITE = $(PROVE) tests/run-unit.sh tests/run-replay.sh $(sort $(wildcard tests/t/*.sh))
check: unit
	$(SUITE)

# phone_server = own is the default; the files where the listener itself
# shows (framing, limits, slow clients, logs, firmware ranges, the fetch
# path, TLS: GnuTLS there, OpenSSL on own) run again on libmicrohttpd's,
# which phone_server = mhd keeps.
MHD_FILES := 11-http 12-cache 22-firmware 23-pending 42-enumeration 43-slow-clients 47-log-escape \
	48-framing 4a-trusted-proxies 4b-body-cap 4c-header-trickle 4e-digest-stale 40-https-auth 89-tls-reload
check-mhd: unit
	SP_PHONE_SERVER=mhd $(PROVE) $(MHD_FILES:%=tests/t/%.sh)

# The same files with the store on PostgreSQL (issue 17): tests/lib.sh gives
# every script a throwaway cluster and $DB a database in it; scripts that
# check what only a SQLite file has say so and skip those checks.
check-pg: unit
	SP_BACKEND=pg $(SUITE)

# Sanitizer reports fail the run: unit binaries exit non-zero, and every
# test script collects the reports its daemons and CLI calls wrote
# (tests/lib.sh points log_path into its temp folder) into a failing test.
# make test runs check-asan and check-tsan; asan and tsan install first.
check-asan:
	$(MAKE) $(ASAN_VARS) check
check-tsan:
	$(TSAN_ENV) $(MAKE) $(TSAN_VARS) check
asan: deps
	@$(MAKE) --no-print-directory check-asan
tsan: deps
	@$(MAKE) --no-print-directory check-tsan

deps:
	@sh tools/install-deps.sh --test

fuzz:
	@mkdir -p build-fuzz
	for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  $(MAKE) B=build-fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libsipprov-core.a build-fuzz/libsipprov-daemon.a build-fuzz/libsipprov-ops.a build-fuzz/libsipprov-test.a && \
	  clang $(SP_CFLAGS:-MMD=) -Ibuild-fuzz -Itests -O1 -g -fsanitize=fuzzer,address,undefined -o build-fuzz/$$n $$f $(subst $(B),build-fuzz,$(TLIBS)) $(SP_LIBS) || exit 1; done
	@echo "run: build-fuzz/NAME tests/fuzz/corpus/NAME -max_total_time=60"

bench: all
	SP_BUILD=$(abspath $(B)) sh tools/bench.sh
bench-quick: all
	SP_BUILD=$(abspath $(B)) sh tools/bench.sh --quick
bench-pg: all
	SP_BUILD=$(abspath $(B)) sh tools/bench.sh --pg
bench-bootstorm: all
	SP_BUILD=$(abspath $(B)) sh tools/bench-bootstorm.sh
bench-firmware: all
	SP_BUILD=$(abspath $(B)) sh tools/bench-firmware.sh

# Files that name an installed path are generated from etc/*.in here.
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g'
# The installed sipprovd.conf is the documented one with the installed
# database and layouts; an existing one is never replaced (the new one goes
# beside it as sipprovd.conf.dist).
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/sipprov/templates \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSCONFDIR)/sipprov $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	install -m 0755 $(B)/sipprov $(DESTDIR)$(BINDIR)/sipprov
	install -m 0755 $(B)/sipprovd $(DESTDIR)$(SBINDIR)/sipprovd
	install -m 0644 templates/* $(DESTDIR)$(DATADIR)/sipprov/templates/
	install -m 0644 man/sipprov.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/sipprovd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/sipprovd.8 $(DESTDIR)$(MANDIR)/man8/
	$(SUBST) etc/sipprovd.service.in > $(DESTDIR)$(UNITDIR)/sipprovd.service
	$(SUBST) etc/sysusers.d/sipprov.conf.in > $(DESTDIR)$(SYSUSERSDIR)/sipprov.conf
	$(SUBST) etc/tmpfiles.d/sipprov.conf.in > $(DESTDIR)$(TMPFILESDIR)/sipprov.conf
	$(SUBST) etc/logrotate.d/sipprov.in > $(DESTDIR)$(SYSCONFDIR)/logrotate.d/sipprov
	chmod 0644 $(DESTDIR)$(UNITDIR)/sipprovd.service $(DESTDIR)$(SYSUSERSDIR)/sipprov.conf \
	  $(DESTDIR)$(TMPFILESDIR)/sipprov.conf $(DESTDIR)$(SYSCONFDIR)/logrotate.d/sipprov
	install -m 0644 etc/bash-completion/sipprov $(DESTDIR)$(BASHCOMPDIR)/sipprov
	sed -e 's|^database = .*|database = $(LOCALSTATEDIR)/lib/sipprov/sipprov.db|' \
	    -e 's|^templates = .*|templates = $(DATADIR)/sipprov/templates|' etc/sipprovd.conf > $(B)/sipprovd.conf.dist
	install -m 0640 $(B)/sipprovd.conf.dist $(DESTDIR)$(DATADIR)/sipprov/sipprovd.conf.example
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/sipprov/sipprovd.conf ]; then \
	  install -m 0640 $(B)/sipprovd.conf.dist $(DESTDIR)$(SYSCONFDIR)/sipprov/sipprovd.conf.dist; \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/sipprov/sipprovd.conf; the new default is sipprovd.conf.dist"; \
	else install -m 0640 $(B)/sipprovd.conf.dist $(DESTDIR)$(SYSCONFDIR)/sipprov/sipprovd.conf; fi
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null && [ -d /run/systemd/system ]; then \
	  echo "creating the service user and folders (systemd-sysusers, systemd-tmpfiles)"; \
	  systemd-sysusers $(SYSUSERSDIR)/sipprov.conf && systemd-tmpfiles --create $(TMPFILESDIR)/sipprov.conf && \
	  systemctl daemon-reload; \
	else echo "then, on the target system: systemd-sysusers; systemd-tmpfiles --create; systemctl daemon-reload"; fi

clean:
	rm -rf build build-asan build-tsan build-fuzz

# For clangd and clang-tidy: the compile command of every C file, as this
# Makefile would run it (no build needed).
compile_commands.json:
	@{ echo '['; sep=' '; \
	  for f in $(CORE_SRC) server/daemon/main.c $(DMN_SRC) $(OPS_SRC) $(CLI_SRC) $(TEST_SRC) $(UNIT_SRC) $(FUZZ_SRC); do \
	    cmd=$$(printf '%s' '$(CC) $(SP_CFLAGS) -Itests $(CFLAGS) -c '"$$f" | sed 's/\\/\\\\/g; s/"/\\"/g'); \
	    printf '%s{"directory": "%s", "file": "%s", "command": "%s"}\n' "$$sep" "$(CURDIR)" "$$f" "$$cmd"; sep=','; \
	  done; echo ']'; } > $@.tmp && mv $@.tmp $@
	@echo "wrote $@"

deps-check:
	@for p in $(PKGS) $(CLI_PKGS); do pkg-config --exists $$p && echo "ok $$p" || echo "missing $$p"; done

-include $(shell find $(B) -name '*.d' 2>/dev/null)
