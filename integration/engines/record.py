"""--record: what the engines call the runtime with. The lane points the engine at a wrapper
script in its temp dir (never committed) that writes one JSON file per call (argv, what stdin is,
stdin itself where the runtime reads it: `update -r -`, the `exec --process` JSON, a summary of
config.json for `create`/`run`) and then execs the real runtime, so the engine sees no difference
but the wrapper's path. The wrapper is named after the runtime (Podman decides on --log-format=json
by the runtime's name)."""

import collections
import json
import os
import re

WRAPPER = r'''#!/usr/bin/python3 -I
import json, os, sys, time
REAL = %(real)r
DIR = %(dir)r
args = sys.argv[1:]
rec = {"t": time.time(), "pid": os.getpid(), "argv": args}
try:
    rec["stdin_is"] = os.readlink("/proc/self/fd/0")
except OSError:
    rec["stdin_is"] = None
def value(flag):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a[len(flag) + 1:]
    return None
res = value("--resources") or value("-r")
if res == "-":
    data = sys.stdin.buffer.read()
    rec["stdin"] = data.decode(errors="replace")
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    os.dup2(r, 0)
    os.close(r)
elif res:
    try:
        rec["resources_file"] = open(res).read()
    except OSError as e:
        rec["resources_file"] = str(e)
proc = value("--process") or value("-p")
if proc and "exec" in args:
    try:
        rec["process"] = json.load(open(proc))
    except (OSError, ValueError) as e:
        rec["process"] = str(e)
if "create" in args or "run" in args:
    b = value("--bundle") or value("-b") or "."
    try:
        c = json.load(open(os.path.join(b, "config.json")))
        lx = c.get("linux", {})
        rec["config"] = {
            "terminal": c.get("process", {}).get("terminal", False),
            "args": c.get("process", {}).get("args"),
            "hooks": {k: [h.get("path") for h in v] for k, v in (c.get("hooks") or {}).items()},
            "seccomp": bool(lx.get("seccomp")),
            "seccomp_default": (lx.get("seccomp") or {}).get("defaultAction"),
            "cgroupsPath": lx.get("cgroupsPath"),
            "resources": sorted((lx.get("resources") or {}).keys()),
            "sysctl": sorted((lx.get("sysctl") or {}).keys()),
            "namespaces": [n.get("type") + ("=" + n["path"] if n.get("path") else "") for n in lx.get("namespaces", [])],
            "rlimits": [(r.get("type"), r.get("hard")) for r in c.get("process", {}).get("rlimits", [])],
            "mounts": len(c.get("mounts", [])),
        }
    except (OSError, ValueError) as e:
        rec["config"] = str(e)
try:
    with open(os.path.join(DIR, "%%.6f-%%d.json" %% (rec["t"], rec["pid"])), "w") as f:
        json.dump(rec, f)
except OSError:
    pass
os.execv(REAL, [REAL] + args)
'''


def make_wrapper(real, tmp):
    """Writes the wrapper to tmp/record/bin/<name of the runtime>; returns (wrapper, call dir)."""
    d = os.path.join(tmp, "record")
    calls = os.path.join(d, "calls")
    os.makedirs(os.path.join(d, "bin"), exist_ok=True)
    os.makedirs(calls, exist_ok=True)
    path = os.path.join(d, "bin", os.path.basename(real))
    with open(path, "w") as f:
        f.write(WRAPPER % {"real": real, "dir": calls})
    os.chmod(path, 0o755)
    return path, calls


def load_calls(calls_dir, since=0.0, until=None):
    out = []
    for fn in sorted(os.listdir(calls_dir)):
        try:
            with open(os.path.join(calls_dir, fn)) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            continue
        if rec["t"] >= since and (until is None or rec["t"] <= until):
            out.append(rec)
    return out


# flags whose values vary per call (paths, ids) and are replaced by a placeholder
_VALUED = {"--root", "--log", "--log-format", "--bundle", "-b", "--pid-file", "--console-socket", "--process",
           "-p", "--resources", "-r", "--format", "-f", "--criu", "--preserve-fds", "--cgroup-manager"}
_KEEP_VALUE = {"--log-format", "--format", "-f", "--preserve-fds", "--cgroup-manager"}


