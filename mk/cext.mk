# C extensions (cext/membridge.h and the C built on it): the C side tested
# from C alone, under valgrind, and its speed against malloc+free.
#
#   make cext-ctest   run cext/ctest/test_membridge.c natively
#   make memcheck     the same under valgrind (must pass), a planted leak
#                     (must be reported), and the Go tests of the packages
#                     that call membridge.h under valgrind with
#                     cext/ctest/go.supp hiding Go's own noise
#   make cext-bench   membridge_malloc+membridge_free against malloc+free
#   make cext-tsan    the C tests under ThreadSanitizer (per-thread counter
#                     slots, slot reuse, tag registration)
#
# Needs gcc, zlib1g-dev (the allocator demo) and valgrind (.ci/steps/40-cext.sh
# installs them).

CEXT_BIN := bin/cext
CEXT_C := cext/membridge.c cext/mb_small.c batch/batch.c handle/internal/notify/notifier.c
CEXT_H := cext/membridge.h cext/mb_bridge.h cext/mb_small.h batch/batch.h handle/internal/notify/notifier.h
CEXT_CFLAGS := -Wall -Wextra -Werror -O2 -g -pthread -Icext -Ibatch -Ihandle/internal/notify
CEXT_GO_PKGS := cext batch handle
# MEMBRIDGE_CHECK=1: every block from malloc, so valgrind sees each (the
# small-block classes are run under valgrind once more without it).
CEXT_VALGRIND := MEMBRIDGE_CHECK=1 MEMBRIDGE_TEST_NO_FORK=1 MEMBRIDGE_TEST_VALGRIND=1 valgrind -q --error-exitcode=1 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect

.PHONY: cext-ctest cext-bench cext-tsan memcheck

$(CEXT_BIN)/test_membridge: cext/ctest/test_membridge.c $(CEXT_C) $(CEXT_H)
	@mkdir -p $(@D)
	$(CC) $(CEXT_CFLAGS) -o $@ cext/ctest/test_membridge.c $(CEXT_C) -lz

cext-ctest: $(CEXT_BIN)/test_membridge
	$<

cext-bench: $(CEXT_BIN)/test_membridge
	$< bench

$(CEXT_BIN)/test_membridge_tsan: cext/ctest/test_membridge.c $(CEXT_C) $(CEXT_H)
	@mkdir -p $(@D)
	$(CC) $(CEXT_CFLAGS) -O1 -fsanitize=thread -o $@ cext/ctest/test_membridge.c $(CEXT_C) -lz

cext-tsan: $(CEXT_BIN)/test_membridge_tsan
	TSAN_OPTIONS=halt_on_error=1 $<

memcheck: $(CEXT_BIN)/test_membridge
	@cext/ctest/gen-go-supp.sh | cmp -s - cext/ctest/go.supp || \
		{ echo "memcheck: cext/ctest/go.supp is stale: cext/ctest/gen-go-supp.sh > cext/ctest/go.supp"; exit 1; }
	$(CEXT_VALGRIND) $<
	@echo "memcheck: the small-block classes (mb_small.c) under valgrind"
	$(subst MEMBRIDGE_CHECK=1,MEMBRIDGE_CHECK=0,$(CEXT_VALGRIND)) $<
	@echo "memcheck: a planted leak must be reported (in one of 3 runs: on a loaded machine a stale copy of the pointer can hide it from one)"
	@found=0; for i in 1 2 3; do \
		if ! $(CEXT_VALGRIND) $< leak > $(CEXT_BIN)/planted.log 2>&1 && \
			grep -q 'definitely lost' $(CEXT_BIN)/planted.log && grep -q 'plant_leak' $(CEXT_BIN)/planted.log; then \
			found=1; break; fi; \
		echo "memcheck: run $$i did not report the planted leak"; \
	done; \
	[ $$found = 1 ] || { cat $(CEXT_BIN)/planted.log; echo "memcheck: FAIL: valgrind never reported the planted leak"; exit 1; }
	@grep -m1 'definitely lost in' $(CEXT_BIN)/planted.log
	@for p in $(CEXT_GO_PKGS); do \
		$(GO) test -c -o $(CEXT_BIN)/$$p.test ./$$p || exit 1; \
		echo "memcheck: go test ./$$p under valgrind"; \
		$(CEXT_VALGRIND) --suppressions=cext/ctest/go.supp $(CEXT_BIN)/$$p.test || exit 1; \
	done
	@echo "memcheck: passed"
