"""awsvpc tasks (§6.3) against a simulated ENI: a veth whose host end carries the MAC the
control plane allocated and whose peer sits in a "subnet" namespace holding the gateway
address, an HTTP server on it, and a stand-in for the instance metadata service. Checked
from inside the task container and with the kernel's own view (`ip`), not the agent's log."""
import json
import os
import subprocess

import pytest

import harness
from harness import docker, docker_inspect, wait_for
from test_agent_core import registered

BRIDGE = "ecs-bridge"


def ip(*args, ns=None, check=True):
    cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, check=check).stdout


def links():
    return json.loads(ip("-j", "link"))


def link_by_mac(mac):
    return next((l for l in links() if l.get("address") == mac), None)


class Subnet:
    """The VPC side: namespace with the gateway, a web server, and an IMDS look-alike."""

    def __init__(self, gateway_cidr):
        tag = os.urandom(3).hex()
        self.ns = f"ecsit-subnet-{tag}"
        self.host_end = f"ecsit{tag}"
        self.gateway = gateway_cidr.split("/")[0]
        self.servers = []
        ip("netns", "add", self.ns)
        ip("link", "set", "lo", "up", ns=self.ns)
        self.gateway_cidr = gateway_cidr

    def plug_eni(self, mac, servers=True):
        ip("link", "add", self.host_end, "address", mac, "type", "veth", "peer", "name", "gw0",
           "netns", self.ns)
        ip("addr", "add", self.gateway_cidr, "dev", "gw0", ns=self.ns)
        ip("addr", "add", "169.254.169.254/32", "dev", "gw0", ns=self.ns)
        ip("link", "set", "gw0", "up", ns=self.ns)
        if not servers:
            return
        for addr, port in ((self.gateway, 8080), ("169.254.169.254", 80)):
            p = subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-m",
                                  "http.server", "--bind", addr, str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.servers.append(p)
        for addr, port in ((self.gateway, 8080), ("169.254.169.254", 80)):
            wait_for(lambda: subprocess.run(
                ["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c",
                 f"import socket; socket.create_connection(('{addr}', {port}), 1)"],
                capture_output=True).returncode == 0, what=f"server on {addr}:{port}")

    def remove(self, mac):
        for p in self.servers:
            p.kill()
            p.wait()
        ip("netns", "del", self.ns, check=False)  # takes gw0 and so the veth with it
        eni = link_by_mac(mac)
        if eni:
            ip("link", "del", eni["ifname"], check=False)


def namespace_view(pid):
    """Links (with their addresses and indexes) and routes of a process's namespace."""
    def nsip(*args):
        return subprocess.run(["nsenter", "-t", pid, "-n", "ip", *args], capture_output=True,
                              text=True, check=True).stdout
    return {a["ifname"]: a for a in json.loads(nsip("-j", "addr"))}, nsip("route")


def ipv4_view(by_name, routes):
    """What the agent sets up, without what the kernel changes by itself (IPv6 DAD)."""
    links = {n: (l["ifindex"], l["address"],
                 sorted(f"{i['local']}/{i['prefixlen']}" for i in l["addr_info"]
                        if i["family"] == "inet"))
             for n, l in by_name.items()}
    return links, routes


def in_task(cid, script):
    out = subprocess.run(["docker", "exec", cid, "sh", "-c", script], capture_output=True,
                         text=True, timeout=30)
    return out.stdout + out.stderr


def http_get(cid, host, port):
    return in_task(cid, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port}")


def attachment(task):
    return {d["name"]: d["value"] for d in task["attachments"][0]["details"]}