def shape(argv, ids):
    """An invocation with paths and container ids replaced: ('--root <dir> create --bundle <dir> <id>')."""
    out = []
    i = 0
    while i < len(argv):
        a = argv[i]
        flag, eq, val = a.partition("=")
        if eq and flag in _VALUED:
            out.append(flag + "=" + (val if flag in _KEEP_VALUE else ("-" if val == "-" else "<path>")))
        elif a in _VALUED and i + 1 < len(argv):
            v = argv[i + 1]
            out.append(a + " " + (v if a in _KEEP_VALUE or v == "-" else "<path>"))
            i += 1
        elif a in ids or re.fullmatch(r"[0-9a-f]{64}", a) or re.fullmatch(r"rtlane-[\w.-]+", a):
            out.append("<id>")
        elif re.fullmatch(r"\d+", a) and out and out[-1] == "<id>":
            out.append(a)  # kill ID <signal number>
        else:
            out.append(a)
        i += 1
    return " ".join(out)


def _process_shape(p):
    if not isinstance(p, dict):
        return str(p)
    keys = {}
    for k, v in sorted(p.items()):
        if isinstance(v, dict):
            keys[k] = sorted(v.keys())
        elif isinstance(v, list):
            keys[k] = f"[{len(v)}]" if k != "args" else v
        else:
            keys[k] = v if k in ("terminal", "noNewPrivileges", "apparmorProfile", "oomScoreAdj") else type(v).__name__
    return keys


def _paths(argv, tmp):
    """The --root / --log / --bundle ... values of one call, the lane's temp dir and ids elided."""
    out = []
    for i, a in enumerate(argv):
        flag, eq, val = a.partition("=")
        if eq and flag in ("--root", "--log", "--bundle", "--pid-file", "--process", "--console-socket"):
            out.append((flag, val))
        elif a in ("--root", "--log", "--bundle", "-b", "--pid-file", "--process", "--console-socket") and i + 1 < len(argv):
            out.append((a, argv[i + 1]))
    res = []
    for flag, v in out:
        v = v.replace(tmp, "<tmp>") if tmp else v
        v = re.sub(r"[0-9a-f]{64}", "<id>", v)
        v = re.sub(r"rtlane-[\w-]+?(?=/|$|\.)", "<id>", v)
        v = re.sub(r"\d{6,}", "<n>", v)
        res.append(f"{flag} {v}")
    return res


def summarize(calls, ids=(), tmp=None):
    """Distinct invocation shapes with counts, plus the paths they pass, the exec process JSON
    shapes, the `update` input and the create config summaries (deduplicated)."""
    shapes = collections.Counter(shape(c["argv"], set(ids)) for c in calls)
    paths = collections.Counter(p for c in calls for p in _paths(c["argv"], tmp))
    procs = collections.Counter(json.dumps(_process_shape(c["process"]), sort_keys=True)
                                for c in calls if "process" in c)
    stdins = collections.Counter(c["stdin"] for c in calls if c.get("stdin") is not None)
    stdins.update(c["resources_file"] for c in calls if c.get("resources_file") is not None)

    def conf(c):
        if not isinstance(c, dict):
            return str(c)
        c = {k: v for k, v in c.items() if k != "args"}
        if c.get("cgroupsPath"):
            c["cgroupsPath"] = re.sub(r"[0-9a-f]{64}", "<id>", re.sub(r"rtlane-[\w-]+", "<id>", c["cgroupsPath"]))
        c["hooks"] = {k: [re.sub(r"/proc/\d+/", "/proc/<pid>/", p or "") for p in v] for k, v in c.get("hooks", {}).items()}
        return json.dumps(c, sort_keys=True)
    configs = collections.Counter(conf(c["config"]) for c in calls if "config" in c)
    return {"invocations": shapes, "paths": paths, "exec_process": procs, "update_stdin": stdins, "create_config": configs}


def report(name, summary, out):
    out.write(f"### {name}: runtime invocations\n\n```\n")
    for s, n in sorted(summary["invocations"].items()):
        out.write(f"{n:4d}  {s}\n")
    out.write("```\n")
    if summary["paths"]:
        out.write("\npaths passed:\n\n```\n")
        for s, n in sorted(summary["paths"].items()):
            out.write(f"{n:4d}  {s}\n")
        out.write("```\n")
    if summary["exec_process"]:
        out.write("\nexec --process JSON (keys; args as given):\n\n```\n")
        for s, n in summary["exec_process"].items():
            out.write(f"{n:4d}  {s}\n")
        out.write("```\n")
    if summary["update_stdin"]:
        out.write("\nupdate input (stdin or --resources file):\n\n```\n")
        for s, n in summary["update_stdin"].items():
            out.write(f"{n:4d}  {s.strip()}\n")
        out.write("```\n")
    if summary["create_config"]:
        out.write("\ncreate/run config.json (summary):\n\n```\n")
        for s, n in summary["create_config"].items():
            out.write(f"{n:4d}  {s}\n")
        out.write("```\n")
    out.write("\n")
