#!/usr/bin/env python3
"""Checks the Kubernetes manifests in manifests/.

usage: check-manifests.py [--manifests DIR] OVN_LM_BINARY OVN_CONTROLLER_EXT_BINARY

Parses every YAML document under manifests/ and checks them against the two
binaries, the plugin's source and a table of the privileges the DaemonSet
may hold (the one manifests/README.md, "Privileges and why", documents).
Prints one "ok", "FAIL" or "skip" line per check and exits 1 if any check
failed, 77 (skipped) if python3-yaml is missing.  A missing binary skips
the checks that run it.  kubectl, when installed, is only run offline
(--local, kustomize): it never contacts a cluster.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import yaml
except ImportError:
    print("skip - python3-yaml is not installed (apt-get install python3-yaml)")
    sys.exit(77)

ROOT = Path(__file__).resolve().parents[2]

# What the DaemonSet may hold: exactly these, documented in
# manifests/README.md, "Privileges and why".  Change both together.
DAEMON_CONTAINER = "ovn-controller-ext"
DAEMON_CAPABILITIES = {"NET_ADMIN", "SYS_ADMIN", "NET_RAW"}
INIT_CAPABILITIES = set()
# Host path -> (container that mounts it, read-only?, same path inside?).
HOST_PATHS = {
    "/var/run/openvswitch": (DAEMON_CONTAINER, True, True),
    "/var/run/netns": (DAEMON_CONTAINER, True, True),
    "/run/ovn-lm": (DAEMON_CONTAINER, False, True),
    "/var/lib/cni/ovn-lm": (DAEMON_CONTAINER, False, True),
    "/opt/cni/bin": ("install-cni", False, False),
    "/etc/cni/net.d": ("install-cni", False, False),
}
# ClusterRole ovn-lm-node: (API group, resource) -> verbs.
RBAC_RULES = {
    ("", "pods"): {"get", "list", "watch"},
    ("kubevirt.io", "virtualmachineinstances"): {"get", "list", "watch"},
    ("kubevirt.io", "virtualmachineinstancemigrations"):
        {"get", "list", "watch"},
    ("", "events"): {"create"},
}
KUSTOMIZATION = ["namespace.yaml", "rbac.yaml", "configmap.yaml",
                 "daemonset.yaml"]

# The runtimeConfig capabilities the plugin reads (man ovn-lm(8),
# runtimeConfig), with a sample value each as a runtime would pass it.
CAPABILITIES = {
    "mac": "0a:58:0a:f4:00:05",
    "ips": ["10.244.0.5/16"],
    "io.kubernetes.cri.pod-annotations": {
        "kubevirt.io/allow-pod-bridge-network-live-migration": "",
    },
}
# Keys of a network configuration list itself (the CNI specification).
CONFLIST_KEYS = {"cniVersion", "cniVersions", "name", "plugins",
                 "disableCheck", "disableGC", "loadOnlyInlinedPlugins"}
# Keys the runtime adds to a plugin's configuration, never written in one.
RUNTIME_KEYS = {"cniVersion", "name", "runtimeConfig", "prevResult",
                "cni.dev/attachments", "cni.dev/valid-attachments"}
DEFAULT_SOCKET = "/run/ovn-lm/ovn-lm.sock"
DEFAULT_STATE_DIR = "/var/lib/cni/ovn-lm"
# The image scripts/build-image.sh builds: this name, tagged with the
# project's version.
IMAGE_NAME = "localhost/ovn-lm"
# Where daemonset.yaml says the image keeps the CNI binary.
IMAGE_CNI_BINARY = "/usr/lib/cni/ovn-lm"
VM_OPT_IN = "kubevirt.io/allow-pod-bridge-network-live-migration"
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
CNI_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def ok(self, cond, what, why=""):
        if cond:
            self.passed += 1
            print(f"ok - {what}")
        else:
            self.failed += 1
            print(f"FAIL - {what}" + (f": {why}" if why else ""))
        return bool(cond)

    def skip(self, what, why):
        print(f"skip - {what}: {why}")

    def note(self, text):
        print(f"note - {text}")


C = Checks()


def get(obj, *path, default=None):
    for key in path:
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
        elif isinstance(obj, list) and isinstance(key, int) \
                and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return default
    return obj


def run(argv, stdin=None, env=None, timeout=30):
    return subprocess.run(argv, input=stdin, env=env, capture_output=True,
                          text=True, timeout=timeout)


# ---------------------------------------------------------------------------
# What the binaries and the source say.

def project_version():
    """VERSION of project(ovn-lm VERSION ...) in CMakeLists.txt."""
    m = re.search(r"^project\(ovn-lm\s+VERSION\s+([0-9][0-9.]*)",
                  (ROOT / "CMakeLists.txt").read_text(), re.M)
    return m.group(1) if m else None


def plugin_known_keys():
    """The top-level configuration keys cni/cni-conf.c knows."""
    src = (ROOT / "cni" / "cni-conf.c").read_text()
    m = re.search(r"known_keys\[\]\s*=\s*\{(.*?)\};", src, re.S)
    return set(re.findall(r'"([^"]+)"', m.group(1))) if m else set()


def plugin_versions(binary):
    """The CNI versions the plugin supports (a VERSION call), or None."""
    r = run([binary], stdin='{"cniVersion": "1.0.0"}',
            env={"CNI_COMMAND": "VERSION"})
    try:
        return set(json.loads(r.stdout)["supportedVersions"])
    except (ValueError, KeyError, TypeError):
        return None


def plugin_accepts(binary, netconf):
    """Runs the plugin as a runtime would run ADD with 'netconf', but with a
    malformed CNI_ARGS: the plugin checks the whole configuration for ADD
    first and stops at CNI_ARGS with error 4, before it writes a record or
    contacts the daemon.  Returns (accepted, what it said)."""
    env = {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "ovn-lm-manifest-check",
        "CNI_NETNS": "/nonexistent/ovn-lm-manifest-check",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin",
        "CNI_ARGS": "ovn-lm-manifest-check",
    }
    r = run([binary], stdin=json.dumps(netconf), env=env)
    try:
        reply = json.loads(r.stdout)
    except ValueError:
        return False, f"exit {r.returncode}, output {r.stdout!r}"
    accepted = reply.get("code") == 4 and "CNI_ARGS" in reply.get("msg", "")
    return accepted, reply.get("msg", r.stdout.strip())


def daemon_options(binary):
    """The options ovn-controller-ext --help lists."""
    r = run([binary, "--help"])
    if r.returncode != 0:
        return None
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", r.stdout))


# ---------------------------------------------------------------------------
# Loading.

def load(mdir):
    files = sorted(p for p in mdir.rglob("*") if p.suffix in (".yaml", ".yml"))
    docs = []
    for f in files:
        rel = f.relative_to(mdir)
        try:
            loaded = [d for d in yaml.safe_load_all(f.read_text())
                      if d is not None]
        except yaml.YAMLError as e:
            C.ok(False, f"{rel} parses", str(e).replace("\n", " "))
            continue
        C.ok(loaded, f"{rel} parses ({len(loaded)} document(s))",
             "no document")
        docs += [(rel, i, d) for i, d in enumerate(loaded)]
    return files, docs


def check_documents(docs):
    for rel, i, d in docs:
        what = f"{rel}#{i}"
        if not C.ok(isinstance(d, dict), f"{what} is a mapping"):
            continue
        kind, name = d.get("kind"), get(d, "metadata", "name")
        C.ok(isinstance(d.get("apiVersion"), str) and isinstance(kind, str)
             and isinstance(name, str) and name,
             f"{what} has apiVersion, kind and metadata.name",
             f"apiVersion={d.get('apiVersion')!r} kind={kind!r} "
             f"name={name!r}")
        if isinstance(name, str) and kind != "Kustomization":
            C.ok(NAME_RE.match(name) and len(name) <= 253,
                 f"{what} {kind}/{name}: valid object name")


def find(docs, kind, name=None):
    return [d for _, _, d in docs if isinstance(d, dict)
            and d.get("kind") == kind
            and (name is None or get(d, "metadata", "name") == name)]


def one(docs, kind, name):
    found = find(docs, kind, name)
    C.ok(len(found) == 1, f"one {kind} {name}", f"found {len(found)}")
    return found[0] if len(found) == 1 else None


# ---------------------------------------------------------------------------

def check_kustomization(mdir, docs):
    k = find(docs, "Kustomization")
    if not C.ok(len(k) == 1, "one Kustomization", f"found {len(k)}"):
        return
    res = k[0].get("resources") or []
    C.ok(sorted(res) == sorted(KUSTOMIZATION),
         "kustomization lists namespace, rbac, configmap, daemonset",
         f"resources: {res}")
    C.ok(all((mdir / r).is_file() for r in res),
         "every kustomization resource exists",
         str([r for r in res if not (mdir / r).is_file()]))
    for rel, _, d in docs:
        if str(rel) in KUSTOMIZATION and isinstance(d, dict) \
                and d.get("kind") not in CLUSTER_SCOPED:
            C.ok(get(d, "metadata", "namespace") == "ovn-lm",
                 f"{rel}: {d.get('kind')} {get(d, 'metadata', 'name')} "
                 f"is in namespace ovn-lm",
                 f"namespace {get(d, 'metadata', 'namespace')!r}")


def check_namespace(docs):
    ns = one(docs, "Namespace", "ovn-lm")
    if ns:
        label = get(ns, "metadata", "labels",
                    "pod-security.kubernetes.io/enforce")
        C.ok(label == "privileged",
             "namespace ovn-lm: Pod Security level privileged (the "
             "DaemonSet's host access is beyond baseline)",
             f"enforce label {label!r}")


def check_rbac(docs, ds):
    sa = one(docs, "ServiceAccount", "ovn-lm")
    if sa:
        C.ok(get(sa, "metadata", "namespace") == "ovn-lm",
             "ServiceAccount ovn-lm in namespace ovn-lm")
    role = one(docs, "ClusterRole", "ovn-lm-node")
    C.ok(not find(docs, "Role") and not find(docs, "RoleBinding")
         and len(find(docs, "ClusterRole")) == 1
         and len(find(docs, "ClusterRoleBinding")) == 1,
         "no RBAC object besides ClusterRole and ClusterRoleBinding "
         "ovn-lm-node")
    if role:
        granted = {}
        wildcard = secrets = odd = False
        for rule in role.get("rules") or []:
            groups = rule.get("apiGroups") or []
            resources = rule.get("resources") or []
            verbs = rule.get("verbs") or []
            if "*" in groups + resources + verbs:
                wildcard = True
            if "secrets" in resources:
                secrets = True
            if rule.get("nonResourceURLs") or rule.get("resourceNames"):
                odd = True
            for g in groups:
                for r in resources:
                    granted.setdefault((g, r), set()).update(verbs)
        C.ok(not wildcard, "ClusterRole ovn-lm-node: no wildcard")
        C.ok(not secrets, "ClusterRole ovn-lm-node: nothing on secrets")
        C.ok(not odd, "ClusterRole ovn-lm-node: no nonResourceURLs or "
             "resourceNames")
        for (g, r), verbs in sorted(RBAC_RULES.items()):
            C.ok(granted.get((g, r)) == verbs,
                 f"ClusterRole ovn-lm-node: {r}.{g or 'core'} "
                 f"{', '.join(sorted(verbs))}",
                 f"granted {sorted(granted.get((g, r), []))}")
        extra = {k: v for k, v in granted.items() if k not in RBAC_RULES}
        C.ok(not extra, "ClusterRole ovn-lm-node: nothing else",
             f"also grants {extra}")
    crb = one(docs, "ClusterRoleBinding", "ovn-lm-node")
    if crb:
        ref = crb.get("roleRef") or {}
        C.ok(ref.get("kind") == "ClusterRole"
             and ref.get("name") == "ovn-lm-node"
             and ref.get("apiGroup") == "rbac.authorization.k8s.io",
             "ClusterRoleBinding ovn-lm-node binds ClusterRole ovn-lm-node",
             f"roleRef {ref}")
        subjects = crb.get("subjects") or []
        C.ok(subjects == [{"kind": "ServiceAccount", "name": "ovn-lm",
                           "namespace": "ovn-lm"}],
             "ClusterRoleBinding ovn-lm-node: only ServiceAccount "
             "ovn-lm/ovn-lm", f"subjects {subjects}")
        if ds and subjects:
            C.ok(get(ds, "spec", "template", "spec", "serviceAccountName")
                 == subjects[0].get("name")
                 and get(ds, "metadata", "namespace")
                 == subjects[0].get("namespace"),
                 "the DaemonSet runs as the bound ServiceAccount")


# ---------------------------------------------------------------------------
# CNI configurations.

def check_plugin_conf(what, plugin, net, known, versions, binary):
    """'plugin': one plugin's configuration; 'net': the name and cniVersion
    the runtime adds to it."""
    C.ok(plugin.get("type") == "ovn-lm", f"{what}: type ovn-lm",
         f"type {plugin.get('type')!r}")
    if known:
        unknown = sorted(set(plugin) - (known - RUNTIME_KEYS))
        C.ok(not unknown, f"{what}: every key is one the plugin reads "
             "(cni/cni-conf.c)", f"unknown {unknown}")
    else:
        C.ok(False, f"{what}: keys", "cannot find known_keys[] in "
             "cni/cni-conf.c")
    C.ok(isinstance(plugin.get("logicalSwitch"), str)
         and plugin["logicalSwitch"], f"{what}: logicalSwitch set")
    caps = plugin.get("capabilities") or {}
    C.ok(isinstance(caps, dict) and set(caps) <= set(CAPABILITIES)
         and all(v is True for v in caps.values()),
         f"{what}: capabilities are ones the plugin reads",
         f"capabilities {caps}")
    if versions is not None:
        C.ok(net["cniVersion"] in versions,
             f"{what}: cniVersion {net['cniVersion']} is supported by "
             "ovn-lm", f"supported: {sorted(versions)}")
        netconf = dict(plugin, **net)
        netconf["runtimeConfig"] = {
            k: v for k, v in CAPABILITIES.items() if caps.get(k)}
        accepted, said = plugin_accepts(binary, netconf)
        C.ok(accepted, f"{what}: the ovn-lm binary accepts it for ADD",
             said)


def check_configmap(docs, known, versions, binary):
    cm = one(docs, "ConfigMap", "ovn-lm-config")
    if not cm:
        return None
    data = cm.get("data") or {}
    raw = data.get("10-ovn-lm.conflist")
    if not C.ok(isinstance(raw, str), "ConfigMap holds 10-ovn-lm.conflist"):
        return None
    try:
        conf = json.loads(raw)
    except ValueError as e:
        C.ok(False, "10-ovn-lm.conflist is valid JSON", str(e))
        return None
    C.ok(isinstance(conf, dict), "10-ovn-lm.conflist is valid JSON")
    if not isinstance(conf, dict):
        return None
    C.ok(set(conf) <= CONFLIST_KEYS, "10-ovn-lm.conflist: only "
         "configuration list keys", f"extra {sorted(set(conf) - CONFLIST_KEYS)}")
    C.ok(conf.get("cniVersion") == "1.0.0", "10-ovn-lm.conflist: cniVersion "
         "1.0.0", f"{conf.get('cniVersion')!r}")
    C.ok(isinstance(conf.get("name"), str)
         and CNI_NAME_RE.match(conf["name"]),
         "10-ovn-lm.conflist: valid network name")
    plugins = conf.get("plugins") or []
    ours = [p for p in plugins if isinstance(p, dict)
            and p.get("type") == "ovn-lm"]
    if not C.ok(len(ours) == 1 and len(plugins) == 1,
                "10-ovn-lm.conflist: one plugin, ovn-lm",
                f"plugins {plugins}"):
        return conf
    net = {"cniVersion": conf.get("cniVersion"), "name": conf.get("name")}
    check_plugin_conf("10-ovn-lm.conflist", ours[0], net, known, versions,
                      binary)
    remote = re.compile(r"^(ssl|tcp|unix):[^,\s]+(,(ssl|tcp|unix):[^,\s]+)*$")
    for key in ("ovn-nb-db", "ovn-sb-db"):
        C.ok(isinstance(data.get(key), str) and remote.match(data[key])
             and data[key].startswith("ssl:"),
             f"ConfigMap {key}: ssl: remotes", f"{data.get(key)!r}")
    C.ok(re.match(r"^\d+(\.\d+)?$", str(data.get("migration-timeout", ""))),
         "ConfigMap migration-timeout: seconds",
         f"{data.get('migration-timeout')!r}")
    return conf


def check_nad(docs, conflist, known, versions, binary):
    nads = find(docs, "NetworkAttachmentDefinition")
    if not C.ok(len(nads) == 1, "one NetworkAttachmentDefinition",
                f"found {len(nads)}"):
        return
    nad = nads[0]
    C.ok(nad.get("apiVersion") == "k8s.cni.cncf.io/v1",
         "NAD apiVersion k8s.cni.cncf.io/v1")
    try:
        conf = json.loads(get(nad, "spec", "config", default=""))
    except ValueError as e:
        C.ok(False, "NAD spec.config is valid JSON", str(e))
        return
    if not C.ok(isinstance(conf, dict), "NAD spec.config is valid JSON"):
        return
    C.ok(isinstance(conf.get("name"), str)
         and CNI_NAME_RE.match(conf["name"]), "NAD: valid network name")
    if isinstance(conflist, dict):
        C.ok(conf.get("name") != conflist.get("name"),
             "NAD: its own network name (records are per network)")
        primary = get(conflist, "plugins", 0, "logicalSwitch")
        C.ok(conf.get("logicalSwitch") != primary,
             "NAD: its own logical switch", f"{primary!r} again")
    net = {"cniVersion": conf.get("cniVersion"), "name": conf.get("name")}
    plugin = {k: v for k, v in conf.items() if k not in net}
    check_plugin_conf("NAD config", plugin, net, known, versions, binary)
    return conf


# ---------------------------------------------------------------------------
# The DaemonSet.

def caps(sc):
    def norm(c):
        c = str(c).upper()
        return c[4:] if c.startswith("CAP_") else c
    return ({norm(c) for c in get(sc, "capabilities", "add", default=[])},
            {norm(c) for c in get(sc, "capabilities", "drop", default=[])})


def mount_host_path(container, volumes, path):
    """The host path behind 'path' in 'container', or None."""
    best = None
    for m in container.get("volumeMounts") or []:
        mp = m.get("mountPath", "").rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best[0]):
                best = (mp, m)
    if not best:
        return None
    hp = get(volumes.get(best[1].get("name"), {}), "hostPath", "path")
    return hp + path[len(best[0]):] if hp else None


def check_daemonset(ds, cm, conflist, nad, help_options, binary):
    pod = get(ds, "spec", "template", "spec", default={})
    C.ok(get(ds, "metadata", "namespace") == "ovn-lm",
         "DaemonSet ovn-lm in namespace ovn-lm")
    sel = get(ds, "spec", "selector", "matchLabels", default={})
    labels = get(ds, "spec", "template", "metadata", "labels", default={})
    C.ok(sel and all(labels.get(k) == v for k, v in sel.items()),
         "DaemonSet selector matches its pod template")
    C.ok(pod.get("hostNetwork") is True, "hostNetwork")
    C.ok(not pod.get("hostPID") and not pod.get("hostIPC"),
         "no hostPID, no hostIPC")
    C.ok(pod.get("serviceAccountName") == "ovn-lm",
         "serviceAccountName ovn-lm")
    C.ok(pod.get("priorityClassName") == "system-node-critical",
         "priorityClassName system-node-critical")
    C.ok({"operator": "Exists"} in (pod.get("tolerations") or []),
         "tolerates every taint")
    C.ok(get(ds, "spec", "updateStrategy", "type") == "RollingUpdate"
         and get(ds, "spec", "updateStrategy", "rollingUpdate",
                 "maxUnavailable") == 1,
         "updateStrategy RollingUpdate, maxUnavailable 1")

    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    inits = pod.get("initContainers") or []
    mains = pod.get("containers") or []
    C.ok(len(mains) == 1 and mains[0].get("name") == DAEMON_CONTAINER,
         f"one container, {DAEMON_CONTAINER}")
    C.ok(len(inits) == 1 and inits[0].get("name") == "install-cni",
         "one init container, install-cni")
    containers = inits + mains
    images = {c.get("image") for c in containers}
    C.ok(len(images) == 1 and all(i and not i.endswith(":latest")
                                  and ":" in i for i in images),
         "one image, with a version tag", f"{images}")
    version = project_version()
    want = f"{IMAGE_NAME}:{version}"
    C.ok(images == {want}, f"the image is {want}, the tag "
         "scripts/build-image.sh gives the project's version "
         "(CMakeLists.txt)", f"images {sorted(map(str, images))}")

    used = set()
    for c in containers:
        name = c.get("name")
        sc = c.get("securityContext") or {}
        add, drop = caps(sc)
        allowed = DAEMON_CAPABILITIES if name == DAEMON_CONTAINER \
            else INIT_CAPABILITIES
        C.ok(sc.get("privileged") is False, f"{name}: not privileged",
             f"privileged {sc.get('privileged')!r}")
        C.ok("ALL" in drop, f"{name}: drops ALL capabilities")
        C.ok(add == allowed, f"{name}: adds exactly "
             f"{', '.join(sorted(allowed)) or 'no capability'}",
             f"adds {sorted(add)}")
        C.ok(sc.get("readOnlyRootFilesystem") is True,
             f"{name}: readOnlyRootFilesystem")
        C.ok(sc.get("allowPrivilegeEscalation") is False,
             f"{name}: allowPrivilegeEscalation false",
             f"allowPrivilegeEscalation {sc.get('allowPrivilegeEscalation')!r}")
        # The API refuses allowPrivilegeEscalation false with the literal
        # "CAP_SYS_ADMIN" (it accepted it with "SYS_ADMIN", tried on
        # v1.24).
        raw_add = [str(x) for x in get(sc, "capabilities", "add", default=[])]
        C.ok("CAP_SYS_ADMIN" not in raw_add,
             f"{name}: no literal CAP_SYS_ADMIN (refused with "
             "allowPrivilegeEscalation false)", f"adds {raw_add}")
        res = c.get("resources") or {}
        C.ok(all(get(res, k, r) for k in ("requests", "limits")
                 for r in ("cpu", "memory")),
             f"{name}: CPU and memory requests and limits")
        for m in c.get("volumeMounts") or []:
            used.add(m.get("name"))
            C.ok(m.get("name") in volumes,
                 f"{name}: mount {m.get('mountPath')} has a volume",
                 f"no volume {m.get('name')!r}")
            C.ok(m.get("mountPropagation") != "Bidirectional",
                 f"{name}: mount {m.get('mountPath')} not Bidirectional")
    C.ok(set(volumes) <= used, "every volume is mounted",
         f"unused {sorted(set(volumes) - used)}")

    # Host paths: exactly the documented ones, where documented.
    host = {get(v, "hostPath", "path"): n for n, v in volumes.items()
            if "hostPath" in v}
    C.ok(set(host) == set(HOST_PATHS), "host paths are exactly the "
         "documented ones", f"{sorted(host)}")
    by_name = {c.get("name"): c for c in containers}
    for path, (cname, ro, same) in sorted(HOST_PATHS.items()):
        holders = [c.get("name") for c in containers
                   for m in c.get("volumeMounts") or []
                   if m.get("name") == host.get(path)]
        C.ok(holders == [cname], f"host path {path}: mounted by {cname} "
             "only", f"mounted by {holders}")
        for m in get(by_name, cname, "volumeMounts", default=[]):
            if m.get("name") == host.get(path):
                C.ok(bool(m.get("readOnly")) == ro,
                     f"host path {path}: {'read-only' if ro else 'writable'}"
                     )
                if same:
                    C.ok(m.get("mountPath") == path,
                         f"host path {path}: at the same path inside")
    netns = [m for m in get(by_name, DAEMON_CONTAINER, "volumeMounts",
                            default=[])
             if m.get("name") == host.get("/var/run/netns")]
    C.ok(netns and netns[0].get("mountPropagation") == "HostToContainer",
         "/var/run/netns: mountPropagation HostToContainer")

    secrets = [v for v in volumes.values() if "secret" in v]
    C.ok(len(secrets) == 1
         and get(secrets[0], "secret", "secretName") == "ovn-lm-ovn-certs"
         and get(secrets[0], "secret", "optional") is True
         and get(secrets[0], "secret", "defaultMode") == 0o400,
         "Secret volume ovn-lm-ovn-certs, optional, mode 0400")

    if mains:
        check_daemon_args(mains[0], volumes, cm, conflist, nad,
                          help_options, binary)
        check_drain(pod, mains[0], conflist, nad, binary)
    if inits:
        check_init(inits[0], volumes, cm)


def check_daemon_args(c, volumes, cm, conflist, nad, help_options, binary):
    args = [str(a) for a in (c.get("command") or [])[1:]] + \
        [str(a) for a in c.get("args") or []]
    opts = {}
    for a in args:
        if a.startswith("--"):
            k, _, v = a.partition("=")
            opts[k] = v
    if help_options is None:
        C.skip("daemon options are ones ovn-controller-ext --help lists",
               f"no ovn-controller-ext binary at {binary}")
    else:
        used = [a.partition("=")[0] if a.startswith("--") else a[:2]
                for a in args]
        for opt in sorted(set(used), key=used.index):
            if opt in help_options:
                C.ok(True, f"daemon option {opt} is in --help")
            else:
                C.ok(False, f"daemon option {opt} is in --help",
                     "ovn-controller-ext --help does not list it")
    C.ok(opts.get("--ovs-db") == "unix:/var/run/openvswitch/db.sock",
         "--ovs-db=unix:/var/run/openvswitch/db.sock")
    C.ok(opts.get("--kubernetes") == "in-cluster", "--kubernetes=in-cluster")

    env = {e.get("name"): e for e in c.get("env") or []}
    C.ok(opts.get("--node-name") == "$(NODE_NAME)"
         and get(env, "NODE_NAME", "valueFrom", "fieldRef", "fieldPath")
         == "spec.nodeName",
         "--node-name from the downward API (spec.nodeName)")
    for a in args:
        for var in re.findall(r"\$\((\w+)\)", a):
            C.ok(var in env, f"$({var}) in the daemon's args is set")
    data = (cm or {}).get("data") or {}
    for name, e in sorted(env.items()):
        ref = get(e, "valueFrom", "configMapKeyRef")
        if ref:
            C.ok(ref.get("name") == "ovn-lm-config"
                 and ref.get("key") in data,
                 f"env {name}: ConfigMap ovn-lm-config has key "
                 f"{ref.get('key')}")
    for opt, key in (("--ovn-nb-db", "ovn-nb-db"),
                     ("--ovn-sb-db", "ovn-sb-db"),
                     ("--migration-timeout", "migration-timeout")):
        var = re.fullmatch(r"\$\((\w+)\)", opts.get(opt, ""))
        C.ok(var and get(env, var.group(1), "valueFrom", "configMapKeyRef",
                         "key") == key,
             f"{opt} from ConfigMap key {key}")

    # The socket the plugins connect to on the host is the daemon's.
    sock = opts.get("--socket", "")
    host_sock = mount_host_path(c, volumes, sock)
    for what, conf in (("conflist", get(conflist, "plugins", 0)),
                       ("NAD", nad)):
        if isinstance(conf, dict):
            want = conf.get("socket", DEFAULT_SOCKET)
            C.ok(host_sock == want, f"the {what}'s socket {want} is the "
                 f"daemon's --socket on the host", f"daemon's is "
                 f"{sock} in the container, {host_sock} on the host")
            state = conf.get("stateDir", DEFAULT_STATE_DIR)
            C.ok(mount_host_path(c, volumes, state) == state,
                 f"the {what}'s state directory {state} is mounted at the "
                 "same path")
    unixctl = opts.get("--unixctl", "")
    C.ok(unixctl and mount_host_path(c, volumes, unixctl),
         "--unixctl on a host path (ovs-appctl from the node)")
    secret_mount = [m.get("mountPath") for m in c.get("volumeMounts") or []
                    if "secret" in volumes.get(m.get("name"), {})]
    for opt in ("--private-key", "--certificate", "--ca-cert"):
        C.ok(secret_mount and opts.get(opt, "").startswith(
            secret_mount[0].rstrip("/") + "/"),
            f"{opt} in the Secret's mount")

    metrics = opts.get("--metrics-address", "127.0.0.1:9476")
    mhost, _, mport = metrics.rpartition(":")
    C.ok(mhost in ("127.0.0.1", "[::1]"),
         "metrics on loopback (hostNetwork: no unauthenticated port on the "
         "node's addresses)", f"--metrics-address={metrics}")
    probe = c.get("livenessProbe") or {}
    if "httpGet" in probe:
        hg = probe["httpGet"]
        C.ok(hg.get("host") == mhost and str(hg.get("port")) == mport
             and hg.get("path") == "/metrics",
             "liveness probe: GET /metrics at --metrics-address",
             f"probe {hg}, --metrics-address={metrics}")
    elif "exec" in probe:
        C.ok(unixctl in " ".join(get(probe, "exec", "command", default=[])),
             "liveness probe: ovs-appctl on --unixctl")
    else:
        C.ok(False, "liveness probe", f"{probe}")


def check_drain(pod, c, conflist, nad, binary):
    """readyTimeout < the daemon's drain timeout < the grace period: an ADD
    accepted just before SIGTERM can finish, and the daemon exits before
    the kubelet's SIGKILL (manifests/README.md, "Other settings")."""
    args = [str(a) for a in c.get("args") or []]
    drain = [a.partition("=")[2] for a in args
             if a.startswith("--drain-timeout=")]
    if drain:
        drain = float(drain[-1])
    else:
        r = run([binary, "--help"]) if binary else None
        m = r and re.search(r"--drain-timeout=S.*?\(default: (\d+)",
                            r.stdout, re.S)
        if not m:
            C.skip("drain timeout within the grace period",
                   f"no default --drain-timeout in {binary} --help")
            return
        drain = float(m.group(1))
    ready = [get(conflist, "plugins", 0, "readyTimeout")]
    if isinstance(nad, dict):
        ready.append(nad.get("readyTimeout"))
    default = re.search(r"OVN_LM_DEFAULT_READY_TIMEOUT ([\d.]+)",
                        (ROOT / "include" / "ovn-lm-proto.h").read_text())
    ready = max(float(r if r is not None else default.group(1))
                for r in ready)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    C.ok(ready < drain < grace,
         f"readyTimeout {ready:g} s < drain timeout {drain:g} s < "
         f"terminationGracePeriodSeconds {grace}")
    C.ok(not (c.get("lifecycle") or {}).get("preStop"),
         "no preStop hook (it would eat into the grace period)")