@pytest.mark.parametrize("block_imds", [None, "false"], ids=["imds-blocked", "imds-allowed"])
def test_awsvpc_task_on_a_simulated_eni(tmpdir_path, block_imds):
    imds_port = harness.free_port()
    cp = harness.ControlPlane(tmpdir_path, extra_args=[
        "--imds", f"127.0.0.1:{imds_port}", "--imds-instance-id", "i-0a1b2c3d4e5f60718"]).start()
    cluster = harness.unique()
    subnet = Subnet("10.0.1.1/24")
    mac = None
    bridge_before = any(l["ifname"] == BRIDGE for l in links())
    agent_dir = os.path.join(tmpdir_path, "agent")
    os.makedirs(agent_dir)
    agent = harness.Agent(agent_dir, cluster, cp.url,
                          {"ECS_EXTERNAL": "false", "ECS_ENABLE_TASK_ENI": "true",
                           "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached",
                           "ECS_AWSVPC_BLOCK_IMDS": block_imds,
                           "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s"},
                          env={"AWS_EC2_METADATA_SERVICE_ENDPOINT":
                               f"http://127.0.0.1:{imds_port}"})
    try:
        cp.create_cluster(cluster)
        docker("rmi", "-f", "amazon/amazon-ecs-pause:0.1.0", check=False)
        agent.start()
        instance = registered(cp, cluster, agent)
        ci = cp.aws("ecs", "describe-container-instances", "--cluster", cluster,
                    "--container-instances", instance)["containerInstances"][0]
        attrs = {a["name"] for a in ci["attributes"]}
        assert "ecs.capability.task-eni" in attrs
        assert ("ecs.capability.task-eni-block-instance-metadata" in attrs) == (not block_imds)
        # The pause image came from the tarball built with the agent, not a registry.
        wait_for(lambda: docker_inspect("amazon/amazon-ecs-pause:0.1.0"),
                 what="pause image loaded")

        cp.register("vpc", [{"name": "app", "image": harness.BUSYBOX, "essential": True,
                             "memory": 32, "command": ["sleep", "600"]}],
                    network_mode="awsvpc")
        out = cp.aws("ecs", "run-task", "--cluster", cluster, "--task-definition", "vpc",
                     "--launch-type", "EC2", "--network-configuration",
                     json.dumps({"awsvpcConfiguration": {"subnets": ["subnet-0abc"]}}))
        arn = out["tasks"][0]["taskArn"]
        eni = attachment(cp.describe_task(cluster, arn))
        mac, eni_ip = eni["macAddress"], eni["privateIPv4Address"]
        # The ENI arrives late, as a hot-plugged one does.
        agent.wait_log(r"Waiting up to \d+ s for the ENI " + mac)
        subnet.plug_eni(mac)
        task = cp.wait_task(cluster, arn, "RUNNING", timeout=90)
        assert cp.describe_task(cluster, arn)["attachments"][0]["status"] == "ATTACHED"
        app = task["containers"][0]["runtimeId"]

        pause = [docker_inspect(c) for c in harness.containers_of(cluster)]
        pause = [c for c in pause
                 if c["Config"]["Labels"]["com.amazonaws.ecs.container-name"] ==
                 "~internal~ecs~pause"]
        assert len(pause) == 1
        pause = pause[0]
        assert pause["HostConfig"]["NetworkMode"] == "none"
        assert docker_inspect(app)["HostConfig"]["NetworkMode"] == "container:" + pause["Id"]
        pid = str(pause["State"]["Pid"])

        # The kernel's view of the task namespace.
        by_name, routes = namespace_view(pid)
        assert by_name["eth0"]["address"] == mac
        assert f"{eni_ip}/24" in {f"{i['local']}/{i['prefixlen']}"
                                  for i in by_name["eth0"]["addr_info"]}
        assert "ecs-eth0" in by_name
        assert "default via 10.0.1.1 dev eth0" in routes
        assert ("blackhole 169.254.169.254" in routes) == (not block_imds)
        assert not link_by_mac(mac)  # no longer in the host namespace

        # From inside the task container.
        assert eni_ip in in_task(app, "ip addr show eth0")
        assert "HTTP/1.0 200" in http_get(app, "10.0.1.1", 8080)
        assert "404" in http_get(app, "169.254.170.2", 80)
        # The instance metadata address: blocked by default, reachable when allowed.
        assert ("HTTP/1.0 200" in http_get(app, "169.254.169.254", 80)) == bool(block_imds)
        # DNS from the ENI (the control plane gives the subnet's second address).
        assert "nameserver 10.0.1.2" in in_task(app, "cat /etc/resolv.conf")
        assert f"{eni_ip}\t{eni['privateDnsName']}" in in_task(app, "cat /etc/hosts")
        assert in_task(app, "hostname").strip() == eni["privateDnsName"]

        # A SIGKILLed agent comes back to the same namespace: nothing recreated, all working.
        agent.kill()
        agent.start()
        agent.wait_log(r"Restored 1 task")
        registered(cp, cluster, agent)
        # Synchronisation only: the restarted agent has re-checked the namespace. What counts
        # is the kernel's view, which must be exactly what it was.
        agent.wait_log(r"ENI " + mac + " is eth0 of the task namespace.*\n(.*\n)*.*ENI " + mac +
                       " is eth0 of the task namespace")
        assert ipv4_view(*namespace_view(pid)) == ipv4_view(by_name, routes)
        assert sorted(harness.containers_of(cluster)) == sorted([app, pause["Id"]])
        assert "HTTP/1.0 200" in http_get(app, "10.0.1.1", 8080)
        assert cp.describe_task(cluster, arn)["lastStatus"] == "RUNNING"

        if not block_imds:
            # Saved state lost: the task is rebuilt from labels, the pause container adopted
            # as its namespace holder (never reported as a container), and the stop below
            # still returns the ENI.
            agent.kill()
            tasks_dir = os.path.join(agent.datadir, "tasks")
            for f in os.listdir(tasks_dir):
                os.unlink(os.path.join(tasks_dir, f))
            agent.start()
            agent.wait_log(r"rebuilt from the labels")
            registered(cp, cluster, agent)
            assert sorted(harness.containers_of(cluster)) == sorted([app, pause["Id"]])
            assert "HTTP/1.0 200" in http_get(app, "10.0.1.1", 8080)

        cp.stop_task(cluster, arn)
        cp.wait_task(cluster, arn, "STOPPED", timeout=60)
        # The ENI is back on the host, down, under the official name; nothing else left.
        back = wait_for(lambda: link_by_mac(mac), what="ENI back in the host namespace")
        assert back["ifname"] == "ecs" + mac.replace(":", "")[:6]
        wait_for(lambda: not [c for c in harness.containers_of(cluster)], timeout=30,
                 what="task and pause containers removed")
        assert not [l for l in links() if l.get("master") == BRIDGE]
    except BaseException:
        print(f"--- agent log (tail) ---\n{agent.read_log()[-8000:]}")
        raise
    finally:
        agent.kill()
        cp.stop()
        harness.remove_containers_of(cluster)
        subnet.remove(mac or "none")
        if not bridge_before:
            ip("link", "del", BRIDGE, check=False)


