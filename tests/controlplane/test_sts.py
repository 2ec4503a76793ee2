"""STS GetCallerIdentity (query protocol) through the unmodified AWS CLI and botocore."""
import json

from cp_helpers import run_aws


def test_get_caller_identity_static_key(server):
    p = run_aws(server, "sts", "get-caller-identity")
    ident = json.loads(p.stdout)
    assert ident["Account"] == "123456789012"
    assert ident["Arn"] == "arn:aws:iam::123456789012:user/ecs-local"
    assert ident["UserId"].startswith("AIDA")


def test_get_caller_identity_refuses_bad_signatures(server):
    p = run_aws(server, "sts", "get-caller-identity", check=False,
                env={"AWS_SECRET_ACCESS_KEY": "wrong"})
    assert p.returncode != 0
    assert "SignatureDoesNotMatch" in p.stderr or "InvalidSignature" in p.stderr, p.stderr
    p = run_aws(server, "sts", "get-session-token", check=False)
    assert p.returncode != 0 and "InvalidAction" in p.stderr, p.stderr


def test_get_caller_identity_added_key(server):
    """A key added through the admin API is a user too (issued task-role credentials answer
    as the assumed role: tests/integration/test_credentials.py, from inside a task)."""
    srv = server
    body = {"accessKeyId": "AKIASTSTEST000000001", "secretAccessKey": "s3cret"}
    srv.admin("POST", "/credentials", body)
    p = run_aws(srv, "sts", "get-caller-identity",
                env={"AWS_ACCESS_KEY_ID": body["accessKeyId"],
                     "AWS_SECRET_ACCESS_KEY": body["secretAccessKey"]})
    assert json.loads(p.stdout)["Arn"].endswith(":user/ecs-local")
