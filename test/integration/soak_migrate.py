#!/usr/bin/env python3
"""soak_migrate.py - the migrating soak (lab-soak-migrate.sh runs it).

In a lab whose NB and SB are Raft clusters, SOAK_OPS seeded random steps
over SOAK_VMS workloads: live migrations driven through the ovn-lm binary
exactly as a runtime drives it (prepare by the target pod's ADD, activate
by the workload's RARP, complete by the source pod's DEL -- with or
without prevResult, sometimes followed by containerd's late second DEL --,
roll back by the target's DEL, back to back since a completed workload is
migrated again), interleaved with faults: a daemon SIGKILLed or SIGTERMed
and started again, ovn-controller restarted, the NB or SB leader killed
(and its member restarted a few steps later).  A runtime's retries are
played: a CNI call answered 11 is tried again.

After every step the lab is compared with a model: each workload's
logical port (requested-chassis, migration state), its Port_Binding in SB
(chassis, additional_chassis), the ovn-lm ports on every chassis's br-int
and the veths in the chassis namespaces, the plugin's attachment records,
and the reachability of every workload from a client pod.  The first
difference fails the run with the seed to replay it.

Environment: everything lab-common.sh exports, plus SOAK_SEED, SOAK_OPS,
SOAK_VMS, SOAK_VERBOSE, TEST_HERE (this directory).
"""

import json
import os
import random
import re
import subprocess
import sys
import time

E = os.environ
LAB_DIR = E["LAB_DIR"]
PREFIX = E["LAB_PREFIX"]
NCH = int(E["LAB_CHASSIS"])
CNI = E["OVN_LM_CNI"]
HERE = E["TEST_HERE"]
NB = E["LAB_NB_DB"]
SB = E["LAB_SB_DB"]
STATE = os.path.join(LAB_DIR, "cni-state")
VERBOSE = E.get("SOAK_VERBOSE") == "1"
LIB = "set -uo pipefail; . %s/../lab/lib.sh; lab_load; " % HERE


class Diff(Exception):
    pass


