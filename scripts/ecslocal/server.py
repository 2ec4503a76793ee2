"""Wiring: one asyncio process, one port for API + admin + ACS + TCS, and an
optional second port for the IMDS emulator."""

import asyncio
import logging
import signal
import ssl
import sys
import time

from . import api_cloudwatch, api_sts, config
from . import tasks as tasklib
from .acs import AcsHub
from .admin import PREFIX, Admin
from .api import Api
from .api_aux import EcrOps, SecretsManagerOps, SsmOps
from .api_ecs import EcsOps
from .controlplane import ControlPlane
from .credentials import CredentialTable
from .faults import Faults
from .httpserver import HttpServer, write_raw_response
from .imds import Imds
from .scheduler import Scheduler
from .sigv4 import SigV4Verifier
from .store import Store
from .tcs import TcsHub

log = logging.getLogger("ecslocal")


class App:
    def __init__(self, cfg):
        self.cfg = cfg
        self.store = Store(cfg.state)
        self.faults = Faults()
        self.creds = CredentialTable(self.store, cfg.keys)
        self.cp = ControlPlane(cfg, self.store, self.creds, self.faults)
        self.verifier = SigV4Verifier(self.creds, cfg.region, self.faults.now, self.faults)
        self.cp.scheduler = Scheduler(self.cp)
        self.cp.acs = AcsHub(self.cp, self.verifier)
        self.cp.tcs = TcsHub(self.cp, self.verifier)
        self.cp.cloudwatch = api_cloudwatch.CloudWatch(self.cp)
        self.ecs_ops = EcsOps(self.cp)
        self.api = Api(self.cp, self.verifier, {
            "ecs": self.ecs_ops, "ecr": EcrOps(self.cp), "ssm": SsmOps(self.cp),
            "secretsmanager": SecretsManagerOps(self.cp)})
        self.admin = Admin(self)
        self.imds = Imds(self.cp) if cfg.imds else None
        self.base_url = None
        self.imds_url = None
        self.http = HttpServer(self.handle_http, self.handle_upgrade, clock=self.faults.now,
                               name="api", ssl_context=tls_context(cfg))
        self.imds_http = None
        self.stopping = asyncio.Event()

    # ------------------------------------------------------------ routing
    async def handle_http(self, req):
        if req.path == PREFIX or req.path.startswith(PREFIX + "/"):
            return await self.admin.handle(req)
        if api_cloudwatch.is_cloudwatch(req):
            return await api_cloudwatch.handle(self.cp, self.verifier, req)
        if api_sts.is_query_post(req):
            return await api_sts.handle(self.cp, self.verifier, req)
        return await self.api.handle(req)

    async def handle_upgrade(self, req, reader, writer):
        if req.path == "/acs/ws":
            await self.cp.acs.handle_upgrade(req, reader, writer)
        elif req.path == "/tcs/ws":
            await self.cp.tcs.handle_upgrade(req, reader, writer)
        else:
            await write_raw_response(writer, 404, b'{"message":"no websocket endpoint here"}',
                                     [("Content-Type", "application/json")])
            writer.close()

    # --------------------------------------------------------- background
    async def background(self):
        """Service scheduler passes, ENI attach deadlines, credential pruning."""
        last = 0.0
        while not self.stopping.is_set():
            await asyncio.sleep(0.1)
            now = time.time()
            sched = self.cp.scheduler
            if sched.take_kick() or now - last >= self.cfg.scheduler_interval:
                last = now
                try:
                    self._eni_deadlines(now)
                    sched.reconcile()
                    self.creds.prune(now)
                except Exception:
                    log.exception("background pass failed")
                self.store.flush()

    def _eni_deadlines(self, now):
        for t in list(self.cp.data["tasks"].values()):
            if t.get("eni") and t["lastStatus"] != "STOPPED" and not t["acs"]["eniAttached"] \
                    and now > t["acs"]["attachDeadline"]:
                log.info("task %s: ENI not attached in time", t["taskArn"])
                tasklib.fail_unplaceable(self.cp, t, "Timeout waiting for network interface "
                                                     "provisioning to complete.")

    # -------------------------------------------------------------- main
    async def run(self):
        cfg = self.cfg
        host, port = await self.http.start(*cfg.listen)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        if ":" in shown:
            shown = f"[{shown}]"
        self.base_url = f"{'https' if cfg.tls_cert else 'http'}://{shown}:{port}"
        if cfg.ecr_endpoint_override == "auto":
            cfg.ecr_endpoint_override = (cfg.public_url or self.base_url).rstrip("/")
        elif cfg.ecr_endpoint_override == "none":
            cfg.ecr_endpoint_override = None
        if self.imds:
            self.imds_http = HttpServer(self.imds.handle, name="imds")
            ih, ip = await self.imds_http.start(*cfg.imds)
            self.imds_url = f"http://{'127.0.0.1' if ih in ('0.0.0.0', '') else ih}:{ip}"
        for name in cfg.create_cluster:
            c = self.cp.data["clusters"].get(name)
            if c is None or c["status"] != "ACTIVE":
                self.ecs_ops.CreateCluster({"clusterName": name}, None)
        self.store.mark_dirty()
        self.store.flush()
        ak, sk, token = cfg.keys[0]
        print(f"ecs-local listening on {self.base_url} (region {cfg.region}, account {cfg.account})",
              flush=True)
        print(f"ecs-local credentials: AWS_ACCESS_KEY_ID={ak} AWS_SECRET_ACCESS_KEY={sk}"
              + (f" AWS_SESSION_TOKEN={token}" if token else ""), flush=True)
        if self.imds_url:
            print(f"ecs-local imds on {self.imds_url} (instance {self.imds.instance_id})", flush=True)
        print(f"ecs-local state: {cfg.state or 'in memory'}", flush=True)

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        bg = asyncio.create_task(self.background())
        await self.stopping.wait()
        log.info("shutting down")
        bg.cancel()
        try:
            await asyncio.wait_for(self.cp.acs.close_sessions(
                code=1001, text="ConnectionClosed: ecs-local is shutting down"), 2)
        except Exception:
            pass
        await self.http.close()
        if self.imds_http:
            await self.imds_http.close()
        self.store.mark_dirty()
        self.store.flush()


def tls_context(cfg):
    """The server side of --tls-cert/--tls-key: TLS 1.2 or later, session tickets on (so
    a client that reconnects can resume instead of doing a full handshake)."""
    if not cfg.tls_cert:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    return ctx


def main(argv=None):
    cfg = config.parse(argv)
    logging.basicConfig(
        level=logging.DEBUG if cfg.verbose else logging.INFO,
        format="%(asctime)s.%(msecs)03d %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    try:
        asyncio.run(App(cfg).run())
    except OSError as e:
        print(f"ecs-local: {e}", file=sys.stderr)
        return 1
    return 0
