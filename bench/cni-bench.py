#!/usr/bin/env python3
"""cni-bench.py: times CNI ADD and DEL the way a container runtime runs them.

Used by cni-add-latency.sh; see README.md.  Two subcommands:

  run     exec one CNI plugin for every pod namespace: all ADDs, then all
          DELs.  Each call is timed from just before the exec until the
          plugin has exited (monotonic clock, ns resolution).  Writes the
          samples and the checks' results to a JSON file.
  report  reads the files of 'run' (and optionally the ovn-controller-ext
          logs) and prints a table and one line of JSON.

The plugin is given what libcni (containerd, CRI-O, podman) gives it:
  - environment: the caller's environment plus CNI_COMMAND, CNI_CONTAINERID,
    CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH;
  - stdin: the conflist's plugin object with "cniVersion" and "name" of the
    list injected (and "runtimeConfig" only when the plugin declares
    capabilities, which the benchmark's conflists do not);
  - DEL gets the cached ADD result as "prevResult" (cniVersion >= 0.4.0),
    as containerd's StopPodSandbox does;
  - CNI_ARGS as containerd's CRI plugin builds it:
    IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;
    K8S_POD_INFRA_CONTAINER_ID=..;K8S_POD_UID=..
The driver itself is the same for every plugin, so its own overhead (fork,
exec, pipes) is the same on both sides of a ratio.
"""

import argparse
import concurrent.futures
import json
import math
import os
import re
import secrets
import subprocess
import sys
import time
import uuid


# --------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------

def load_plugin_conf(path):
    """The stdin for the (single) plugin of conflist 'path', as libcni's
    buildOneConfig makes it."""
    with open(path) as f:
        lst = json.load(f)
    plugins = lst.get("plugins")
    if not plugins or len(plugins) != 1:
        sys.exit(f"{path}: want a conflist with exactly one plugin")
    conf = dict(plugins[0])
    conf["cniVersion"] = lst["cniVersion"]
    conf["name"] = lst["name"]
    return conf


class Pod:
    def __init__(self, index, netns, conf, pod_ns):
        self.index = index
        self.netns = netns
        self.conf = conf
        self.name = "pod-%03d" % index
        self.pod_ns = pod_ns
        self.new_sandbox()

    def new_sandbox(self):
        """A fresh sandbox (container id, pod UID), as for a new pod."""
        self.container_id = secrets.token_hex(32)
        self.uid = str(uuid.uuid4())
        self.result = None

    def cni_args(self):
        return ";".join([
            "IgnoreUnknown=1",
            "K8S_POD_NAMESPACE=" + self.pod_ns,
            "K8S_POD_NAME=" + self.name,
            "K8S_POD_INFRA_CONTAINER_ID=" + self.container_id,
            "K8S_POD_UID=" + self.uid,
        ])


