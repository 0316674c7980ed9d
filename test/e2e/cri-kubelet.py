#!/usr/bin/python3
"""cri-kubelet.py - plays the kubelet's part against a real containerd CRI.

A test fixture, not a kubelet: it makes the CRI calls (runtime.v1) that the
kubelet makes for a pod, with the metadata, labels and annotations a kubelet
sends, one call per invocation, so that a shell test can interleave them
with its own checks.

The gRPC client is generated at test time from the CRI's api.proto (Debian
unstable's golang-k8s-cri-api-dev, fetched by scripts/get-cri-api.sh) into
CRI_GEN_DIR; no generated code is kept in the tree.

    cri-kubelet.py --socket SOCK gen PROTO          generate the stubs
    cri-kubelet.py --socket SOCK version
    cri-kubelet.py --socket SOCK run-sandbox POD.json   prints the sandbox id
    cri-kubelet.py --socket SOCK sandbox-status ID      prints JSON
    cri-kubelet.py --socket SOCK create-container ID POD.json NAME IMAGE CMD...
    cri-kubelet.py --socket SOCK start-container CID
    cri-kubelet.py --socket SOCK exec CID TIMEOUT CMD...  prints stdout, exits
                                                        with CMD's status
    cri-kubelet.py --socket SOCK stop-sandbox ID
    cri-kubelet.py --socket SOCK remove-sandbox ID
    cri-kubelet.py --socket SOCK list-sandboxes         prints JSON

POD.json describes the pod as the API server holds it:
    {"name", "namespace", "uid", "labels": {}, "annotations": {},
     "attempt": 0, "logDirectory": DIR}
and is turned into a PodSandboxConfig as pkg/kubelet/kuberuntime's
generatePodSandboxConfig does: the pod's labels plus io.kubernetes.pod.name,
.namespace and .uid; the pod's annotations (the kubelet adds
kubernetes.io/config.seen and kubernetes.io/config.source to them when it
first sees the pod); the pod network namespace (NamespaceMode POD).
"""

import argparse
import json
import os
import subprocess
import sys

GEN = os.environ.get("CRI_GEN_DIR", "")


def load_stubs():
    if not GEN or not os.path.exists(os.path.join(GEN, "api_pb2.py")):
        sys.exit("cri-kubelet: no generated stubs in CRI_GEN_DIR=%r "
                 "(run 'gen' first)" % GEN)
    sys.path.insert(0, GEN)
    import grpc  # noqa: E402
    import api_pb2  # noqa: E402
    import api_pb2_grpc  # noqa: E402
    return grpc, api_pb2, api_pb2_grpc


def gen(proto):
    """Generates api_pb2*.py from 'proto' into CRI_GEN_DIR.  Debian 12's
    grpc_tools (protoc 3.6) does not know the 'debug_redact' field option
    (registry credentials only, none of which this client sends), so the
    copy it compiles has those options removed."""
    import re
    os.makedirs(GEN, exist_ok=True)
    with open(proto) as f:
        text = f.read()
    text = re.sub(r"\s*\[debug_redact\s*=\s*true\]", "", text)
    with open(os.path.join(GEN, "api.proto"), "w") as f:
        f.write(text)
    subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc",
                           "-I", GEN, "--python_out", GEN,
                           "--grpc_python_out", GEN,
                           os.path.join(GEN, "api.proto")])


def sandbox_config(pb, pod):
    labels = dict(pod.get("labels", {}))
    labels.update({"io.kubernetes.pod.name": pod["name"],
                   "io.kubernetes.pod.namespace": pod["namespace"],
                   "io.kubernetes.pod.uid": pod["uid"]})
    annotations = dict(pod.get("annotations", {}))
    annotations.setdefault("kubernetes.io/config.source", "api")
    annotations.setdefault("kubernetes.io/config.seen",
                           pod.get("configSeen",
                                   "2026-12-04T00:00:00.000000000Z"))
    ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD)
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=pod["name"], uid=pod["uid"],
                                       namespace=pod["namespace"],
                                       attempt=pod.get("attempt", 0)),
        hostname=pod["name"],
        log_directory=pod.get("logDirectory", ""),
        dns_config=pb.DNSConfig(servers=[], searches=[], options=[]),
        labels=labels,
        annotations=annotations,
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=ns)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("cmd")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()

    if a.cmd == "gen":
        gen(a.args[0])
        return 0

    grpc, pb, pbg = load_stubs()
    chan = grpc.insecure_channel("unix://" + a.socket)
    rt = pbg.RuntimeServiceStub(chan)
    t = a.timeout

    def pod_of(path):
        with open(path) as f:
            return json.load(f)

    if a.cmd == "version":
        r = rt.Version(pb.VersionRequest(version="v1"), timeout=t)
        print(r.runtime_name, r.runtime_version, r.runtime_api_version)
    elif a.cmd == "run-sandbox":
        cfg = sandbox_config(pb, pod_of(a.args[0]))
        r = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg), timeout=t)
        print(r.pod_sandbox_id)
    elif a.cmd == "sandbox-status":
        r = rt.PodSandboxStatus(pb.PodSandboxStatusRequest(
            pod_sandbox_id=a.args[0], verbose=True), timeout=t)
        s = r.status
        info = {}
        if "info" in r.info:
            info = json.loads(r.info["info"])
        netns = ""
        for n in (info.get("runtimeSpec", {}).get("linux", {})
                  .get("namespaces", [])):
            if n.get("type") == "network":
                netns = n.get("path", "")
        print(json.dumps({
            "id": s.id,
            "state": pb.PodSandboxState.Name(s.state),
            "ip": s.network.ip,
            "additionalIps": [x.ip for x in s.network.additional_ips],
            "netns": netns,
            "pid": info.get("pid", 0),
        }))
    elif a.cmd == "create-container":
        sid, podf, name, image = a.args[:4]
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=image),
            command=a.args[4:],
            log_path=name + ".log",
            labels={"io.kubernetes.container.name": name},
            linux=pb.LinuxContainerConfig(
                security_context=pb.LinuxContainerSecurityContext(
                    namespace_options=pb.NamespaceOption(
                        network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))))
        r = rt.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=sid, config=cfg,
            sandbox_config=sandbox_config(pb, pod_of(podf))), timeout=t)
        print(r.container_id)
    elif a.cmd == "start-container":
        rt.StartContainer(pb.StartContainerRequest(container_id=a.args[0]),
                          timeout=t)
    elif a.cmd == "exec":
        cid, secs = a.args[0], int(a.args[1])
        r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=a.args[2:],
                                           timeout=secs), timeout=secs + t)
        sys.stdout.write(r.stdout.decode(errors="replace"))
        sys.stderr.write(r.stderr.decode(errors="replace"))
        return r.exit_code
    elif a.cmd == "stop-sandbox":
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=a.args[0]),
                          timeout=t)
    elif a.cmd == "remove-sandbox":
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(
            pod_sandbox_id=a.args[0]), timeout=t)
    elif a.cmd == "list-sandboxes":
        r = rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=t)
        print(json.dumps([{"id": s.id, "name": s.metadata.name,
                           "state": pb.PodSandboxState.Name(s.state)}
                          for s in r.items]))
    else:
        sys.exit("cri-kubelet: unknown command %r" % a.cmd)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # grpc.RpcError and the like: say what failed
        code = getattr(e, "code", None)
        detail = getattr(e, "details", None)
        if callable(code) and callable(detail):
            sys.exit("cri-kubelet: %s: %s" % (code(), detail()))
        raise