def check_init(c, volumes, cm):
    """Runs the init container's script against temporary directories
    standing for its mounts and the image."""
    cmd = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
    if not C.ok(len(cmd) == 3 and cmd[1] == "-c",
                "install-cni runs a shell script", f"{cmd}"):
        return
    original = script = cmd[2]
    C.ok(re.search(r"\bmv\b", original) and "tmp" in original,
         "install-cni copies to a temporary name, then renames (atomic)")
    data = (cm or {}).get("data") or {}
    conflist = data.get("10-ovn-lm.conflist", "")
    with tempfile.TemporaryDirectory(prefix="ovn-lm-manifests-") as tmp:
        tmp = Path(tmp)
        subst = {}
        targets = {}
        for m in c.get("volumeMounts") or []:
            mp = m.get("mountPath", "").rstrip("/")
            d = tmp / ("mnt" + mp)
            d.mkdir(parents=True)
            subst[mp] = str(d)
            v = volumes.get(m.get("name"), {})
            if "configMap" in v:
                for item in get(v, "configMap", "items", default=[]):
                    (d / item["path"]).write_text(data.get(item["key"], ""))
            if "hostPath" in v:
                targets[v["hostPath"]["path"]] = d
        image_bin = tmp / "image-ovn-lm"
        image_bin.write_bytes(b"#!/bin/sh\n# stands for the ovn-lm binary\n")
        subst[IMAGE_CNI_BINARY] = str(image_bin)
        for path in sorted(subst, key=len, reverse=True):
            script = re.sub(r"(?<![\w.$-])" + re.escape(path) + r"(?![\w.-])",
                            subst[path], script)
        # Run it only if every absolute path now points into 'tmp'.
        outside = [p for p in re.findall(r"(?<![\w.$/-])(/[\w./-]+)", script)
                   if not p.startswith(str(tmp) + "/")]
        if not C.ok(not outside, "install-cni touches only its mounts and "
                    "the image's CNI binary", f"also {outside}"):
            return
        for attempt in ("installs", "reinstalls over an existing install"):
            r = run(["sh", "-c", script])
            C.ok(r.returncode == 0, f"install-cni script {attempt}",
                 (r.stderr or r.stdout).strip())
        binary = targets.get("/opt/cni/bin", tmp / "none") / "ovn-lm"
        netd = targets.get("/etc/cni/net.d", tmp / "none")
        C.ok(binary.is_file() and os.access(binary, os.X_OK)
             and binary.read_bytes() == image_bin.read_bytes(),
             "install-cni puts an executable ovn-lm into /opt/cni/bin")
        installed = netd / "10-ovn-lm.conflist"
        C.ok(installed.is_file() and installed.read_text() == conflist,
             "install-cni puts the ConfigMap's conflist into /etc/cni/net.d")
        extra = sorted(p.name for d in (binary.parent, netd) if d.is_dir()
                       for p in d.iterdir()
                       if p.name not in ("ovn-lm", "10-ovn-lm.conflist"))
        C.ok(not extra, "install-cni leaves no temporary file", f"{extra}")


