# How the project is shipped: lint, the oldest Go it claims to build with,
# and the monitoring files (CI steps 15, 16 and 60).
#
#   make lint      go vet, then staticcheck (pinned) with no findings
#   make min-go    build and test the default packages with the minimum Go
#                  that go.mod names (MIN_GO, fetched by the go command
#                  through the module proxy, the latest patch release of
#                  go.mod's go line); fails first if go.mod's go line and
#                  MIN_GO name different releases
#   make promtool  promtool check and unit tests of monitoring/alerts.yml,
#                  and the Go tests that check the dashboard's and the
#                  rules' metrics against what promcollector exports
#                  (needs promtool: Debian's prometheus package)

STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Every check but ST1003 (initialisms in names), whose renames would fight
# names that mirror external formats, such as the Chrome trace's "ts".
STATICCHECK_CHECKS ?= all,-ST1003
MIN_GO ?= go1.24.13

.PHONY: lint staticcheck min-go promtool

lint: vet staticcheck

staticcheck:
	$(STATICCHECK) -checks '$(STATICCHECK_CHECKS)' ./...

min-go:
	@want=$$(awk '$$1 == "go" { print $$2; exit }' go.mod); minor=$$(echo "$$want" | cut -d. -f1,2); \
	case "$(MIN_GO)" in \
	go$$minor|go$$minor.*) ;; \
	*) echo "min-go: go.mod names go $$want, but MIN_GO is $(MIN_GO): the lane tests the oldest Go that go.mod claims"; exit 1;; \
	esac
	GOTOOLCHAIN=$(MIN_GO) $(GO) version
	GOTOOLCHAIN=$(MIN_GO) $(GO) build ./...
	GOTOOLCHAIN=$(MIN_GO) $(GO) test -count=1 ./...

promtool:
	promtool check rules monitoring/alerts.yml
	cd monitoring && promtool test rules alerts_test.yml
	MEMBRIDGE_REQUIRE_PROMTOOL=1 $(GO) test -count=1 ./monitoring/
