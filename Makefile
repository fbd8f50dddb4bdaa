# rt — see README.md. Everything here works on a fresh Debian 12 machine as root.
CARGO ?= cargo
RT := target/release/rt

.PHONY: all build demo test unit integration clean

all: build

build:
	$(CARGO) build --release

# demo / test / rootfs / probe targets: filled in by the core issue
clean:
	$(CARGO) clean
	rm -rf build