class Forwarder:
    """A TCP relay from an address inside a namespace to a port on the host's loopback: a
    listening socket created in the namespace (setns in this thread only), connections
    relayed from the host's side. Lets a task on the simulated subnet reach the control
    plane with no route or NAT on the host."""

    def __init__(self, ns, addr, port, target_port):
        import ctypes
        import socket
        import threading
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        ready = threading.Event()
        self.error = None

        def serve():
            host_ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            sub_ns = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(sub_ns, 0x40000000) != 0:  # CLONE_NEWNET
                    raise OSError(ctypes.get_errno(), "setns")
                self.sock = socket.create_server((addr, port))
                if libc.setns(host_ns, 0x40000000) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
            except OSError as e:
                self.error = e
                return
            finally:
                os.close(host_ns)
                os.close(sub_ns)
                ready.set()
            while True:
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    return
                threading.Thread(target=self.relay, args=(conn, target_port),
                                 daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)
        assert self.error is None, self.error

    @staticmethod
    def relay(conn, target_port):
        import socket
        import threading
        up = socket.create_connection(("127.0.0.1", target_port))

        def pipe(a, b):
            try:
                while (data := a.recv(65536)):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
        threading.Thread(target=pipe, args=(up, conn), daemon=True).start()
        pipe(conn, up)

    def close(self):
        self.sock.close()


