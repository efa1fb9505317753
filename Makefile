# spatialmw — the two commands a user needs: `make demo` and `make test`.
# Both bootstrap everything on a fresh machine: Debian packages, .venv, the C library.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LIB    := build/libspatialmw.so
CFLAGS_HOST := -O2 -Wall -Wextra -std=c11 -Iinclude

.PHONY: all setup debian venv lib demo test bench model eval clean

all: setup

setup: debian venv lib

debian:
	@sh scripts/install_debian_deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[train,openal,eval,dev]'
	@touch $@

lib: $(LIB)

$(LIB): $(VENV)/.installed bindings/build_lib.py bindings/shim.c include/spatialmw.h
	$(PY) bindings/build_lib.py --out $(LIB)

build/c_host: examples/c_host/game_loop.c $(LIB)
	$(CC) $(CFLAGS_HOST) -o $@ $< -Lbuild -lspatialmw -Wl,-rpath,'$$ORIGIN' -lpthread -lm

demo: setup build/c_host
	@mkdir -p out
	$(PY) -m spatialmw info
	$(PY) -m spatialmw render examples/scenes/demo.json -o out/demo.wav
	env -i ./build/c_host out/c_host.wav

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) -m benchmarks.run --out benchmarks/results

model: setup
	$(PY) -m spatialmw fit --sofa data/hrtf/MIT_KEMAR_normal_pinna.sofa -o spatialmw/data/default_kemar.npz

eval: setup
	$(PY) -m spatialmw eval --json benchmarks/results/eval.json --plots benchmarks/results/plots

clean:
	rm -rf build out
