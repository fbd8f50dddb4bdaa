# rt — see README.md. Everything here works on a fresh Debian 12 machine as root.
CARGO ?= cargo
RT := target/release/rt

.PHONY: all build demo test unit integration test-v2 test-v1 test-engines conformance probe rootfs bench faults soak fuzz clean

all: build

# A static musl binary (static-pie: ASLR kept): no dynamic loader (~37 syscalls and ~1.9 MiB of
# mapped libc/ld.so pages per call) and no glibc start-up probing. The musl target needs no
# C toolchain of its own; if rustup cannot add it, the build falls back to the host's target.
# Either way the binary ends up at target/release/rt.
RT_TARGET ?= x86_64-unknown-linux-musl
build:
	@rustup target list --installed 2>/dev/null | grep -qx '$(RT_TARGET)' || rustup target add $(RT_TARGET) >/dev/null 2>&1 || \
		echo "make: $(RT_TARGET) unavailable, building for the host target" >&2
	@if rustup target list --installed 2>/dev/null | grep -qx '$(RT_TARGET)'; then \
		$(CARGO) build --release --target $(RT_TARGET) && \
		install -m 755 target/$(RT_TARGET)/release/rt $(RT).new && mv -f $(RT).new $(RT); \
	else \
		$(CARGO) build --release; \
	fi

# The two commands of the README. Both need root.
#   make demo: build rt and a busybox bundle (build/demo), then `rt run build/demo/`
#   make test: unit tests, then the release binary (what `make build` ships) in real containers
#              on this host (v1/hybrid cgroups), then its cgroup tests in a VM on pure cgroup
#              v2 and in another on pure cgroup v1
demo: build
	sh integration/demo.sh $(RT) build/demo

test: build rootfs
	$(CARGO) test --lib
	RT_TEST_RUNTIME=$(CURDIR)/$(RT) $(CARGO) test --test integration -- $(IT_ARGS)
	RT_TEST_RUNTIME=$(CURDIR)/$(RT) integration/vm/lane.sh $(V2_ARGS)
	RT_TEST_RUNTIME=$(CURDIR)/$(RT) integration/vm/lane.sh --layout v1 $(V1_ARGS)

# --- integration rig (integration/README.md) --------------------------------------------------
# The probe: a static helper that reports the container's view as JSON, copied into the rootfs.
PROBE_DIR := integration/probe
PROBE := $(PROBE_DIR)/target/x86_64-unknown-linux-gnu/release/probe
ROOTFS := build/rootfs
# Extra arguments for the test runner, e.g. IT_ARGS='--test-threads 4 namespaces::'
IT_ARGS ?=

probe:
	cd $(PROBE_DIR) && RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release --target x86_64-unknown-linux-gnu

# busybox-static (installed if missing) + applet links + /etc/passwd, /etc/group + the probe
rootfs: probe
	sh integration/rootfs.sh $(ROOTFS) $(PROBE)

# Real-container tests (root). RT_TEST_RUNTIME=/usr/sbin/runc runs them against runc instead.
integration: rootfs
	$(CARGO) test --test integration -- $(IT_ARGS)

# rt against runc and crun, side by side (integration/bench/README.md). Not a test: timings
# only mean something on a quiet machine. BENCH_ARGS=--quick for a short run.
BENCH_ARGS ?=
bench: build
	integration/bench/bench.sh $(BENCH_ARGS)

# The OCI runtime-tools validation suite against the built rt (integration/conformance/README.md).
# Not part of make test: the suite lives outside the repo, built there by you, e.g.
#   make conformance RUNTIME_TOOLS_DIR=~/src/runtime-tools
# (ONLY="hooks linux_uid_mappings" for some files; CONF_RUNTIME=/usr/sbin/runc for another runtime)
CONF_RUNTIME ?= $(CURDIR)/$(RT)
conformance: build
	integration/conformance/run.sh $(CONF_RUNTIME)

# The cgroup VM lanes: one VM (qemu software emulation, virtme-ng) runs the cgroup tests against
# pure cgroup v2, another against pure cgroup v1 (integration/vm/lane.sh; 1-8 minutes each
# here). Extra args: V2_ARGS='cgroups_v2::', V1_ARGS='cgroups_res::'
V2_ARGS ?=
V1_ARGS ?=
test-v2:
	integration/vm/lane.sh $(V2_ARGS)
test-v1:
	integration/vm/lane.sh --layout v1 $(V1_ARGS)

# The engine lane (integration/engines/README.md): containerd 1.6, Podman 4.3 and Docker 20.10 from
# Debian drive the runtime through one scenario each (installs the packages, builds a busybox
# image with umoci + skopeo, starts each engine on its own roots below our cgroup; ~1-2 minutes
# against runc). ENGINE_RUNTIME=/usr/sbin/runc make test-engines runs it against runc;
# ENGINE_ARGS='--keep-going docker' one engine, '--record' logs every runtime call.
# Not part of `make test` yet: rt lacks exec, terminals, hooks and seccomp.
ENGINE_RUNTIME ?= $(CURDIR)/$(RT)
ENGINE_ARGS ?= --keep-going
test-engines: build
	integration/engines/lane.sh $(ENGINE_RUNTIME) $(ENGINE_ARGS)

# --- reliability (README's Reliability section) ---------------------------------------------
# make faults: the fault lane (rt SIGKILLed at each of its system calls, failing calls injected
#   with strace) and the concurrency lane; FAULTS_ARGS=--quick for CI's sample.
# make soak: SOAK_CYCLES (10000) create/start/exec-or-kill/delete cycles; fails on anything
#   left or grown.
# make fuzz: each cargo-fuzz target (nightly + cargo-fuzz) for FUZZ_RUNS executions
#   (10 million); FUZZ_TARGETS='config state_json' for some.
FAULTS_ARGS ?=
SOAK_CYCLES ?= 10000
FUZZ_RUNS ?= 10000000
FUZZ_TARGETS ?=
faults: build rootfs
	python3 integration/faults/faults.py $(FAULTS_ARGS) --only kill
	python3 integration/faults/faults.py $(FAULTS_ARGS) --only init errors root stdio
	python3 integration/faults/concurrency.py $(FAULTS_ARGS)
soak: build rootfs
	python3 integration/faults/soak.py --cycles $(SOAK_CYCLES)
fuzz:
	fuzz/run.sh --build $(FUZZ_RUNS) $(FUZZ_TARGETS)

clean:
	$(CARGO) clean
	rm -rf build integration/probe/target