# ---------------------------------------------------------------------------

def check_vm(mdir, docs):
    vms = find(docs, "VirtualMachine")
    if not C.ok(len(vms) == 1, "one VirtualMachine", f"found {len(vms)}"):
        return
    vm = vms[0]
    name = get(vm, "metadata", "name")
    C.ok(vm.get("apiVersion") == "kubevirt.io/v1", "VM apiVersion "
         "kubevirt.io/v1")
    ann = get(vm, "spec", "template", "metadata", "annotations", default={})
    C.ok(isinstance(ann, dict) and VM_OPT_IN in ann,
         f"VM template annotation {VM_OPT_IN}")
    spec = get(vm, "spec", "template", "spec", default={})
    pod_nets = [n.get("name") for n in spec.get("networks") or []
                if isinstance(n.get("pod"), dict)]
    C.ok(len(pod_nets) == 1, "VM on the pod network")
    ifaces = get(spec, "domain", "devices", "interfaces", default=[])
    C.ok(any(i.get("name") in pod_nets and "bridge" in i for i in ifaces),
         "VM: bridge binding on the pod network")
    vols = {v.get("name"): v for v in spec.get("volumes") or []}
    C.ok(any(get(v, "containerDisk", "image") for v in vols.values()),
         "VM: a containerDisk")
    disks = get(spec, "domain", "devices", "disks", default=[])
    C.ok(disks and all(d.get("name") in vols for d in disks),
         "VM: every disk has a volume")
    mem = str(get(spec, "domain", "resources", "requests", "memory",
                  default=""))
    m = re.fullmatch(r"(\d+)(Mi|Gi)", mem)
    C.ok(m and int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1) <= 512,
         "VM: a small memory request", f"{mem!r}")

    # The VirtualMachineInstanceMigration in the file's comments.
    text = (mdir / "kubevirt-vm-example.yaml").read_text()
    block = re.search(r"^#\s*kubectl create -f - <<'EOF'\n(.*?)^#\s*EOF$",
                      text, re.S | re.M)
    vmim = None
    if block:
        lines = [re.sub(r"^#   ?", "", l) for l in block.group(1).splitlines()]
        try:
            vmim = yaml.safe_load("\n".join(lines))
        except yaml.YAMLError:
            pass
    C.ok(isinstance(vmim, dict)
         and vmim.get("kind") == "VirtualMachineInstanceMigration"
         and vmim.get("apiVersion") == "kubevirt.io/v1"
         and get(vmim, "spec", "vmiName") == name
         and get(vmim, "metadata", "generateName"),
         f"the commented VirtualMachineInstanceMigration migrates {name}")


