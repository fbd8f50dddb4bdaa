"""The three engines, each started with its own config, roots, state and sockets under the lane's
temp dir and a cgroup parent below the lane's own cgroup (inside the lane's cgroup namespace "/"
is the lane's sandbox cgroup, see sandbox.py), and each pointed at the runtime under test.

Each adapter turns the scenario's verbs (run, exec, pause, ...) into that engine's commands. The
engines' own settings follow ../../../shared/TESTING.md ("Real engines")."""

import json
import os
import re
import signal
import socket
import subprocess
import time

IMAGE = "localhost/rt-lane/busybox:latest"


def private_var_lib(argv):
    """argv in a mount namespace of its own with a tmpfs on /var/lib: skopeo and `podman load`
    (as root) keep a blob-info cache in /var/lib/containers/cache whatever --root says (containers/
    image's default for euid 0; neither has a flag to move it)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs -o mode=755 lane-var-lib /var/lib && exec "$@"', argv[0]] + list(argv)


class StepError(Exception):
    pass


class NotApplicable(Exception):
    """The engine's CLI cannot do this (the message says why); counted apart, neither pass nor fail."""


class Engine:
    name = "?"
    packages = []
    pids_at_run = True
    pids_at_run_why = ""

    def __init__(self, lane, runtime):
        self.lane = lane
        self.runtime = runtime
        self.dir = os.path.join(lane.tmp, self.name)
        os.makedirs(self.dir, mode=0o711)
        self.daemons = []  # Popen objects, in start order
        self.cgroup_parent = f"/rt-lane-{self.name}"
        self.env = dict(os.environ, TMPDIR=self.path("tmp"))
        os.makedirs(self.path("tmp"))

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def cli(self, *args, timeout=60, check=True, input=None, stdin=None, cwd=None):
        r = self.lane.run(self.argv(*args), timeout=timeout, env=self.env, input=input, stdin=stdin, cwd=cwd or self.dir)
        if check and r.rc != 0:
            raise StepError(f"`{' '.join(args)}` exited {r.rc}: {(r.err or r.out).strip()[-800:]}")
        return r

    # --- the daemon ---------------------------------------------------------------------------
    def spawn_daemon(self, argv, ready, log, timeout=60):
        """Starts a daemon of the engine (its own session: a Ctrl-C at the lane's terminal does not
        reach it; the lane stops it by pid). Its output goes to log (a file in the lane's logdir)."""
        logf = open(log, "ab")
        self.lane.note(f"{self.name}: starting {' '.join(argv)}")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                             env=self.env, cwd=self.dir, start_new_session=True)
        logf.close()
        self.daemons.append(p)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if p.poll() is not None:
                raise StepError(f"{argv[0]} exited {p.returncode} at start-up: {self.log_tail(log)}")
            if ready():
                return p
            time.sleep(0.2)
        raise StepError(f"{argv[0]} not ready within {timeout}s: {self.log_tail(log)}")

    @staticmethod
    def log_tail(log, n=1500):
        try:
            with open(log, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def daemon_pids(self):
        return {p.pid for p in self.daemons if p.poll() is None}

    def stop_daemons(self, timeout=40):
        """SIGTERM the daemons we started, last started first, by pid; SIGKILL after timeout."""
        while self.daemons:
            p = self.daemons.pop()
            if p.poll() is not None:
                self.lane.note(f"{self.name}: pid {p.pid} had exited ({p.returncode})")
                continue
            self.lane.note(f"{self.name}: stopping pid {p.pid} ({p.args[0]})")
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.lane.note(f"{self.name}: pid {p.pid} ignored SIGTERM for {timeout}s, SIGKILL")
                p.kill()
                p.wait()

    @staticmethod
    def socket_ready(path):
        def ready():
            if not os.path.exists(path):
                return False
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return True
            except OSError:
                return False
            finally:
                s.close()
        return ready

    # --- what every adapter provides --------------------------------------------------------------
    def start(self):
        raise NotImplementedError

    def stop(self):
        self.stop_daemons()

    def runtime_state_dirs(self):
        """Directories where the runtime keeps per-container state (--root as the engine passes it)."""
        raise NotImplementedError

    def expected_mounts(self):
        """Mount points below the engine's dir that the engine itself keeps (not a container's)."""
        return []

    def expected_cgroups(self):
        """Cgroups below the cgroup parent that belong to the engine, not to a container (they
        must hold no process at the end)."""
        return []

    def run_oom(self, cid, cmd, memory):
        """A foreground run that is to be OOM-killed: its Result."""
        return self.lane.run(self.run_argv(cid, cmd, rm=False, memory=memory), timeout=120, env=self.env,
                             stdin=subprocess.DEVNULL, cwd=self.dir)


def write_containerd_config(path, d, sock):
    """containerd's config: every path below d (root, state, the opt plugin's /opt/containerd),
    its own sockets, no CRI plugin, no metrics or debug listener."""
    q = json.dumps
    with open(path, "w") as f:
        f.write(f"""version = 2
root = {q(d + "/root")}
state = {q(d + "/state")}
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = {q(sock)}

[ttrpc]
  address = {q(sock + ".ttrpc")}

[debug]
  address = ""
  level = "debug"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {q(d + "/opt")}
""")


# ------------------------------------------------------------------------------------------------
class DockerLike(Engine):
    """Docker and Podman have (nearly) the same CLI."""

    def run_flags(self):
        return ["--network", "none"]

    def run_argv(self, cid, cmd, tty=False, rm=True, detach=False, memory=None, pids=None, memory_swap=None):
        a = ["run", "--name", cid] + self.run_flags()
        if rm:
            a.append("--rm")
        if detach:
            a.append("-d")
        if tty:
            a.append("-it")
        if memory:
            a += ["--memory", str(memory), "--memory-swap", str(memory_swap or memory)]
        if pids:
            a += ["--pids-limit", str(pids)]
        return self.argv(*a, IMAGE, *cmd)

    def exec_argv(self, cid, cmd, tty=False):
        return self.argv("exec", *(["-it"] if tty else []), cid, *cmd)

    def inspect(self, cid, fmt):
        return self.cli("inspect", "--format", fmt, cid).out.strip()

    def init_pid(self, cid):
        return int(self.inspect(cid, "{{.State.Pid}}"))

    def status(self, cid):
        return self.inspect(cid, "{{.State.Status}}")

    def exit_code(self, cid):
        return int(self.inspect(cid, "{{.State.ExitCode}}"))

    def pause(self, cid):
        self.cli("pause", cid)

    def unpause(self, cid):
        self.cli("unpause", cid)

    def update_memory(self, cid, nbytes):
        self.cli("update", "--memory", str(nbytes), "--memory-swap", str(nbytes), cid)

    def stop_ctr(self, cid, timeout=30):
        self.cli("stop", "-t", str(timeout), cid, timeout=timeout + 30)

    def start_ctr(self, cid):
        self.cli("start", cid)

    def kill_ctr(self, cid):
        self.cli("kill", cid)

    def wait_exit(self, cid, timeout=30):
        return int(self.cli("wait", cid, timeout=timeout).out.strip().splitlines()[-1])

    def top(self, cid):
        return self.cli("top", cid).out

    def logs(self, cid):
        r = self.cli("logs", cid)
        return r.out + r.err

    def rm(self, cid, force=False):
        self.cli("rm", *(["-f"] if force else []), cid)

    def list_ids(self):
        return self.cli("ps", "-a", "--format", "{{.Names}}").out.split()

    def load_image(self):
        self.cli("load", "-i", self.lane.image_tar, timeout=180)

    def remove_image(self):
        self.cli("rmi", "-f", IMAGE, check=False)


class Docker(DockerLike):
    name = "docker"
    packages = ["docker.io", "containerd", "tini"]
    runtime_name = "rtest"  # "runc" is reserved

    def __init__(self, lane, runtime):
        super().__init__(lane, runtime)
        self.sock = self.path("docker.sock")
        self.env.update(DOCKER_HOST="unix://" + self.sock, DOCKER_CONFIG=self.path("cli-config"))
        self.env.pop("DOCKER_CONTEXT", None)
        self.env.pop("DOCKER_TLS_VERIFY", None)

    def argv(self, *args):
        return ["/usr/bin/docker"] + list(args)  # not /usr/local/bin's docker: Debian's client

    def run_flags(self):
        return ["--runtime", self.runtime_name, "--network", "none"]

    def start(self):
        cfg = {
            "data-root": self.path("data"),
            "exec-root": self.path("exec"),
            "pidfile": self.path("docker.pid"),
            "hosts": ["unix://" + self.sock],
            "iptables": False,
            "ip6tables": False,
            "ip-forward": False,
            "ip-masq": False,
            "bridge": "none",
            "userland-proxy": False,
            "exec-opts": ["native.cgroupdriver=cgroupfs"],
            "cgroup-parent": self.cgroup_parent,
            "storage-driver": "overlay2",
            "log-driver": "json-file",
            "features": {"buildkit": False},
            # what the README tells users to write (rather than dockerd's --add-runtime flag)
            "runtimes": {self.runtime_name: {"path": self.runtime}},
        }
        with open(self.path("daemon.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        # dockerd starts its own containerd (under exec-root); /run is the lane's private tmpfs, so a
        # host containerd's socket at /run/containerd/containerd.sock cannot be picked up instead.
        # Docker 20.10 writes its trust key to /etc/docker/key.json (no flag moves it): in the
        # lane's mount namespace /etc/docker is a private tmpfs.
        # Debian's docker.service runs dockerd on the system's containerd (containerd.service);
        # so does the lane, with a containerd of its own (a containerd that dockerd starts itself
        # would use the opt plugin's default /opt/containerd on the host).
        csock = self.path("containerd", "containerd.sock")
        os.makedirs(self.path("containerd"))
        write_containerd_config(self.path("containerd", "config.toml"), self.path("containerd"), csock)
        self.spawn_daemon(["/usr/bin/containerd", "--config", self.path("containerd", "config.toml")],
                          self.socket_ready(csock), os.path.join(self.lane.logdir, "docker-containerd.log"))
        self.spawn_daemon(["/usr/sbin/dockerd", "--config-file", self.path("daemon.json"), "--containerd", csock, "--debug"],
                          self.socket_ready(self.sock), os.path.join(self.lane.logdir, "docker-dockerd.log"))
        self.cli("info", timeout=60)

    def oom_evidence(self, cid, since):
        oom = self.inspect(cid, "{{.State.OOMKilled}}")
        return oom == "true", f"State.OOMKilled={oom}"

    def check_prestart_hook(self, cid, pid):
        """Docker's prestart hook (`/proc/<dockerd>/exe libnetwork-setkey`) tells dockerd the
        container's network namespace, and dockerd bind-mounts it at the sandbox key: without the
        hook that file is not the container's netns."""
        key = self.inspect(cid, "{{.NetworkSettings.SandboxKey}}")
        if not key:
            raise StepError("no NetworkSettings.SandboxKey")
        try:
            k = os.stat(key)
        except OSError as e:
            raise StepError(f"sandbox key {key}: {e}")
        n = os.stat(f"/proc/{pid}/ns/net")
        if (k.st_dev, k.st_ino) != (n.st_dev, n.st_ino):
            raise StepError(f"sandbox key {key} is not the container's network namespace "
                            f"(inode {k.st_ino}, the container's is {n.st_ino}): the prestart hook did not run")

    def runtime_state_dirs(self):
        # dockerd passes --root <exec-root>/runtime-<...>/moby (seen: runtime-runc for the rtest runtime)
        ex = self.path("exec")
        return [os.path.join(ex, d) for d in (os.listdir(ex) if os.path.isdir(ex) else []) if d.startswith("runtime-")] + \
            ["/run/" + os.path.basename(self.runtime)]

    def expected_mounts(self):
        # dockerd bind-mounts its data-root onto itself (mount propagation) while it runs
        return [self.path("data")]


class Podman(DockerLike):
    name = "podman"
    packages = ["podman", "conmon", "golang-github-containers-common"]

    def __init__(self, lane, runtime):
        super().__init__(lane, runtime)
        self.rtname = os.path.basename(runtime)
        self.env.update(CONTAINERS_CONF=self.path("containers.conf"),
                        CONTAINERS_STORAGE_CONF=self.path("storage.conf"),
                        XDG_CONFIG_HOME=self.path("xdg-config"), XDG_DATA_HOME=self.path("xdg-data"))
        self.env.pop("CONTAINERS_REGISTRIES_CONF", None)
        self.env.pop("XDG_RUNTIME_DIR", None)

    def argv(self, *args):
        return ["/usr/bin/podman", "--root", self.path("storage"), "--runroot", self.path("run")] + list(args)

    def run_flags(self):
        return ["--cgroup-parent", self.cgroup_parent, "--network", "none"]

    def start(self):
        q = json.dumps
        # Podman passes --log-format=json --log F only to runtimes whose name is listed here; the
        # runtime's name is its key in [engine.runtimes], here the binary's own name (rt, runc).
        json_ok = ["crun", "runc", "kata", "runsc", "krun"] + ([self.rtname] if self.rtname not in ("crun", "runc") else [])
        conf = f"""[containers]
netns = "none"
log_driver = "k8s-file"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = {q(self.path("events.log"))}
tmp_dir = {q(self.path("libpod-tmp"))}
volume_path = {q(self.path("volumes"))}
image_copy_tmp_dir = {q(self.path("tmp"))}
lock_type = "file"
runtime = {q(self.rtname)}
runtime_supports_json = {q(json_ok)}

[engine.runtimes]
{self.rtname} = [{q(self.runtime)}]

[network]
network_config_dir = {q(self.path("networks"))}
"""
        with open(self.path("containers.conf"), "w") as f:
            f.write(conf)
        with open(self.path("storage.conf"), "w") as f:
            f.write(f"""[storage]
driver = "overlay"
graphroot = {q(self.path("storage"))}
runroot = {q(self.path("run"))}
""")
        r = self.cli("info", "--format", "{{.Host.OCIRuntime.Path}} {{.Host.CgroupManager}} {{.Host.EventLogger}}")
        self.lane.note(f"podman info: {r.out.strip()}")

    def stop(self):
        pass  # no daemon; conmon processes are checked by the leftover step

    def load_image(self):
        r = self.lane.run(private_var_lib(self.argv("load", "-i", self.lane.image_tar)), timeout=180,
                          env=self.env, cwd=self.dir)
        if r.rc != 0:
            raise StepError(f"`podman load` exited {r.rc}: {(r.err or r.out).strip()[-800:]}")

    def run_oom(self, cid, cmd, memory):
        """Podman 4.3.1 with conmon 2.1.6 loses the OOM report of a plain `podman run`: conmon
        writes its "oom" file into its working directory (podman passes no --persist-dir and sets
        no cmd.Dir), while podman looks for it in the container's bundle (StaticDir); fixed in
        Podman 5.0 (commit 667311c "Use persist dir for oom file"). So: create, then `start -a`
        from the bundle directory, where podman finds what conmon wrote."""
        a = ["create", "--name", cid] + self.run_flags() + ["--memory", str(memory), "--memory-swap", str(memory)]
        self.cli(*a, IMAGE, *cmd)
        bundle = self.inspect(cid, "{{.StaticDir}}")
        self.oom_bundle = bundle
        return self.lane.run(self.argv("start", "-a", cid), timeout=120, env=self.env,
                             stdin=subprocess.DEVNULL, cwd=bundle)

    def oom_evidence(self, cid, since):
        # Podman 4.3 has no OOM event (libpod/events knows no such status); its OOM report is
        # State.OOMKilled, set from the "oom" file conmon writes when the memory cgroup's
        # cgroup.event_control eventfd fires.
        oom = self.inspect(cid, "{{.State.OOMKilled}}")
        f = os.path.exists(os.path.join(getattr(self, "oom_bundle", "/nonexistent"), "oom"))
        return oom == "true", f"State.OOMKilled={oom}, conmon's oom file in the bundle: {f}"

    def runtime_state_dirs(self):
        # Podman passes no --root: the runtime's default /run/<name> (the lane's private /run)
        return ["/run/" + self.rtname, self.path("libpod-tmp")]

    def expected_mounts(self):
        return [self.path("storage", "overlay")]

    def expected_cgroups(self):
        # with cgroupfs, Podman moves every conmon into <cgroup parent>/conmon and leaves it there
        return [self.cgroup_parent + "/conmon"]


# ------------------------------------------------------------------------------------------------
class Containerd(Engine):
    name = "containerd"
    packages = ["containerd"]
    ns = "rtlane"
    pids_at_run = False
    pids_at_run_why = "ctr 1.6 run has no pids flag (--memory-limit, --cpus, --cpu-shares, --cpu-quota only) and no update verb"

    def __init__(self, lane, runtime):
        super().__init__(lane, runtime)
        self.sock = self.path("containerd.sock")
        self.events = None

    def argv(self, *args):
        return ["/usr/bin/ctr", "--address", self.sock, "--namespace", self.ns] + list(args)

    def start(self):
        write_containerd_config(self.path("config.toml"), self.dir, self.sock)
        self.spawn_daemon(["/usr/bin/containerd", "--config", self.path("config.toml")], self.socket_ready(self.sock),
                          os.path.join(self.lane.logdir, "containerd-containerd.log"))
        self.cli("version")

    def runc_flags(self):
        return ["--runc-binary", self.runtime, "--runc-root", self.path("runc-root")]

    def run_argv(self, cid, cmd, tty=False, rm=True, detach=False, memory=None, pids=None, memory_swap=None):
        a = ["run", "--cgroup", f"{self.cgroup_parent}/{cid}", "--seccomp", "--log-uri" if detach else None,
             f"file://{self.path('logs', cid + '.log')}" if detach else None] + self.runc_flags()
        a = [x for x in a if x is not None]
        if detach:
            os.makedirs(self.path("logs"), exist_ok=True)
        if rm:
            a.append("--rm")
        if detach:
            a.append("-d")
        if tty:
            a.append("-t")
        if memory:
            a += ["--memory-limit", str(memory)]
        return self.argv(*a, IMAGE, cid, *cmd)

    def exec_argv(self, cid, cmd, tty=False):
        self.lane.seq += 1
        return self.argv("task", "exec", *(["-t"] if tty else []), "--exec-id", f"x{self.lane.seq}", cid, *cmd)

    def tasks(self):
        """{id: (pid, status)} from `ctr task ls`."""
        out = {}
        for line in self.cli("task", "ls").out.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3:
                out[f[0]] = (int(f[1]), f[2])
        return out

    def init_pid(self, cid):
        return self.tasks()[cid][0]

    def status(self, cid):
        t = self.tasks().get(cid)
        return t[1].lower() if t else "no task"

    def pause(self, cid):
        self.cli("task", "pause", cid)

    def unpause(self, cid):
        self.cli("task", "resume", cid)

    def update_memory(self, cid, nbytes):
        raise NotApplicable("ctr 1.6 has no update verb (`ctr task --help`: attach checkpoint delete exec list kill "
                            "pause ps resume start metrics); the shim's Update -> `runtime update --resources -` "
                            "path is the one Docker's update step takes")

    def _wait_stopped(self, cid, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.status(cid) == "stopped":
                return
            time.sleep(0.2)
        raise StepError(f"task {cid} not stopped after {timeout}s ({self.status(cid)})")

    def _delete_task(self, cid):
        """`ctr task delete` returns the task's exit status only as a warning line
        ("task X exit with non-zero exit code 143"); its own exit status is 0."""
        r = self.cli("task", "delete", cid)
        m = re.search(r"exit with non-zero exit code (\d+)", r.err)
        return int(m.group(1)) if m else 0

    def stop_ctr(self, cid, timeout=30):
        self.cli("task", "kill", "--signal", "SIGTERM", cid)
        self._wait_stopped(cid, timeout)
        self.last_exit = self._delete_task(cid)

    def exit_code(self, cid):
        return self.last_exit

    def start_ctr(self, cid):
        r = self.cli("task", "start", "-d", "--log-uri", f"file://{self.path('logs', cid + '.log')}", cid, check=False)
        if r.rc != 0:
            raise StepError(f"ctr task start -d {cid} exited {r.rc}: {(r.err or r.out).strip()}")

    def kill_ctr(self, cid):
        self.cli("task", "kill", "--signal", "SIGKILL", cid)

    def wait_exit(self, cid, timeout=30):
        self._wait_stopped(cid, timeout)
        self.last_exit = self._delete_task(cid)
        return self.last_exit

    def top(self, cid):
        return self.cli("task", "ps", cid).out

    def logs(self, cid):
        try:
            with open(self.path("logs", cid + ".log"), errors="replace") as f:
                return f.read()
        except OSError as e:
            raise StepError(f"no log file: {e}")

    def rm(self, cid, force=False):
        if force:
            t = self.tasks().get(cid)
            if t:
                if t[1] != "STOPPED":
                    self.cli("task", "kill", "--signal", "SIGKILL", cid, check=False)
                    self._wait_stopped(cid, 30)
                self.cli("task", "delete", cid, check=False)
        self.cli("container", "rm", cid)

    def list_ids(self):
        return self.cli("container", "ls", "-q").out.split() + [f"task:{t}" for t in self.tasks()]

    def watch_events(self):
        f = open(self.path("events.log"), "wb")
        self.events = subprocess.Popen(self.argv("events"), stdout=f, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        f.close()

    def stop_events(self):
        p, self.events = self.events, None
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def oom_evidence(self, cid, since):
        end = time.monotonic() + 10
        while True:
            with open(self.path("events.log"), errors="replace") as f:
                lines = [ln.strip() for ln in f if cid in ln]
            if any("/tasks/oom" in ln for ln in lines) or time.monotonic() > end:
                break
            time.sleep(0.5)
        topics = [ln.split()[3] if len(ln.split()) > 3 else ln for ln in lines]
        return any("/tasks/oom" in ln for ln in lines), f"events for {cid}: {topics}"

    def load_image(self):
        self.cli("images", "import", self.lane.image_tar, timeout=180)

    def remove_image(self):
        self.cli("images", "rm", IMAGE, check=False)

    def stop(self):
        self.stop_events()
        self.stop_daemons()

    def runtime_state_dirs(self):
        return [self.path("runc-root"), "/run/" + os.path.basename(self.runtime)]


ENGINES = {"containerd": Containerd, "podman": Podman, "docker": Docker}
