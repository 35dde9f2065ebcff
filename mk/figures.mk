# Every figure in README.md and docs/ from one command (about 16 minutes on
# the 2-core development machine at FIGURES_ROUNDS=10, 10 minutes at 6).
#
#   make figures                    build, run every benchmark, write
#                                   docs/figures/*.md, copy them into the docs
#   make figures FIGURES_ROUNDS=2   the same, quicker and noisier
#
# Each comparison runs in one process, its cases interleaved and the order
# reversed every other round (benchmarks' -rounds flag, internal/benchround;
# the C bench alternates within its runs), so every ratio is taken between
# cases measured moments apart. bench/cmd/figures writes, for each ratio,
# the median over the rounds, the smallest and largest single round, and
# the verdict as "met in k of n rounds"; the raw outputs stay in
# FIGURES_RAW. internal/doccheck (in make test) fails when a doc's
# generated section differs from docs/figures. Not run in CI: too long.
FIGURES_ROUNDS ?= 10
FIGURES_DEMO_RUNS ?= 3
FIGURES_FOOTPRINT_RUNS ?= 3
FIGURES_RAW ?= $(CURDIR)/bin/figures
FIGURES_FAKECUDA := $(FIGURES_RAW)/fakecuda

.PHONY: figures figures-build figures-docs
figures: figures-build
	@echo "figures: $(FIGURES_ROUNDS) rounds; raw outputs in $(FIGURES_RAW)"
	{ echo "rounds: $(FIGURES_ROUNDS)"; echo "date: $$(date -u '+%Y-%m-%d %H:%M UTC')"; \
	  echo "cpu: $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"; echo "cores: $$(nproc)"; \
	  echo "go: $$($(GO) env GOVERSION) $$($(GO) env GOOS)/$$($(GO) env GOARCH)"; \
	  echo "os: $$(. /etc/os-release && echo $$PRETTY_NAME), glibc $$(ldd --version | head -1 | awk '{print $$NF}'), $$($(CC) --version | head -1)"; \
	  echo "load_start: $$(cut -d' ' -f1-3 /proc/loadavg)"; } > $(FIGURES_RAW)/meta.txt
	cd bench/alloc && $(FIGURES_RAW)/alloc.test -test.run '^$$' -test.bench AllocFree -rounds $(FIGURES_ROUNDS) > $(FIGURES_RAW)/alloc.txt
	cd bench/arena && $(FIGURES_RAW)/arena.test -test.run '^$$' -test.bench Alloc64 -rounds $(FIGURES_ROUNDS) > $(FIGURES_RAW)/arena.txt
	cd handle && $(FIGURES_RAW)/handle.test -test.run '^$$' -test.bench RoundTrip -rounds $(FIGURES_ROUNDS) > $(FIGURES_RAW)/handle.txt
	cd cuda/fakecuda/overhead && LD_LIBRARY_PATH=$(FIGURES_FAKECUDA) MEMBRIDGE_FAKECUDA=1 \
		$(FIGURES_RAW)/overhead.test -test.run '^$$' -test.bench . -test.benchmem -rounds $(FIGURES_ROUNDS) > $(FIGURES_RAW)/standin.txt
	cd native && $(FIGURES_RAW)/native.test -test.run '^$$' -test.bench ProfileWrite100k -test.benchmem -test.benchtime 5x -test.count $(FIGURES_ROUNDS) > $(FIGURES_RAW)/profile.txt
	cd cuda && { $(FIGURES_RAW)/cuda.test -test.run '^$$' -test.bench 'AllocFree|Launch' -test.benchmem -test.count $(FIGURES_ROUNDS) && \
		$(FIGURES_RAW)/cuda.test -test.run '^$$' -test.bench Paired -test.benchtime 10x -test.count $(FIGURES_ROUNDS); } > $(FIGURES_RAW)/cudahost.txt
	cd batch && $(FIGURES_RAW)/batch.test -test.run '^$$' -test.bench Filter -test.count $(FIGURES_ROUNDS) > $(FIGURES_RAW)/batch.txt
	for i in $$(seq $(FIGURES_ROUNDS)); do $(CEXT_BIN)/test_membridge bench lines 25 || exit 1; done > $(FIGURES_RAW)/cext.txt
	for i in $$(seq $(FIGURES_FOOTPRINT_RUNS)); do \
		if [ $$((i % 2)) = 1 ]; then m=go,malloc,malloc-arena1,mmap,membridge; else m=membridge,mmap,malloc-arena1,malloc,go; fi; \
		$(FIGURES_RAW)/footprint -modes $$m > $(FIGURES_RAW)/footprint-$$i.txt || exit 1; \
	done
	for i in $$(seq $(FIGURES_DEMO_RUNS)); do bin/service -demo -duration 20s > $(FIGURES_RAW)/demo-$$i.txt || exit 1; done
	echo "load_end: $$(cut -d' ' -f1-3 /proc/loadavg)" >> $(FIGURES_RAW)/meta.txt
	$(MAKE) figures-docs

# Everything the rounds run, built before the first is timed.
figures-build: $(CEXT_BIN)/test_membridge
	rm -rf $(FIGURES_RAW) && mkdir -p $(FIGURES_RAW)
	cd bench && $(GO) test -c -o $(FIGURES_RAW)/alloc.test ./alloc && $(GO) test -c -o $(FIGURES_RAW)/arena.test ./arena
	$(GO) test -c -o $(FIGURES_RAW)/handle.test ./handle
	$(GO) test -c -o $(FIGURES_RAW)/native.test ./native
	$(GO) test -c -o $(FIGURES_RAW)/batch.test ./batch
	$(GO) test -c -o $(FIGURES_RAW)/cuda.test ./cuda
	cuda/fakecuda/driver/build.sh $(FIGURES_FAKECUDA) > /dev/null
	CGO_LDFLAGS=-L$(FIGURES_FAKECUDA) $(GO) test -tags cuda -c -o $(FIGURES_RAW)/overhead.test ./cuda/fakecuda/overhead
	cd bench && $(GO) build -o $(FIGURES_RAW)/footprint ./cmd/footprint
	$(GO) build -trimpath -o bin/service ./examples/service

# The tables from the raw outputs, then into the docs.
figures-docs:
	cd bench && $(GO) run ./cmd/figures -in $(FIGURES_RAW) -out ../docs/figures
	$(GO) test -count=1 -run TestFiguresInDocs ./internal/doccheck -update-figures