def check_readme(mdir, ds):
    path = mdir / "README.md"
    if not C.ok(path.is_file(), "manifests/README.md exists"):
        return
    text = path.read_text()
    m = re.search(r"^## Privileges and why\n(.*?)(?=^## |\Z)", text,
                  re.S | re.M)
    if not C.ok(m, 'README has a "Privileges and why" section'):
        return
    section = m.group(1)
    words = sorted(DAEMON_CAPABILITIES) + sorted(HOST_PATHS) + \
        sorted({r for _, r in RBAC_RULES}) + \
        ["hostNetwork", "hostPID", "readOnlyRootFilesystem", "runAsUser",
         "priorityClassName", "mountPropagation"]
    missing = [w for w in words if f"`{w}" not in section]
    C.ok(not missing, '"Privileges and why" covers every capability, host '
         "path and API resource", f"missing {missing}")


def check_kubectl(mdir, files):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        C.skip("kubectl checks", "kubectl is not installed")
        return
    C.skip("kubectl apply --dry-run=client", "needs an API server "
           "(discovery and OpenAPI) even with --validate=false; running "
           "kubectl's offline readers instead")
    with tempfile.NamedTemporaryFile(prefix="ovn-lm-kubeconfig-") as kc:
        # An empty kubeconfig: nothing below may reach a cluster anyway.
        env = dict(os.environ, KUBECONFIG=kc.name)
        r = run([kubectl, "kustomize", str(mdir)], env=env, timeout=60)
        C.ok(r.returncode == 0, "kubectl kustomize manifests/",
             r.stderr.strip())
        for f in files:
            if f.name == "kustomization.yaml":
                continue
            rel = f.relative_to(mdir)
            n = sum(1 for d in yaml.safe_load_all(f.read_text())
                    if d is not None)
            r = run([kubectl, "label", "--local", "--dry-run=client",
                     "-o", "name", "-f", str(f),
                     "ovn-lm.io/manifest-check=ok"], env=env, timeout=60)
            C.ok(r.returncode == 0 and len(r.stdout.split()) == n,
                 f"kubectl reads {rel} ({n} object(s))",
                 (r.stderr or r.stdout).strip())
            if any(d.get("kind") == "DaemonSet"
                   for d in yaml.safe_load_all(f.read_text())
                   if isinstance(d, dict)):
                # Decodes the pod template into its Go types.
                r = run([kubectl, "set", "env", "--local",
                         "--dry-run=client", "-o", "name", "-f", str(f),
                         "OVN_LM_MANIFEST_CHECK=1"], env=env, timeout=60)
                C.ok(r.returncode == 0, f"kubectl decodes {rel}'s pod "
                     "template", r.stderr.strip())