def sh(*cmd, check=True, timeout=60):
    for _ in range(10):
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
        # The ctl tools give up on the first member they cannot reach
        # (a killed one): nothing was sent, so try again.
        if "database connection failed" not in r.stderr:
            break
        time.sleep(0.1)
    if check and r.returncode:
        raise Diff("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                           r.stderr.strip()[:300]))
    return r.stdout


def lab(script, check=True):
    """Runs 'script' with test/lab/lib.sh's helpers loaded."""
    return sh("bash", "-c", LIB + script, check=check)


def chassis_name(n):
    return "%s-chassis-%d" % (PREFIX, n)


def pod_ns(pod):
    return "%sp-%s" % (PREFIX, pod)


def wait(pred, secs, what):
    deadline = time.monotonic() + secs
    while True:
        got = pred()
        if got is True:
            return
        if time.monotonic() > deadline:
            raise Diff("%s: still %s after %.0f s" % (what, got, secs))
        time.sleep(0.05)


# ---- the CNI binary, as a runtime runs it ---------------------------------

def conf(n, vm, prev=None):
    """The network configuration on chassis N; for a workload VM, with the
    annotations containerd passes for a KubeVirt virt-launcher pod."""
    c = {"cniVersion": "1.0.0", "name": "ovnlm", "type": "ovn-lm",
         "socket": E["LAB_H%d_DAEMON_SOCK" % n], "stateDir": STATE,
         "logicalSwitch": "ls0", "readyTimeout": 20}
    if vm:
        c["runtimeConfig"] = {"io.kubernetes.cri.pod-annotations": {
            "kubevirt.io/domain": vm,
            "kubevirt.io/allow-pod-bridge-network-live-migration": "",
            "kubernetes.io/config.source": "api"}}
    if prev is not None:
        c["prevResult"] = prev
    return json.dumps(c)


def cni(cmd, n, vm, pod, netns=True, prev=None):
    """One CNI call, retried while it answers 11 (a runtime retries);
    returns the parsed result (ADD) or None; raises Diff on any other
    failure."""
    env = {"PATH": E["PATH"], "CNI_COMMAND": cmd,
           "CNI_CONTAINERID": "cid-" + pod,
           "CNI_NETNS": "/run/netns/" + pod_ns(pod) if netns else "",
           "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin",
           "CNI_ARGS": "K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + pod}
    for attempt in range(60):
        r = subprocess.run([CNI], input=conf(n, vm, prev), env=env,
                           capture_output=True, text=True, timeout=90)
        if r.returncode == 0:
            return json.loads(r.stdout) if cmd == "ADD" else None
        try:
            code = json.loads(r.stdout).get("code")
        except ValueError:
            code = None
        if code != 11:
            raise Diff("%s %s on chassis %d: rc %d %s %s" % (
                cmd, pod, n, r.returncode, r.stdout.strip(), r.stderr.strip()))
        STATS["retries"] += 1
        time.sleep(0.3)
    raise Diff("%s %s: still code 11 after 60 tries" % (cmd, pod))


def netns_add(pod):
    sh("ip", "netns", "add", pod_ns(pod))
    sh("ip", "-n", pod_ns(pod), "link", "set", "lo", "up")


def netns_del(pod):
    sh("ip", "netns", "del", pod_ns(pod), check=False)


# ---- the model -------------------------------------------------------------

class VM:
    def __init__(self, name):
        self.name = name
        self.loc = None         # chassis of the active pod
        self.pod = None         # its pod
        self.prev = None        # its ADD's result (prevResult)
        self.ip = None
        self.mac = None
        self.tgt = None         # (chassis, pod, result) while migrating
        self.state = "none"     # none | prepared | activated | completed
                                # | rolled-back (the port's last word)
        self.seq = 0

    @property
    def lport(self):
        return "default_" + self.name

    def new_pod(self):
        self.seq += 1
        return "%s-%d" % (self.name, self.seq)


STATS = {"retries": 0, "audit_s": 0.0}

# The daemon's host-side veths and OVS ports, as leaks() in lib-cni.sh
# matches them (a lab prefix may start with "lm" too: its links are not).
OUR_LINK = re.compile(r"^lm[0-9a-f]{12}$")


def step_create(vm, n):
    pod = vm.new_pod()
    netns_add(pod)
    res = cni("ADD", n, vm.name, pod)
    vm.loc, vm.pod, vm.prev = n, pod, res
    vm.ip = res["ips"][0]["address"].split("/")[0]
    vm.mac = [i["mac"] for i in res["interfaces"] if i.get("sandbox")][0]


def step_prepare(vm, dst):
    pod = vm.new_pod()
    netns_add(pod)
    res = cni("ADD", dst, vm.name, pod)
    got = res["ips"][0]["address"].split("/")[0]
    if got != vm.ip:
        raise Diff("%s: target got %s, the VM has %s" % (vm.name, got, vm.ip))
    vm.tgt = (dst, pod, res)
    vm.state = "prepared"


def step_activate(vm):
    sh("ip", "netns", "exec", pod_ns(vm.tgt[1]), "python3",
       os.path.join(HERE, "rarp.py"), "eth0")
    def activated():
        got = nb_ports().get(vm.lport, {}).get("state")
        return True if got == "activated" else "state %s" % got
    wait(activated, 15, "%s activation" % vm.name)
    vm.state = "activated"


def step_complete(vm, variant):
    src, pod = vm.loc, vm.pod
    cni("DEL", src, vm.name, pod, prev=vm.prev if variant != "bare" else None)
    if variant == "late-gc":
        # containerd: RemovePodSandbox's DEL, no netns, no prevResult.
        netns_del(pod)
        cni("DEL", src, vm.name, pod, netns=False)
    netns_del(pod)
    vm.loc, vm.pod, vm.prev = vm.tgt[0], vm.tgt[1], vm.tgt[2]
    vm.tgt = None
    vm.state = "completed"


def step_rollback(vm):
    dst, pod, _ = vm.tgt
    cni("DEL", dst, vm.name, pod)
    netns_del(pod)
    vm.tgt = None
    vm.state = "rolled-back"


# ---- faults ------------------------------------------------------------------

def pidfile_pid(path):
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def wait_gone(pid, secs=10):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.02)
    os.kill(pid, 9)


def fault_daemon(n, sig):
    pid = pidfile_pid(E["LAB_H%d_DAEMON_PIDFILE" % n])
    if pid:
        os.kill(pid, sig)
        wait_gone(pid, 30)
    lab("lab_daemon_start %d" % n)


def fault_ovn_controller(n):
    pidf = os.path.join(LAB_DIR, "h%d" % n, "ovn-controller.pid")
    pid = pidfile_pid(pidf)
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    with open("/proc/%d/environ" % pid, "rb") as f:
        envv = [a.decode() for a in f.read().split(b"\0") if a]
    os.kill(pid, 15)
    wait_gone(pid)
    sh("ip", "netns", "exec", "%sh%d" % (PREFIX, n), "env", "-i", *envv,
       *argv)


K8S = {"pid": int(E.get("SOAK_K8S_PID") or 0)}


def fault_api_server():
    """Restarts the API stand-in (SOAK_K8S=1) with its command line; its
    state survives, as a real API server's does in etcd."""
    pid = K8S["pid"]
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    os.kill(pid, 15)
    wait_gone(pid)
    ready = os.path.join(LAB_DIR, "k8s", "standin.out")
    p = subprocess.Popen(["ip", "netns", "exec", "%sc" % PREFIX] + argv,
                         stdout=open(ready, "w"), stderr=subprocess.STDOUT)
    K8S["pid"] = p.pid
    with open(os.path.join(LAB_DIR, "k8s", "standin.pid"), "w") as f:
        f.write("%d\n" % p.pid)
    wait(lambda: True if "ready" in open(ready).read() else "not ready",
         10, "the API stand-in's restart")


DOWN = []   # (db, member, steps left) killed members to restart


def fault_leader(db):
    if any(d == db for d, _, _ in DOWN):
        return False     # one member of each cluster down at a time
    m = lab("lab_db_leader %s" % db).strip()
    lab("lab_db_kill %s %s" % (db, m))
    DOWN.append((db, m, 3))
    return True


def restart_members(force=False):
    for entry in list(DOWN):
        db, m, left = entry
        DOWN.remove(entry)
        if left <= 1 or force:
            lab("lab_db_start %s %s && lab_wait 20 'member %s of %s' "
                "bash -c \"ovs-appctl -t $(lab_db_ctl %s %s) cluster/status "
                "$(lab_db_name %s) | grep -qx 'Role: follower'\"" %
                (db, m, m, db, db, m, db))
        else:
            DOWN.append((db, m, left - 1))


# ---- what exists -------------------------------------------------------------

def run_all(cmds):
    """Runs the commands of the dict 'cmds' (name: argv) at once; returns
    name: (returncode, stdout).  A ctl tool that found a killed member
    first ("database connection failed": nothing was sent) runs again."""
    out = {}
    todo = dict(cmds)
    for _ in range(10):
        procs = {k: subprocess.Popen(v, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                 for k, v in todo.items()}
        again = {}
        for k, p in procs.items():
            o, e = p.communicate(timeout=60)
            if "database connection failed" in e:
                again[k] = todo[k]
            else:
                out[k] = (p.returncode, o)
        if not again:
            break
        todo = again
        time.sleep(0.1)
    return out


def nbctl(*args):
    return ["ovn-nbctl", "--db=" + NB, "--format=json"] + list(args)


def sbctl(*args):
    return ["ovn-sbctl", "--db=" + SB, "--format=json"] + list(args)


def snapshot(ips):
    """What exists, gathered at once: NB ports, SB bindings, each
    chassis's ovn-lm OVS ports and veths, and which IPs answer the
    client."""
    cmds = {"nb": nbctl("--columns=name,options,external_ids", "list",
                        "Logical_Switch_Port"),
            "pb": sbctl("--columns=logical_port,chassis,additional_chassis",
                        "list", "Port_Binding"),
            "ch": sbctl("--columns=_uuid,name", "list", "Chassis")}
    for n in range(1, NCH + 1):
        cmds["ovs%d" % n] = ["ovs-vsctl", "--db=unix:%s/h%d/db.sock" %
                             (LAB_DIR, n), "list-ports", "br-int"]
        cmds["ip%d" % n] = ["ip", "-n", "%sh%d" % (PREFIX, n), "-o", "link",
                            "show"]
    for ip in ips:
        cmds["ping " + ip] = ["ip", "netns", "exec", pod_ns("client"),
                              "ping", "-c", "1", "-W", "1", "-q", ip]
    r = run_all(cmds)
    for k in ("nb", "pb", "ch"):
        if r[k][0]:
            raise Diff("%s: %s failed" % (k, " ".join(cmds[k])))
    snap = {"nb": {}, "sb": {}, "ovs": {}, "veth": {}, "lost": set()}
    for row in json.loads(r["nb"][1])["data"]:
        opts, ext = dict(row[1][1]), dict(row[2][1])
        snap["nb"][row[0]] = {"rc": opts.get("requested-chassis", ""),
                              "state": ext.get("ovn-lm/migration", "none")}
    by_uuid = {x[0][1]: x[1] for x in json.loads(r["ch"][1])["data"]}

    def refs(v):
        if v[0] == "uuid":
            return [by_uuid.get(v[1], v[1])]
        return [by_uuid.get(u[1], u[1]) for u in v[1]]
    for row in json.loads(r["pb"][1])["data"]:
        snap["sb"][row[0]] = (refs(row[1]), refs(row[2]))
    for n in range(1, NCH + 1):
        snap["ovs"][n] = set(x for x in r["ovs%d" % n][1].split()
                             if OUR_LINK.match(x))
        snap["veth"][n] = set(
            l.split(": ")[1].split("@")[0]
            for l in r["ip%d" % n][1].splitlines()
            if OUR_LINK.match(l.split(": ")[1].split("@")[0]))
    snap["lost"] = set(ip for ip in ips if r["ping " + ip][0])
    return snap


def nb_ports():
    return snapshot([])["nb"]


def ovs_ports(n):
    return snapshot([])["ovs"][n]


def veths(n):
    return snapshot([])["veth"][n]


def records():
    d = os.path.join(STATE, "ovnlm")
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def compare(vms, client_n, snap):
    """The first difference between 'snap' and the model, or None."""
    for vm in vms:
        p = snap["nb"].get(vm.lport)
        want_rc = (chassis_name(vm.loc) if not vm.tgt else
                   "%s,%s" % (chassis_name(vm.loc), chassis_name(vm.tgt[0])))
        if p is None:
            return "Northbound: %s missing" % vm.lport
        if (p["rc"], p["state"]) != (want_rc, vm.state):
            return "Northbound: %s requested-chassis=%s state=%s, want " \
                "%s %s" % (vm.lport, p["rc"], p["state"], want_rc, vm.state)
    extra = set(n for n in snap["nb"] if n.startswith("default_vm")) - \
        set(vm.lport for vm in vms)
    if extra:
        return "Northbound: stray ports %s" % extra
    for vm in vms:
        got = snap["sb"].get(vm.lport)
        want = ([chassis_name(vm.loc)],
                [chassis_name(vm.tgt[0])] if vm.tgt else [])
        if got != want:
            return "Southbound: %s bound %s, want %s" % (vm.lport, got, want)
    want_pods = {}
    for vm in vms:
        want_pods.setdefault(vm.loc, set()).add(vm.pod)
        if vm.tgt:
            want_pods.setdefault(vm.tgt[0], set()).add(vm.tgt[1])
    want_pods.setdefault(client_n, set()).add("client")
    for n in range(1, NCH + 1):
        o, v = snap["ovs"][n], snap["veth"][n]
        if len(o) != len(want_pods.get(n, ())) or o != v:
            return "chassis %d: OVS ports %s, veths %s, want %d (%s)" % (
                n, sorted(o), sorted(v), len(want_pods.get(n, ())),
                sorted(want_pods.get(n, ())))
    want_rec = set("cid-%s:eth0" % p for s in want_pods.values() for p in s)
    if records() != want_rec:
        return "records %s, want %s" % (sorted(records()), sorted(want_rec))
    if snap["lost"]:
        return "not reachable from the client: %s" % sorted(snap["lost"])
    return None


def audit(vms, client_n):
    """Compares the lab with the model, everything gathered at once;
    while they differ, gathers again (OVN converges: SB follows NB, flows
    follow SB), up to 15 s; then raises Diff with the difference."""
    t0 = time.monotonic()
    try:
        while True:
            diff = compare(vms, client_n, snapshot([vm.ip for vm in vms]))
            if diff is None:
                return
            if time.monotonic() - t0 > 15:
                raise Diff(diff)
            time.sleep(0.05)
    finally:
        STATS["audit_s"] += time.monotonic() - t0


# ---- the run -------------------------------------------------------------------

def main():
    seed = int(E["SOAK_SEED"])
    ops = int(E.get("SOAK_OPS", "1000"))
    nvms = int(E.get("SOAK_VMS", "5"))
    rnd = random.Random(seed)
    t0 = time.monotonic()
    counts = {}

    client_n = NCH
    netns_add("client")
    cni("ADD", client_n, None, "client")
    vms = [VM("vm%d" % i) for i in range(nvms)]
    for i, vm in enumerate(vms):
        step_create(vm, 1 + i % NCH)
        vm.state = "none"
    audit(vms, client_n)

    i = 0
    try:
        for i in range(1, ops + 1):
            vm = rnd.choice(vms)
            r = rnd.random()
            if r < 0.06:
                kind = rnd.choice(["daemon-kill", "daemon-term",
                                   "ovn-controller", "nb-leader",
                                   "sb-leader"]
                                  + (["api-server"] if K8S["pid"] else []))
                n = rnd.randint(1, NCH)
                what = "%s %s" % (kind, n if "leader" not in kind else "")
                if kind == "daemon-kill":
                    fault_daemon(n, 9)
                elif kind == "daemon-term":
                    fault_daemon(n, 15)
                elif kind == "ovn-controller":
                    fault_ovn_controller(n)
                elif kind == "api-server":
                    fault_api_server()
                elif not fault_leader(kind.split("-")[0]):
                    kind, what = "check", "check"
            elif vm.tgt is None:
                dst = rnd.choice([c for c in range(1, NCH + 1)
                                  if c != vm.loc])
                kind, what = "prepare", "prepare %s %d->%d" % (
                    vm.name, vm.loc, dst)
                step_prepare(vm, dst)
            elif vm.state == "prepared" and r < 0.75:
                kind, what = "activate", "activate %s on %d" % (
                    vm.name, vm.tgt[0])
                step_activate(vm)
            elif vm.state == "activated" and r < 0.85:
                variant = rnd.choice(["prev", "bare", "late-gc"])
                kind, what = "complete", "complete %s (%s)" % (
                    vm.name, variant)
                step_complete(vm, variant)
            else:
                kind, what = "rollback", "rollback %s (%s)" % (
                    vm.name, vm.state)
                step_rollback(vm)
            counts[kind] = counts.get(kind, 0) + 1
            if kind not in ("nb-leader", "sb-leader"):
                restart_members()
            if VERBOSE:
                print("%4d %s" % (i, what), flush=True)
            audit(vms, client_n)
        restart_members(force=True)
        audit(vms, client_n)

        # The end: everything goes, and nothing is left.
        for vm in vms:
            if vm.tgt:
                step_rollback(vm)
            cni("DEL", vm.loc, vm.name, vm.pod, prev=vm.prev)
            netns_del(vm.pod)
        cni("DEL", client_n, None, "client")
        netns_del("client")
        left = [p for p in nb_ports() if p.startswith("default_")]
        left += ["h%d:%s" % (n, p) for n in range(1, NCH + 1)
                 for p in ovs_ports(n) | veths(n)]
        left += sorted(records())
        if left:
            raise Diff("left behind: %s" % left)
    except (Diff, subprocess.TimeoutExpired) as e:
        print("FAIL soak: step %d: %s" % (i, e))
        print("replay: SOAK_SEED=%d SOAK_OPS=%d SOAK_VMS=%d" %
              (seed, ops, nvms))
        return 1
    secs = time.monotonic() - t0
    print("ok   soak: %d steps (%s), %d code-11 retries, in %.0f s (%.0f s "
          "of it comparing); model and lab agreed after every step" % (
              ops, ", ".join("%s %d" % kv for kv in sorted(counts.items())),
              STATS["retries"], secs, STATS["audit_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
