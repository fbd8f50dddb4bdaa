#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the project's own test data: the integration suite's
config, `rt spec`'s two configs, the JSON literals of the unit tests (resources, seccomp,
processes, state), the containers-common seccomp profile where it is installed, and a few
hand-written lines for the targets that take no JSON. Run from anywhere; the seeds are
committed, the corpus a run grows (fuzz/corpus/) is not."""
import hashlib, json, os, re, sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(top, "fuzz", "seeds")

def read(p):
    with open(os.path.join(top, p), encoding="utf-8") as f:
        return f.read()

def put(target, data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)

configs = [json.loads(read(p).replace("@UID@", "1000").replace("@GID@", "1000")) for p in ["integration/rig/default_config.json", "src/spec/default.json", "src/spec/rootless.json"]]

# JSON literals of the unit tests: r#"{...}"# and r#"[...]"#
literals = []
for dirpath, _, files in os.walk(os.path.join(top, "src")):
    for name in files:
        if name.endswith(".rs"):
            text = open(os.path.join(dirpath, name), encoding="utf-8").read()
            for m in re.finditer(r'r#"(\{.*?\})"#', text, re.S):
                try:
                    literals.append(json.loads(m.group(1)))
                except ValueError:
                    pass

RESOURCE_KEYS = {"memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma", "unified", "devices"}
SECCOMP_KEYS = {"defaultAction", "syscalls", "architectures"}
for lit in literals:
    if not isinstance(lit, dict):
        continue
    keys = set(lit)
    if keys and keys <= RESOURCE_KEYS:
        put("cgroup_resources", lit)
        put("update_resources", lit)
    if keys & SECCOMP_KEYS and "defaultAction" in keys:
        put("seccomp", lit)
    if "args" in keys and "cwd" in keys:
        put("exec_process", lit)
    if "stateVersion" in keys or ("initStartTime" in keys and "cgroup" in keys):
        put("state_json", lit)

for c in configs:
    put("config", json.dumps(c, indent="\t"))
    put("exec_process", c["process"])
    res = c.get("linux", {}).get("resources")
    if res:
        put("cgroup_resources", res)
full = json.loads(json.dumps(configs[0]))
full["linux"]["resources"].update({"memory": {"limit": 67108864, "swap": 134217728, "reservation": 1048576},
                                    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
                                    "pids": {"limit": 64}, "blockIO": {"weight": 500},
                                    "unified": {"memory.high": "max"}})
full["hooks"] = {"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}], "poststop": [{"path": "/bin/true"}]}
full["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                                         {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}
full["mounts"].append({"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "nosuid"]})
put("config", full)
put("cgroup_resources", full["linux"]["resources"])
put("update_resources", full["linux"]["resources"])
put("update_resources", {"memory": {"limit": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0}, "pids": {"limit": 0}})
put("seccomp", full["linux"]["seccomp"])
profile = "/usr/share/containers/seccomp.json"
if os.path.exists(profile):
    put("seccomp", open(profile, "rb").read())

for m in configs[0]["mounts"] + full["mounts"][-1:]:
    put("mount_options", "\n".join([m.get("type", "")] + m.get("options", [])))
put("mount_options", "bind\nrbind\nro\nrro\nnosuid\nnodev\nrecursive\nidmap\nuid=1000\nsize=64k,mode=755")
put("mount_options", "tmpfs\nremount\nstrictatime\nnoatime\nrshared\nrslave\nprivate\nunbindable\nsymfollow\ncopy-up")

for s in ["KILL", "SIGKILL", "kill", "9", "SIGTERM", "usr1", "SIGRTMIN", "sys", "-1", "0", "SIGIOT", "64"]:
    put("signals", s)

state = {"stateVersion": 1, "id": "c1", "pid": 4242, "initStartTime": 98765, "ownPidNs": True,
         "cgroup": {"dirs": [{"path": "/sys/fs/cgroup/cpu/c1", "mount": "/sys/fs/cgroup/cpu", "controllers": ["cpu"]},
                             {"path": "/sys/fs/cgroup/memory/x/c1", "mount": "/sys/fs/cgroup/memory", "controllers": ["memory"]},
                             {"path": "/sys/fs/cgroup/unified/c1", "mount": "/sys/fs/cgroup/unified", "v2": True}]},
         "pidFile": "/run/c1.pid", "initExe": [2049, 1234], "status": "created", "ociVersion": "1.3.0", "bundle": "/b",
         "rootfs": "/b/rootfs", "created": "2026-01-01T00:00:00.000000000Z", "annotations": {"a": "b"}, "owner": "",
         "noNewKeyring": False, "hooks": {"poststop": [{"path": "/bin/true", "args": ["true"], "env": []}]}}
text = json.dumps(state, separators=(",", ":"))
put("state_json", text)
put("state_json", text[: len(text) // 3])
put("state_json", text[: len(text) * 2 // 3])
put("state_json", text.replace('"stateVersion":1', '"stateVersion":2'))
print("seeds in", out, {t: len(os.listdir(os.path.join(out, t))) for t in sorted(os.listdir(out))})
