"""A throw-away certificate authority for the TLS tests, made with the openssl CLI: a CA,
and server certificates it signs for chosen names and validity periods (an expired one
included, through `openssl ca -startdate/-enddate`)."""

import os
import subprocess

CA_CONFIG = """[ca]
default_ca = test_ca
[test_ca]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any_name
copy_extensions = none
unique_subject = no
[any_name]
commonName = supplied
[server]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {san}
"""


def _run(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class CertAuthority:
    def __init__(self, directory, name="ecs-agent test CA"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.cert = os.path.join(directory, "ca.pem")
        self.key = os.path.join(directory, "ca.key")
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
             "-subj", f"/CN={name}")
        open(os.path.join(directory, "index.txt"), "w").close()
        with open(os.path.join(directory, "serial"), "w") as f:
            f.write("1000\n")

    def issue(self, stem, names=("localhost", "127.0.0.1"), start=None, end=None):
        """A server certificate for names (DNS names or IP addresses); start and end are
        openssl dates (YYYYMMDDHHMMSSZ), default now .. 2 days. Returns (cert, key)."""
        key = os.path.join(self.dir, f"{stem}.key")
        csr = os.path.join(self.dir, f"{stem}.csr")
        cert = os.path.join(self.dir, f"{stem}.pem")
        san = ",".join(("IP:" if n[0].isdigit() else "DNS:") + n for n in names)
        cnf = os.path.join(self.dir, f"{stem}.cnf")
        with open(cnf, "w") as f:
            f.write(CA_CONFIG.format(dir=self.dir, san=san))
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={names[0]}")
        dates = ["-startdate", start] if start else []
        dates += ["-enddate", end] if end else ["-days", "2"]
        _run("ca", "-batch", "-config", cnf, "-cert", self.cert, "-keyfile", self.key,
             "-in", csr, "-out", cert, "-extensions", "server", "-notext", *dates)
        return cert, key
