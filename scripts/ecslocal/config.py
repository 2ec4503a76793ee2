"""Command line of ecs-local."""

import argparse
import ipaddress
import os

DEFAULT_ACCESS_KEY = "AKIAECSLOCALEXAMPLE"
DEFAULT_SECRET_KEY = "ecs-local-secret-key"


def host_port(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    host = host.strip("[]")
    try:
        p = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {text!r}")
    if not 0 <= p <= 65535:
        raise argparse.ArgumentTypeError(f"bad port in {text!r}")
    return host, p


def registry_host(text):
    """HOST:PORT of a registry treated like ECR; kept as written (it prefixes image names)."""
    host_port(text)
    if "/" in text:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return text


def positive(text):
    v = float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def subnet(text):
    try:
        net = ipaddress.IPv4Network(text, strict=True)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    if net.prefixlen > 28:
        raise argparse.ArgumentTypeError("subnet must be /28 or larger")
    return net


def parser():
    p = argparse.ArgumentParser(
        prog="ecs-local",
        description="Local Amazon ECS control plane: ECS API, ACS and TCS websockets, "
                    "ECR/SSM/Secrets Manager stubs, admin API and an IMDS emulator.")
    p.add_argument("--listen", type=host_port, default=("127.0.0.1", 8080), metavar="HOST:PORT",
                   help="address of the API/ACS/TCS/admin port (default 127.0.0.1:8080; port 0 = any)")
    p.add_argument("--region", default="us-west-2")
    p.add_argument("--account", default="123456789012")
    p.add_argument("--state", metavar="FILE", help="keep state in FILE (durable across restarts)")
    p.add_argument("--imds", type=host_port, metavar="HOST:PORT",
                   help="also serve an EC2 instance metadata emulator there")
    p.add_argument("--access-key", default=os.environ.get("ECS_LOCAL_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY),
                   help="access key id accepted for signing (env ECS_LOCAL_ACCESS_KEY_ID)")
    p.add_argument("--secret-key", default=os.environ.get("ECS_LOCAL_SECRET_ACCESS_KEY", DEFAULT_SECRET_KEY),
                   help="its secret (env ECS_LOCAL_SECRET_ACCESS_KEY)")
    p.add_argument("--session-token", default=os.environ.get("ECS_LOCAL_SESSION_TOKEN") or None,
                   help="require this session token with the key (env ECS_LOCAL_SESSION_TOKEN)")
    p.add_argument("--extra-key", action="append", default=[], metavar="AKID:SECRET[:TOKEN]",
                   help="accept another key pair (repeatable)")
    p.add_argument("--public-url", metavar="URL",
                   help="base URL advertised by DiscoverPollEndpoint (default: from the Host header)")
    p.add_argument("--ecr-endpoint-override", default="auto", metavar="URL|auto|none",
                   help="ecrAuthData.endpointOverride put in payloads for ECR images "
                        "(auto: this ecs-local; none: leave it out)")
    p.add_argument("--ecr-registry", action="append", default=[], type=registry_host,
                   metavar="HOST:PORT",
                   help="treat images named HOST:PORT/... as ECR images of this account and "
                        "region (repeatable); the first one is GetAuthorizationToken's default "
                        "proxyEndpoint")
    p.add_argument("--create-cluster", action="append", default=[], metavar="NAME",
                   help="create this cluster at start if missing (repeatable)")
    p.add_argument("--heartbeat-interval", type=positive, default=20.0,
                   help="seconds between ACS (and TCS) HeartbeatMessages (default 20)")
    p.add_argument("--heartbeat-miss-limit", type=int, default=0,
                   help="close an ACS session after this many unacknowledged heartbeats (0 = never)")
    p.add_argument("--manifest-interval", type=positive, default=60.0,
                   help="seconds between TaskManifestMessages (default 60)")
    p.add_argument("--resend-interval", type=positive, default=10.0,
                   help="seconds before an unacknowledged payload/credentials message is re-sent")
    p.add_argument("--credentials-ttl", type=positive, default=6 * 3600.0,
                   help="lifetime of issued task/instance credentials in seconds (default 6h); "
                        "refreshed when min(1h, ttl/2) remains")
    p.add_argument("--scheduler-interval", type=positive, default=2.0,
                   help="seconds between service scheduler passes (default 2)")
    p.add_argument("--disconnect-grace", type=float, default=60.0,
                   help="seconds an agent may be disconnected before placement reports AGENT")
    p.add_argument("--eni-subnet", type=subnet, default=subnet("10.0.1.0/24"),
                   help="IPv4 subnet for awsvpc task ENIs (default 10.0.1.0/24)")
    p.add_argument("--eni-attach-timeout", type=positive, default=300.0,
                   help="seconds to wait for an ENI ATTACHED report before the task fails")
    p.add_argument("--imds-instance-id", default=None, help="instance id the IMDS emulator reports")
    p.add_argument("--imds-instance-type", default="m5.large")
    p.add_argument("--imds-role", default="ecsInstanceRole",
                   help="instance role name served under iam/security-credentials/")
    p.add_argument("--imds-public-ip", default=None, metavar="IPV4",
                   help="public IPv4 address served at meta-data/public-ipv4 (default: none, 404)")
    p.add_argument("--imds-allow-v1", action="store_true",
                   help="answer IMDS GETs without a session token (IMDSv1)")
    p.add_argument("--tls-cert", metavar="PEM",
                   help="serve the API/ACS/TCS/admin port as https/wss with this certificate "
                        "chain (needs --tls-key); DiscoverPollEndpoint then gives https:// "
                        "endpoints, which agents open as wss://")
    p.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    p.add_argument("--verbose", "-v", action="store_true", help="log every ACS/TCS frame")
    return p


def parse(argv=None):
    args = parser().parse_args(argv)
    keys = [(args.access_key, args.secret_key, args.session_token)]
    for spec in args.extra_key:
        parts = spec.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            parser().error(f"--extra-key expects AKID:SECRET[:TOKEN], got {spec!r}")
        keys.append((parts[0], parts[1], parts[2] if len(parts) > 2 and parts[2] else None))
    args.keys = keys
    if bool(args.tls_cert) != bool(args.tls_key):
        parser().error("--tls-cert and --tls-key go together")
    return args