def main(argv):
    mdir = ROOT / "manifests"
    if len(argv) >= 2 and argv[0] == "--manifests":
        mdir = Path(argv[1]).resolve()
        argv = argv[2:]
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    cni_bin, daemon_bin = argv
    files, docs = load(mdir)
    check_documents(docs)
    check_kustomization(mdir, docs)
    check_namespace(docs)

    known = plugin_known_keys()
    versions = None
    if os.access(cni_bin, os.X_OK):
        versions = plugin_versions(cni_bin)
        C.ok(versions, "ovn-lm answers VERSION")
    else:
        C.skip("checks that run the ovn-lm binary",
               f"no ovn-lm binary at {cni_bin}")
    help_options = None
    if os.access(daemon_bin, os.X_OK):
        help_options = daemon_options(daemon_bin)
        C.ok(help_options, "ovn-controller-ext --help")

    ds = (find(docs, "DaemonSet", "ovn-lm") or [None])[0]
    C.ok(ds is not None, "one DaemonSet ovn-lm")
    check_rbac(docs, ds)
    cm = (find(docs, "ConfigMap", "ovn-lm-config") or [None])[0]
    conflist = check_configmap(docs, known, versions, cni_bin)
    nad = check_nad(docs, conflist, known, versions, cni_bin)
    if ds:
        check_daemonset(ds, cm, conflist, nad, help_options, daemon_bin)
    check_vm(mdir, docs)
    check_readme(mdir, ds)
    check_kubectl(mdir, files)

    print(f"{C.passed} passed, {C.failed} failed")
    return 1 if C.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
