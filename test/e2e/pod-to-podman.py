#!/usr/bin/env python3
"""Turns the DaemonSet's pod template (manifests/) into podman commands.

usage:
  pod-to-podman.py pod --manifests DIR --netns PATH --node-name NODE
                       --host-root DIR [--host-path HOSTPATH=DIR ...]
                       --volume-dir DIR [--configmap-set KEY=VALUE ...]
                       [--service-account-dir DIR]
                       [--kubernetes-service HOST:PORT]
                       --name-prefix PREFIX [--run-option OPT ...]
  pod-to-podman.py netconf --conflist FILE --host-root DIR
                       [--runtime-config JSON]

"pod" plays the kubelet for one node: it reads the DaemonSet and the
ConfigMap, materialises the pod's volumes (hostPath directories, the
ConfigMap's items, optional Secrets that do not exist, the service account
token) and prints, as JSON, the podman command of every init container and
container, the probes, the preStop hooks and the grace period:

  {"init": [{"name", "argv"}], "containers": [{"name", "argv", "probes",
   "preStop", "capabilities", "noNewPrivs", "readOnlyRoot", "user"}],
   "terminationGracePeriodSeconds", "image", "hostPaths": {path: dir}}

A host path is mapped to HOST-ROOT/PATH (a private directory standing for
the node's), or to DIR by --host-path.  --configmap-set stands for the
user's edit of configmap.yaml (the database remotes).  Every field of the
pod template must be one this script knows how to map: an unknown one is
an error, so that the test fails when the manifest grows something podman
would silently not do.  Kubernetes' $(VAR) expansion is applied to command
and args from the container's env.

"netconf" plays the runtime: it prints the plugin configuration a runtime
passes on stdin for the installed conflist (its one plugin, with the list's
name and cniVersion, and runtimeConfig), host paths in it (socket, stateDir,
also the defaults) mapped under HOST-ROOT as "pod" maps them.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
# The plugin's defaults (man ovn-lm(8)) for the host paths of a conflist.
PLUGIN_DEFAULTS = {"socket": "/run/ovn-lm/ovn-lm.sock",
                   "stateDir": "/var/lib/cni/ovn-lm"}
PROPAGATION = {"None": "rprivate", "HostToContainer": "rslave",
               "Bidirectional": "rshared"}
# Pod fields that only concern scheduling or the API: nothing to run.
SCHEDULING = {"priorityClassName", "tolerations", "nodeSelector",
              "affinity", "serviceAccountName"}


def fail(msg):
    sys.exit(f"pod-to-podman.py: {msg}")


def known(obj, keys, where):
    extra = sorted(set(obj) - set(keys))
    if extra:
        fail(f"{where}: {', '.join(extra)} not mapped to podman "
             "(extend test/e2e/pod-to-podman.py)")


def expand(s, env):
    """Kubernetes' $(VAR) expansion: $(VAR) of a defined VAR is replaced,
    $$ is a literal $, anything else stays as written."""
    out, i = [], 0
    while i < len(s):
        if s.startswith("$$", i):
            out.append("$")
            i += 2
        elif s.startswith("$(", i) and ")" in s[i + 2:]:
            j = s.index(")", i + 2)
            name = s[i + 2:j]
            out.append(env[name] if name in env else s[i:j + 1])
            i = j + 1
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mapped(host_root, host_paths, path):
    path = os.path.normpath(path)
    if path in host_paths:
        return host_paths[path]
    return os.path.join(host_root, path.lstrip("/"))


def load(mdir):
    docs = []
    for f in sorted(Path(mdir).glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text())
                 if isinstance(d, dict)]
    return docs


def security(sc, pod_sc, where):
    """podman options for a container securityContext (pod level merged)."""
    known(pod_sc, {"seccompProfile", "runAsUser", "runAsGroup",
                   "runAsNonRoot"}, f"{where} pod securityContext")
    known(sc, {"privileged", "allowPrivilegeEscalation",
               "readOnlyRootFilesystem", "runAsUser", "runAsGroup",
               "runAsNonRoot", "capabilities", "seccompProfile"},
          f"{where} securityContext")
    eff = dict(pod_sc, **sc)
    opts, info = [], {}
    if eff.get("privileged"):
        opts.append("--privileged")
    # Kubernetes sets no_new_privs only for allowPrivilegeEscalation: false.
    info["noNewPrivs"] = eff.get("allowPrivilegeEscalation") is False
    if info["noNewPrivs"]:
        opts += ["--security-opt", "no-new-privileges"]
    info["readOnlyRoot"] = bool(eff.get("readOnlyRootFilesystem"))
    if info["readOnlyRoot"]:
        # No tmpfs on /run, /tmp, /var/tmp: Kubernetes mounts none.
        opts += ["--read-only", "--read-only-tmpfs=false"]
    if "runAsUser" in eff or "runAsGroup" in eff:
        user = f"{int(eff.get('runAsUser', 0))}"
        if "runAsGroup" in eff:
            user += f":{int(eff['runAsGroup'])}"
        opts += ["--user", user]
        info["user"] = user
    if eff.get("runAsNonRoot") and int(eff.get("runAsUser", 0)) == 0:
        fail(f"{where}: runAsNonRoot with uid 0")
    caps = eff.get("capabilities") or {}
    known(caps, {"add", "drop"}, f"{where} capabilities")
    drop = [c.upper() for c in caps.get("drop") or []]
    add = [c.upper() for c in caps.get("add") or []]
    for c in drop:
        opts.append("--cap-drop=all" if c == "ALL" else f"--cap-drop={c}")
    for c in add:
        opts.append(f"--cap-add={c}")
    info["capabilities"] = sorted(add) if "ALL" in drop else None
    seccomp = (eff.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        opts += ["--security-opt", "seccomp=unconfined"]
    elif seccomp != "RuntimeDefault":
        fail(f"{where}: seccompProfile {seccomp} not mapped")
    return opts, info


def resources(res, where):
    known(res, {"requests", "limits"}, f"{where} resources")
    lim = res.get("limits") or {}
    known(lim, {"cpu", "memory"}, f"{where} limits")
    opts = []
    if "memory" in lim:
        m = re.fullmatch(r"(\d+)(Mi|Gi|Ki)?", str(lim["memory"]))
        if not m:
            fail(f"{where}: memory limit {lim['memory']!r}")
        opts.append("--memory=" + m.group(1)
                    + {"Ki": "k", "Mi": "m", "Gi": "g", None: "b"}[m.group(2)])
    if "cpu" in lim:
        cpu = str(lim["cpu"])
        cpus = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
        opts.append(f"--cpus={cpus:g}")
    # Requests only weigh in the scheduler and in CPU shares.
    return opts


def probe_of(p, ports, where):
    known(p, {"httpGet", "initialDelaySeconds", "periodSeconds",
              "timeoutSeconds", "failureThreshold", "successThreshold"},
          f"{where} probe")
    h = p.get("httpGet")
    if not h:
        fail(f"{where}: only httpGet probes are mapped")
    known(h, {"host", "port", "path", "scheme"}, f"{where} httpGet")
    port = h["port"]
    if isinstance(port, str):
        port = ports[port]
    return {"host": h.get("host"), "port": int(port),
            "path": h.get("path", "/"), "scheme": h.get("scheme", "HTTP"),
            "timeoutSeconds": p.get("timeoutSeconds", 1)}


def pod(a):
    docs = load(a.manifests)
    dss = [d for d in docs if d.get("kind") == "DaemonSet"]
    if len(dss) != 1:
        fail(f"{len(dss)} DaemonSets in {a.manifests}")
    ds = dss[0]
    ns = ds["metadata"].get("namespace", "default")
    tmpl = ds["spec"]["template"]
    spec = tmpl["spec"]
    known(spec, SCHEDULING | {
        "automountServiceAccountToken", "hostNetwork", "dnsPolicy",
        "hostPID", "hostIPC", "enableServiceLinks", "securityContext",
        "terminationGracePeriodSeconds", "initContainers", "containers",
        "volumes"}, "pod spec")
    if spec.get("hostNetwork") is not True:
        fail("only hostNetwork pods are mapped (--network ns:)")
    if spec.get("dnsPolicy", "ClusterFirst") not in ("Default",):
        fail(f"dnsPolicy {spec.get('dnsPolicy')} not mapped")
    cms = {d["metadata"]["name"]: dict(d.get("data") or {})
           for d in docs if d.get("kind") == "ConfigMap"
           and d["metadata"].get("namespace", "default") == ns}
    for kv in a.configmap_set:
        name, _, rest = kv.partition("/")
        key, _, value = rest.partition("=")
        if name not in cms or key not in cms[name]:
            fail(f"--configmap-set {kv}: no key {key} in ConfigMap {name}")
        cms[name][key] = value
    host_paths = {}
    for hp in a.host_path:
        path, _, d = hp.partition("=")
        host_paths[os.path.normpath(path)] = d

    vdir = Path(a.volume_dir)
    volumes = {}
    used_host = {}
    for v in spec.get("volumes") or []:
        known(v, {"name", "hostPath", "configMap", "secret", "emptyDir"},
              f"volume {v.get('name')}")
        name = v["name"]
        if "hostPath" in v:
            hp = v["hostPath"]
            known(hp, {"path", "type"}, f"volume {name} hostPath")
            src = mapped(a.host_root, host_paths, hp["path"])
            t = hp.get("type", "")
            if t == "DirectoryOrCreate":
                os.makedirs(src, mode=0o755, exist_ok=True)
            elif t == "Directory" or t == "":
                if not os.path.isdir(src):
                    fail(f"volume {name}: hostPath {hp['path']} ({src}) "
                         "is not a directory")
            else:
                fail(f"volume {name}: hostPath type {t} not mapped")
            volumes[name] = src
            used_host[hp["path"]] = src
        elif "configMap" in v:
            c = v["configMap"]
            known(c, {"name", "items", "optional", "defaultMode"},
                  f"volume {name} configMap")
            data = cms.get(c["name"])
            if data is None:
                fail(f"volume {name}: no ConfigMap {c['name']}")
            d = vdir / name
            d.mkdir(parents=True, exist_ok=True)
            items = c.get("items") or [{"key": k, "path": k} for k in data]
            for it in items:
                known(it, {"key", "path", "mode"}, f"volume {name} item")
                f = d / it["path"]
                f.write_text(data[it["key"]])
                f.chmod(it.get("mode", c.get("defaultMode", 0o644)))
            volumes[name] = str(d)
        elif "secret" in v:
            s = v["secret"]
            known(s, {"secretName", "optional", "defaultMode", "items"},
                  f"volume {name} secret")
            # No Secret exists here; the kubelet mounts an empty volume
            # for an optional one.
            if not s.get("optional"):
                fail(f"volume {name}: Secret {s['secretName']} is required "
                     "and the test has none")
            d = vdir / name
            d.mkdir(parents=True, exist_ok=True)
            volumes[name] = str(d)
        elif "emptyDir" in v:
            d = vdir / name
            d.mkdir(parents=True, exist_ok=True)
            volumes[name] = str(d)
        else:
            fail(f"volume {name}: kind not mapped")

    pod_env = {}
    if a.kubernetes_service:
        host, _, port = a.kubernetes_service.rpartition(":")
        # What the kubelet gives every container, enableServiceLinks or not.
        pod_env = {"KUBERNETES_SERVICE_HOST": host,
                   "KUBERNETES_SERVICE_PORT": port}
    field = {"spec.nodeName": a.node_name, "metadata.namespace": ns,
             "spec.serviceAccountName": spec.get("serviceAccountName",
                                                 "default")}
    automount = spec.get("automountServiceAccountToken", True)
    pod_sc = spec.get("securityContext") or {}
    base = ["run", "--network", f"ns:{a.netns}", "--hostname", a.node_name,
            "--pull", "never"]
    if spec.get("hostPID"):
        base += ["--pid", "host"]
    if spec.get("hostIPC"):
        base += ["--ipc", "host"]
    base += a.run_option

    def container(c, init):
        where = f"{'initContainer' if init else 'container'} {c['name']}"
        known(c, {"name", "image", "imagePullPolicy", "command", "args",
                  "env", "ports", "livenessProbe", "readinessProbe",
                  "startupProbe", "securityContext", "resources",
                  "volumeMounts", "lifecycle", "workingDir"}, where)
        if c.get("imagePullPolicy", "IfNotPresent") == "Always":
            fail(f"{where}: imagePullPolicy Always needs a registry")
        env = dict(pod_env)
        for e in c.get("env") or []:
            known(e, {"name", "value", "valueFrom"}, f"{where} env")
            if "value" in e:
                env[e["name"]] = expand(str(e["value"]), env)
                continue
            vf = e["valueFrom"]
            known(vf, {"fieldRef", "configMapKeyRef"}, f"{where} env")
            if "fieldRef" in vf:
                fp = vf["fieldRef"]["fieldPath"]
                if fp not in field:
                    fail(f"{where}: fieldRef {fp} not mapped")
                env[e["name"]] = field[fp]
            else:
                ref = vf["configMapKeyRef"]
                data = cms.get(ref["name"], {})
                if ref["key"] not in data:
                    if ref.get("optional"):
                        continue
                    fail(f"{where}: no key {ref['key']} in ConfigMap "
                         f"{ref['name']}")
                env[e["name"]] = str(data[ref["key"]])
        argv = list(base)
        argv += ["--name", f"{a.name_prefix}-{c['name']}"]
        argv += ["--rm"] if init else ["-d"]
        opts, info = security(c.get("securityContext") or {}, pod_sc, where)
        argv += opts
        argv += resources(c.get("resources") or {}, where)
        for k in sorted(env):
            argv += ["--env", f"{k}={env[k]}"]
        if c.get("workingDir"):
            argv += ["--workdir", c["workingDir"]]
        for m in c.get("volumeMounts") or []:
            known(m, {"name", "mountPath", "readOnly", "mountPropagation"},
                  f"{where} volumeMount")
            if m["name"] not in volumes:
                fail(f"{where}: volume {m['name']} is not defined")
            opt = (f"type=bind,src={volumes[m['name']]},"
                   f"dst={m['mountPath']}")
            if m.get("readOnly"):
                opt += ",ro=true"
            opt += ",bind-propagation=" + PROPAGATION[
                m.get("mountPropagation", "None")]
            argv += ["--mount", opt]
        if automount and a.service_account_dir:
            argv += ["--mount", f"type=bind,src={a.service_account_dir},"
                     f"dst={SA_PATH},ro=true"]
        cmd = [expand(str(x), env) for x in c.get("command") or []]
        args = [expand(str(x), env) for x in c.get("args") or []]
        if cmd:
            argv += ["--entrypoint", json.dumps(cmd)]
        argv.append(c["image"])
        argv += args
        ports = {p["name"]: p["containerPort"] for p in c.get("ports") or []
                 if "name" in p}
        for p in c.get("ports") or []:
            known(p, {"name", "containerPort", "protocol", "hostPort"},
                  f"{where} port")
        probes = {k: probe_of(c[k], ports, where)
                  for k in ("livenessProbe", "readinessProbe",
                            "startupProbe") if k in c}
        pre_stop = None
        lc = c.get("lifecycle") or {}
        known(lc, {"preStop"}, f"{where} lifecycle")
        if "preStop" in lc:
            known(lc["preStop"], {"exec"}, f"{where} preStop")
            pre_stop = [str(x) for x in lc["preStop"]["exec"]["command"]]
        return dict(info, name=c["name"], image=c["image"], argv=argv,
                    probes=probes, preStop=pre_stop, env=env)

    out = {
        "init": [container(c, True) for c in spec.get("initContainers")
                 or []],
        "containers": [container(c, False) for c in spec["containers"]],
        "terminationGracePeriodSeconds":
            spec.get("terminationGracePeriodSeconds", 30),
        "hostPaths": used_host,
    }
    json.dump(out, sys.stdout, indent=1)
    print()


def netconf(a):
    conf = json.loads(Path(a.conflist).read_text())
    plugins = conf.get("plugins") or []
    if len(plugins) != 1:
        fail(f"{a.conflist}: {len(plugins)} plugins")
    p = dict(plugins[0], name=conf["name"], cniVersion=conf["cniVersion"])
    for k, default in PLUGIN_DEFAULTS.items():
        p[k] = mapped(a.host_root, {}, p.get(k, default))
    if a.runtime_config:
        p["runtimeConfig"] = json.loads(a.runtime_config)
    print(json.dumps(p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pod")
    p.add_argument("--manifests", required=True)
    p.add_argument("--netns", required=True)
    p.add_argument("--node-name", required=True)
    p.add_argument("--host-root", required=True)
    p.add_argument("--host-path", action="append", default=[])
    p.add_argument("--volume-dir", required=True)
    p.add_argument("--configmap-set", action="append", default=[],
                   help="CONFIGMAP/KEY=VALUE")
    p.add_argument("--service-account-dir")
    p.add_argument("--kubernetes-service")
    p.add_argument("--name-prefix", required=True)
    p.add_argument("--run-option", action="append", default=[])
    n = sub.add_parser("netconf")
    n.add_argument("--conflist", required=True)
    n.add_argument("--host-root", required=True)
    n.add_argument("--runtime-config")
    a = ap.parse_args()
    pod(a) if a.cmd == "pod" else netconf(a)


if __name__ == "__main__":
    main()
