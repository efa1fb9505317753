# spatialmw — the two commands a user needs: `make demo` and `make test`.
# Both bootstrap everything on a fresh machine: Debian packages, .venv, the C library.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LIB    := build/lib/libspatialmw.so
# the native library is rebuilt when the shim, the header or any compiled Python changes
LIB_SOURCES := bindings/build_sdk.py bindings/gen_contract.py bindings/shim.c bindings/rt_stubs.c \
               include/spatialmw.h $(wildcard spatialmw/kernels/*.py) spatialmw/geometry.py \
               spatialmw/defaults.py spatialmw/asset.py \
               spatialmw/data/default_kemar.npz
PKG    := PKG_CONFIG_PATH=build/lib/pkgconfig pkg-config
CFLAGS_HOST := -O2 -Wall -Wextra -std=c11

.PHONY: all setup debian venv lib sdk demo test bench model eval clean

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

# build/ is an install tree: include/, lib/ (libspatialmw.so.0, .a, pkgconfig, cmake), share/
lib: $(LIB)

$(LIB): $(VENV)/.installed $(LIB_SOURCES)
	$(PY) bindings/build_sdk.py --prefix build

# dist/spatialmw-<version>-linux-x86_64/ and its .tar.gz
sdk: setup
	$(PY) bindings/build_sdk.py --prefix build --dist dist

build/c_host: examples/c_host/game_loop.c $(LIB)
	$(CC) $(CFLAGS_HOST) -o $@ $< $$($(PKG) --cflags --libs spatialmw) -Wl,-rpath,'$$ORIGIN/lib' -lpthread -lm

# 1,000 emitters, most far or quiet: virtual voices (./build/rain out/rain.wav)
build/rain: examples/c_host/rain.c $(LIB)
	$(CC) $(CFLAGS_HOST) -o $@ $< $$($(PKG) --cflags --libs spatialmw) -Wl,-rpath,'$$ORIGIN/lib' -lm

demo: setup build/c_host
	@mkdir -p out
	$(PY) -m spatialmw info
	$(PY) -m spatialmw render examples/scenes/demo.json -o out/demo.wav --normalize peak
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
	rm -rf build out dist