def exec_plugin(binary, cni_path, ifname, pod, command):
    """Runs one CNI command; returns (ns, returncode, stdout, stderr)."""
    conf = dict(pod.conf)
    if command == "DEL" and pod.result is not None:
        conf["prevResult"] = pod.result
    stdin = json.dumps(conf).encode()
    env = dict(os.environ)
    env.update({
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": pod.container_id,
        "CNI_NETNS": pod.netns,
        "CNI_IFNAME": ifname,
        "CNI_ARGS": pod.cni_args(),
        "CNI_PATH": cni_path,
    })
    t0 = time.perf_counter_ns()
    p = subprocess.run([binary], input=stdin, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t1 = time.perf_counter_ns()
    return (t1 - t0, p.returncode, p.stdout, p.stderr)


def check_add(pod, rc, out, err):
    """Returns None if the ADD succeeded with a usable result, else why."""
    if rc != 0:
        return "exit %d: %s %s" % (rc, out.decode(errors="replace").strip(),
                                   err.decode(errors="replace").strip())
    try:
        res = json.loads(out)
    except ValueError:
        return "exit 0 but stdout is not JSON: %r" % out[:200]
    if not isinstance(res, dict) or not res.get("ips"):
        return "exit 0 but the result has no ips: %r" % out[:300]
    pod.result = res
    return None


def check_del(pod, rc, out, err):
    if rc != 0:
        return "exit %d: %s %s" % (rc, out.decode(errors="replace").strip(),
                                   err.decode(errors="replace").strip())
    return None


def run_phase(args, pods, command, concurrency):
    """Runs 'command' for every pod (in order, 'concurrency' at a time).
    Returns (samples_ms in pod order, errors, wall_ms)."""
    check = check_add if command == "ADD" else check_del

    def one(pod):
        ns, rc, out, err = exec_plugin(args.bin, args.cni_path, args.ifname,
                                       pod, command)
        return ns, check(pod, rc, out, err)

    samples = [None] * len(pods)
    errors = []
    t0 = time.perf_counter_ns()
    if concurrency <= 1:
        for i, pod in enumerate(pods):
            ns, e = one(pod)
            samples[i] = ns / 1e6
            if e:
                errors.append("%s %s (%s): %s" % (command, pod.name,
                                                  pod.netns, e))
    else:
        with concurrent.futures.ThreadPoolExecutor(concurrency) as ex:
            futs = {ex.submit(one, pod): i for i, pod in enumerate(pods)}
            for f in concurrent.futures.as_completed(futs):
                i = futs[f]
                ns, e = f.result()
                samples[i] = ns / 1e6
                if e:
                    errors.append("%s %s (%s): %s" % (command, pods[i].name,
                                                      pods[i].netns, e))
    wall = (time.perf_counter_ns() - t0) / 1e6
    return samples, errors, wall


def ns_name(path):
    return os.path.basename(path)


def pod_addrs(pod, ifname):
    """IPv4 addresses (CIDR) on 'ifname' inside the pod netns, or None if
    the interface does not exist."""
    p = subprocess.run(["ip", "-n", ns_name(pod.netns), "-j", "-4", "addr",
                        "show", "dev", ifname],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if p.returncode != 0:
        return None
    addrs = []
    for link in json.loads(p.stdout or b"[]"):
        for a in link.get("addr_info", []):
            addrs.append("%s/%s" % (a["local"], a["prefixlen"]))
    return addrs


def verify_after_add(args, pods):
    """Every pod has 'ifname' with the address of its result, and no two
    pods share an address."""
    errors = []
    seen = {}
    for pod in pods:
        want = pod.result["ips"][0]["address"]
        have = pod_addrs(pod, args.ifname)
        if have is None:
            errors.append("%s: no %s in %s after ADD" % (pod.name, args.ifname,
                                                       pod.netns))
        elif want not in have:
            errors.append("%s: %s has %s, result says %s"
                          % (pod.name, args.ifname, have, want))
        if want in seen:
            errors.append("%s and %s both got %s" % (seen[want], pod.name,
                                                     want))
        seen[want] = pod.name
    return errors


def verify_after_del(args, pods):
    errors = []
    for pod in pods:
        if pod_addrs(pod, args.ifname) is not None:
            errors.append("%s: %s still in %s after DEL"
                          % (pod.name, args.ifname, pod.netns))
    return errors


def cmd_run(args):
    with open(args.netns_file) as f:
        netns = [l.strip() for l in f if l.strip()]
    confs = [load_plugin_conf(c) for c in args.conflist]
    pods = [Pod(i, n, confs[i % len(confs)], args.pod_namespace)
            for i, n in enumerate(netns)]

    # Warm the page cache for the binaries (a node runs them all the time).
    subprocess.run([args.bin], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={"CNI_COMMAND": "VERSION", "PATH": os.environ["PATH"]})

    out = {"plugin": args.label, "binary": args.bin, "pods": len(pods),
           "rounds": [], "errors": []}

    # The driver's own cost: the same exec, env and pipes around /bin/true.
    floor = []
    for _ in range(20):
        t0 = time.perf_counter_ns()
        subprocess.run(["/bin/true"], input=b"{}", env=dict(os.environ),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        floor.append((time.perf_counter_ns() - t0) / 1e6)
    out["exec_floor_ms"] = floor
    for conc in args.concurrency:
        for pod in pods:
            pod.new_sandbox()
        rnd = {"concurrency": conc,
               "container_ids": [pod.container_id for pod in pods]}
        rnd["add_ms"], errs, rnd["add_wall_ms"] = run_phase(args, pods,
                                                             "ADD", conc)
        out["errors"] += errs
        if not errs:
            out["errors"] += verify_after_add(args, pods)
        if args.after_add_hook:
            p = subprocess.run(["bash", "-c", args.after_add_hook],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if p.returncode != 0:
                out["errors"].append("after-ADD check (%s) failed: %s"
                                     % (args.after_add_hook,
                                        p.stdout.decode(errors="replace")
                                        .strip()))
        rnd["del_ms"], errs, rnd["del_wall_ms"] = run_phase(args, pods,
                                                             "DEL", conc)
        out["errors"] += errs
        out["errors"] += verify_after_del(args, pods)
        out["rounds"].append(rnd)
        print("  %-7s concurrency %d: ADD wall %.0f ms, DEL wall %.0f ms, "
              "%d error(s) so far" % (args.label, conc, rnd["add_wall_ms"],
                                      rnd["del_wall_ms"], len(out["errors"])),
              file=sys.stderr)
        if out["errors"]:
            break
    with open(args.out, "w") as f:
        json.dump(out, f)
    for e in out["errors"][:20]:
        print("ERROR: " + e, file=sys.stderr)
    if len(out["errors"]) > 20:
        print("ERROR: ... and %d more" % (len(out["errors"]) - 20),
              file=sys.stderr)
    return 1 if out["errors"] else 0


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def pct(samples, p):
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(samples)
    if not s:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(s)))
    return s[k - 1]


def stats(samples):
    return {
        "min": min(samples),
        "p50": pct(samples, 50),
        "mean": sum(samples) / len(samples),
        "p99": pct(samples, 99),
        "max": max(samples),
    }


READY_RE = re.compile(r"ADD (\S+)/\S+ port \S+ on \S+: \S+ \S+ "
                      r"ready in ([\d.]+) ms \(nb ([\d.]+), plumb ([\d.]+), "
                      r"ovs ([\d.]+), installed ([\d.]+)\)")
DEL_RE = re.compile(r"\|DEL (\S+)/\S+ done in (\d+) ms")
PHASES = ("total", "nb", "plumb", "ovs", "installed")


def daemon_phases(logs):
    """ovn-controller-ext's own timings from its logs: {container id:
    {"total", "nb", ..., "del"}} and the WARN/ERR lines."""
    by_cid = {}
    warns = []
    for path in logs:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    m = READY_RE.search(line)
                    if m:
                        d = by_cid.setdefault(m.group(1), {})
                        for k, v in zip(PHASES, m.groups()[1:]):
                            d[k] = float(v)
                    m = DEL_RE.search(line)
                    if m:
                        by_cid.setdefault(m.group(1), {})["del"] = \
                            float(m.group(2))
                    if "|WARN|" in line or "|ERR|" in line or "|EMER|" in line:
                        warns.append("%s: %s" % (os.path.basename(
                            os.path.dirname(path)), line.rstrip()))
        except OSError:
            pass
    return by_cid, warns


def r3(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) \
        else round(x, 3)


def cmd_report(args):
    runs = {}
    for path in args.results:
        with open(path) as f:
            r = json.load(f)
        runs[r["plugin"]] = r

    order = [k for k in ("ovn_lm", "bridge") if k in runs] + \
        [k for k in runs if k not in ("ovn_lm", "bridge")]
    js = {}
    print()
    print("CNI latency per call, ms (wall time from exec until the plugin "
          "exited 0 with its result)")
    hdr = "%-8s %4s %4s %-4s %9s %9s %9s %9s %9s %10s" % (
        "plugin", "conc", "pods", "cmd", "min", "p50", "mean", "p99", "max",
        "wall")
    print(hdr)
    print("-" * len(hdr))
    for name in order:
        r = runs[name]
        js[name] = {"pods": r["pods"]}
        for rnd in r["rounds"]:
            c = rnd["concurrency"]
            for cmd in ("add", "del"):
                s = stats(rnd[cmd + "_ms"])
                print("%-8s %4d %4d %-4s %9.2f %9.2f %9.2f %9.2f %9.2f %10.0f"
                      % (name, c, r["pods"], cmd.upper(), s["min"], s["p50"],
                         s["mean"], s["p99"], s["max"],
                         rnd[cmd + "_wall_ms"]))
                key = "" if c == 1 else "c%d_" % c
                for k, v in s.items():
                    js[name]["%s%s_%s_ms" % (key, cmd, k)] = r3(v)
                js[name]["%s%s_wall_ms" % (key, cmd)] = \
                    r3(rnd[cmd + "_wall_ms"])
    print("(wall: the whole phase, all pods; conc 1 = sequential, as a "
          "kubelet does per pod)")
    floor = [x for r in runs.values() for x in r.get("exec_floor_ms", [])]
    if floor:
        js["exec_floor_p50_ms"] = r3(pct(floor, 50))
        print("(the driver's own floor, exec of /bin/true the same way: "
              "p50 %.2f ms)" % pct(floor, 50))

    if "ovn_lm" in runs and "bridge" in runs:
        print()
        print("ratio ovn-lm / bridge:")
        a, b = runs["ovn_lm"], runs["bridge"]
        for ra, rb in zip(a["rounds"], b["rounds"]):
            c = ra["concurrency"]
            key = "" if c == 1 else "c%d_" % c
            for cmd in ("add", "del"):
                sa, sb = stats(ra[cmd + "_ms"]), stats(rb[cmd + "_ms"])
                p50 = sa["p50"] / sb["p50"]
                p99 = sa["p99"] / sb["p99"]
                print("  conc %d %s: p50 %.2fx  p99 %.2fx"
                      % (c, cmd.upper(), p50, p99))
                if cmd == "add":
                    js["%sratio_p50" % key] = r3(p50)
                    js["%sratio_p99" % key] = r3(p99)
                else:
                    js["%sratio_del_p50" % key] = r3(p50)
                    js["%sratio_del_p99" % key] = r3(p99)

    if args.daemon_log and "ovn_lm" in runs:
        by_cid, warns = daemon_phases(args.daemon_log)
        print()
        print("ovn-controller-ext's own view, from its log lines \"ADD ... "
              "ready in X ms (nb, plumb, ovs,")
        print("installed)\" and \"DEL ... done in X ms\" (whole ms); "
              "phases are consecutive;")
        print("outside = ADD wall time above minus the daemon's total "
              "(exec, plugin, socket), ms:")
        print("  %4s %-10s %4s %9s %9s %9s %9s %9s" % (
            "conc", "phase", "n", "min", "p50", "mean", "p99", "max"))
        for rnd in runs["ovn_lm"]["rounds"]:
            c = rnd["concurrency"]
            key = "" if c == 1 else "c%d_" % c
            phases = {}
            for k in PHASES + ("del",):
                v = [by_cid[cid][k] for cid in rnd["container_ids"]
                     if k in by_cid.get(cid, {})]
                if not v:
                    continue
                s = stats(v)
                phases[key + k + "_p50_ms"] = r3(s["p50"])
                phases[key + k + "_p99_ms"] = r3(s["p99"])
                print("  %4d %-10s %4d %9.2f %9.2f %9.2f %9.2f %9.2f"
                      % (c, k, len(v), s["min"], s["p50"], s["mean"],
                         s["p99"], s["max"]))
            # What the daemon's "ready in" does not cover: exec, the
            # plugin's own work (config checks, attachment record), the
            # socket round trip and the exit.
            v = [w - by_cid[cid]["total"] for cid, w in
                 zip(rnd["container_ids"], rnd["add_ms"])
                 if "total" in by_cid.get(cid, {})]
            if v:
                s = stats(v)
                phases[key + "outside_p50_ms"] = r3(s["p50"])
                phases[key + "outside_p99_ms"] = r3(s["p99"])
                print("  %4d %-10s %4d %9.2f %9.2f %9.2f %9.2f %9.2f"
                      % (c, "outside", len(v), s["min"], s["p50"],
                         s["mean"], s["p99"], s["max"]))
            js["ovn_lm"].setdefault("daemon", {}).update(phases)
        if warns:
            print()
            print("ovn-controller-ext WARN/ERR lines (%d):" % len(warns))
            for w in warns[:10]:
                print("  " + w)
            if len(warns) > 10:
                print("  ... %d more" % (len(warns) - 10))

    print()
    print(json.dumps(js, separators=(",", ":")))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run")
    r.add_argument("--label", required=True)
    r.add_argument("--bin", required=True, help="the CNI plugin binary")
    r.add_argument("--cni-path", required=True)
    r.add_argument("--conflist", action="append", required=True,
                   help="conflist; several are used round-robin over pods")
    r.add_argument("--netns-file", required=True,
                   help="file with one pod netns path a line")
    r.add_argument("--ifname", default="eth0")
    r.add_argument("--pod-namespace", default="bench")
    r.add_argument("--concurrency", type=int, action="append",
                   help="one round per value, in order (default: 1)")
    r.add_argument("--after-add-hook",
                   help="bash command run after all ADDs of a round; "
                        "non-zero exit is an error")
    r.add_argument("--out", required=True)

    p = sub.add_parser("report")
    p.add_argument("results", nargs="+")
    p.add_argument("--daemon-log", action="append")

    args = ap.parse_args()
    if args.cmd == "run":
        args.concurrency = args.concurrency or [1]
        return cmd_run(args)
    return cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
