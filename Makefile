# Set-up is part of every target: a fresh machine needs only python3 (>= 3.10).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test docs venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: this build lies on the local disk.
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test]'
	touch $@

DEMO_NAME := demo-$(shell date +%Y%m%d-%H%M%S)

demo: venv
	$(PY) run_search.py --dataset demo --categories fabric wood --time-budget 3m --max-epochs 4 \
		--set backbone.image_size=128 --name $(DEMO_NAME)
	$(PY) run_search.py show --name $(DEMO_NAME) --top 5 --plot runs/plots/$(DEMO_NAME)

test: venv
	$(PY) -m pytest -q

# The documentation site: a broken link, anchor or API docstring fails the build.
docs: venv
	$(PY) -m pip install -q -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) data runs site .pytest_cache
