# shoplens — `make demo` and `make test` do all the set-up a fresh clone needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SANDBOX_PORT ?= 8765
LAB_PORT ?= 8888
NBSTRIP_KEYS := metadata.papermill cell.metadata.papermill cell.metadata.execution

.PHONY: setup demo weekly test lab sandbox system-deps clean distclean

## setup: create .venv with shoplens and its test tools installed (re-run when pyproject.toml changes)
setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -c 'from shoplens.render.bundle import main; main()'
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  $(BIN)/nbstripout --install && git config filter.nbstripout.extrakeys "$(NBSTRIP_KEYS)"; fi
	@touch $(STAMP)

## system-deps: Debian packages the tests need (Chromium, poppler, Noto CJK and Thai fonts), installed when missing
system-deps:
	@missing=""; \
	[ -x "$${SHOPLENS_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans Thai" || missing="$$missing fonts-noto-core"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## demo: sandbox -> sync -> every report -> HTML and PDF; prints where reports/index.html is. Installs
## Chromium and fonts first when it can; without them it makes the HTML reports only (exit 3 = HTML made,
## PDFs not: a success here, with the reason printed once)
demo: setup
	@$(MAKE) --no-print-directory system-deps || echo "note: could not install Chromium and fonts; the demo makes HTML reports only (run \`make system-deps\` as root for PDFs)"
	@SHOPLENS_HOME=$(CURDIR) $(BIN)/shoplens demo; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 3 ]

## weekly: every report of the catalogue for last week (or WEEK=2026-W46), in English and Chinese, on this
## folder's warehouse (run `shoplens sync` first)
weekly: setup
	SHOPLENS_HOME=$(CURDIR) $(BIN)/shoplens reports run $(if $(WEEK),--week $(WEEK)) --lang en --lang zh

## test: the whole suite, notebooks included (nbval), with real kernels and headless Chromium
test: setup system-deps
	@if [ -n "$${SHOPLENS_CHROMIUM:-}" ] && [ ! -x "$$SHOPLENS_CHROMIUM" ]; then \
	  echo "note: SHOPLENS_CHROMIUM=$$SHOPLENS_CHROMIUM is not a program; the tests use chromium from PATH"; fi
	SHOPLENS_CHROMIUM="$$( [ -x "$${SHOPLENS_CHROMIUM:-}" ] && echo "$$SHOPLENS_CHROMIUM" )" $(BIN)/python -m pytest

## lab: JupyterLab on notebooks/, reading this folder's warehouse (or SHOPLENS_HOME's), on 127.0.0.1:LAB_PORT
lab: setup
	SHOPLENS_HOME=$(or $(SHOPLENS_HOME),$(CURDIR)) $(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR)/notebooks --ip=127.0.0.1 \
	  --port=$(LAB_PORT) --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

## sandbox: serve the sandbox API in the foreground on SANDBOX_PORT (default 8765)
sandbox: setup
	$(BIN)/shoplens sandbox serve --port $(SANDBOX_PORT)

## clean: remove generated reports, the warehouse and caches (keeps .venv and credentials)
clean:
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} + 2>/dev/null || true
	rm -rf data .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} + 2>/dev/null || true

## distclean: clean, and remove .venv too
distclean: clean
	rm -rf $(VENV)