def test_awsvpc_task_role_with_unmodified_clients(tmpdir_path):
    """In an awsvpc task with a task role: the AWS CLI and botocore find the role's
    credentials through the ENI's namespace (169.254.170.2 over ecs-bridge), the control
    plane sees the task's role, and curl of the v4 task metadata shows the ENI's network
    and the control plane's view of the task."""
    from test_credentials import BOTOCORE_CHAIN, DEBIAN, ROLE, have_debian_image
    assert have_debian_image(), f"{DEBIAN} missing: scripts/test-images.sh builds it"
    imds_port = harness.free_port()
    cp = harness.ControlPlane(tmpdir_path, extra_args=[
        "--imds", f"127.0.0.1:{imds_port}", "--imds-instance-id", "i-0a1b2c3d4e5f60719",
        "--eni-subnet", "10.0.2.0/24"]).start()
    cluster = harness.unique()
    subnet = Subnet("10.0.2.1/24")
    mac = fwd = None
    bridge_before = any(l["ifname"] == BRIDGE for l in links())
    agent_dir = os.path.join(tmpdir_path, "agent")
    os.makedirs(agent_dir)
    agent = harness.Agent(agent_dir, cluster, cp.url,
                          {"ECS_EXTERNAL": "false", "ECS_ENABLE_TASK_ENI": "true",
                           "ECS_ENABLE_TASK_IAM_ROLE": "true",
                           "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"},
                          env={"AWS_EC2_METADATA_SERVICE_ENDPOINT":
                               f"http://127.0.0.1:{imds_port}"})
    try:
        cp.create_cluster(cluster)
        agent.start()
        registered(cp, cluster, agent)
        cp.register("vpc-cli", [{"name": "app", "image": DEBIAN, "essential": True,
                                 "memory": 128, "command": ["sleep", "600"]}],
                    network_mode="awsvpc", task_role_arn=ROLE)
        out = cp.aws("ecs", "run-task", "--cluster", cluster, "--task-definition", "vpc-cli",
                     "--launch-type", "EC2", "--network-configuration",
                     json.dumps({"awsvpcConfiguration": {"subnets": ["subnet-0abc"]}}))
        arn = out["tasks"][0]["taskArn"]
        eni = attachment(cp.describe_task(cluster, arn))
        mac, eni_ip = eni["macAddress"], eni["privateIPv4Address"]
        subnet.plug_eni(mac, servers=False)
        task = cp.wait_task(cluster, arn, "RUNNING", timeout=90)
        app = task["containers"][0]["runtimeId"]
        cp_port = int(cp.url.rsplit(":", 1)[1])
        fwd = Forwarder(subnet.ns, "10.0.2.1", 8443, cp_port)
        endpoint = "http://10.0.2.1:8443"

        # The AWS CLI, nothing configured but the region and the endpoint.
        p = subprocess.run(["docker", "exec", "-e", "AWS_DEFAULT_REGION=" + harness.REGION, app,
                            "aws", "--endpoint-url", endpoint, "sts", "get-caller-identity"],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        task_id = arn.rsplit("/", 1)[1]
        assert json.loads(p.stdout)["Arn"] == \
            f"arn:aws:sts::123456789012:assumed-role/ecs-it-task-role/{task_id}"
        # botocore's default chain: the container provider.
        p = subprocess.run(["docker", "exec", app, "python3", "-c", BOTOCORE_CHAIN],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["method"] == "container-role"

        # curl of the v4 task metadata: the ENI's network, the control plane's task.
        p = subprocess.run(["docker", "exec", app, "sh", "-c",
                            "curl -s $ECS_CONTAINER_METADATA_URI_V4/task"],
                           capture_output=True, text=True, timeout=30)
        meta = json.loads(p.stdout)
        desc = cp.describe_task(cluster, arn)
        assert (meta["TaskARN"], meta["Family"], meta["KnownStatus"]) == \
            (arn, "vpc-cli", desc["lastStatus"])
        net = meta["Containers"][0]["Networks"][0]
        assert net["NetworkMode"] == "awsvpc" and net["IPv4Addresses"] == [eni_ip], net
        assert net["MACAddress"] == mac, net
        assert meta["Containers"][0]["DockerId"] == app
        assert meta["Containers"][0]["ContainerARN"] == desc["containers"][0]["containerArn"]

        cp.stop_task(cluster, arn)
        cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    except BaseException:
        print(f"--- agent log (tail) ---\n{agent.read_log()[-8000:]}")
        raise
    finally:
        if fwd:
            fwd.close()
        agent.kill()
        cp.stop()
        harness.remove_containers_of(cluster)
        subnet.remove(mac or "none")
        if not bridge_before:
            ip("link", "del", BRIDGE, check=False)
