"""SigV4 verification (§1.1) and AWS's authentication error shapes."""

from botocore.credentials import Credentials

T_LIST = "AmazonEC2ContainerServiceV20141113.ListClusters"


def _err(status, headers, body, code):
    assert status in (400, 403), (status, body)
    assert headers.get("X-Amzn-ErrorType") == code, headers
    assert body["__type"] == code
    return body["message"]


def test_signed_request_ok(server):
    status, headers, body = server.post(T_LIST, {})
    assert status == 200 and "clusterArns" in body
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers.get("x-amzn-RequestId")


def test_bad_signature(server):
    status, headers, body = server.post(T_LIST, {}, creds=Credentials(server.access_key, "nope"))
    assert status == 403
    msg = _err(status, headers, body, "InvalidSignatureException")
    assert msg.startswith("The request signature we calculated does not match the signature "
                          "you provided.")
    assert "The Canonical String for this request should have been" in msg


def test_tampered_body_fails_signature(server):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    import json
    import urllib.error
    import urllib.request
    req = AWSRequest(method="POST", url=server.url + "/", data=b"{}",
                     headers={"X-Amz-Target": T_LIST, "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(server.access_key, server.secret_key), "ecs", "us-west-2").add_auth(req)
    r = urllib.request.Request(server.url + "/", data=b'{"maxResults":1}', method="POST",
                               headers=dict(req.headers.items()))
    try:
        urllib.request.urlopen(r, timeout=5)
        raise AssertionError("tampered body accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 403
        assert json.loads(e.read())["__type"] == "InvalidSignatureException"


def test_unknown_access_key(server):
    status, headers, body = server.post(T_LIST, {}, creds=Credentials("AKIANOBODY0000000000", "x"))
    assert status == 403
    assert _err(status, headers, body, "UnrecognizedClientException") == \
        "The security token included in the request is invalid."


def test_missing_authentication(server):
    status, headers, body = server.post(T_LIST, {}, sign=False)
    assert status == 403
    assert _err(status, headers, body, "MissingAuthenticationTokenException") == \
        "Missing Authentication Token"


def test_clock_skew_rejected_like_aws(server):
    status, headers, body = server.post(T_LIST, {}, date_offset=-600)
    msg = _err(status, headers, body, "InvalidSignatureException")
    assert status == 403
    assert msg.startswith("Signature expired: ") and "is now earlier than" in msg \
        and msg.endswith(" - 5 min.)")
    status, headers, body = server.post(T_LIST, {}, date_offset=600)
    msg = _err(status, headers, body, "InvalidSignatureException")
    assert msg.startswith("Signature not yet current: ") and msg.endswith(" + 5 min.)")
    # within 5 minutes is fine
    assert server.post(T_LIST, {}, date_offset=-200)[0] == 200


def test_scope_region_and_service(server):
    from botocore.auth import SigV4Auth
    import json
    import urllib.error
    import urllib.request
    from botocore.awsrequest import AWSRequest

    def send(service, region):
        req = AWSRequest(method="POST", url=server.url + "/", data=b"{}",
                         headers={"X-Amz-Target": T_LIST})
        SigV4Auth(Credentials(server.access_key, server.secret_key), service, region).add_auth(req)
        r = urllib.request.Request(server.url + "/", data=b"{}", method="POST",
                                   headers=dict(req.headers.items()))
        try:
            urllib.request.urlopen(r, timeout=5)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
        return 200, None
    status, body = send("ecs", "eu-west-1")
    assert status == 403 and body["__type"] == "InvalidSignatureException"
    assert "Credential should be scoped to a valid region" in body["message"]
    status, body = send("ssm", "us-west-2")
    assert status == 403 and "Credential should be scoped to correct service: 'ecs'" in body["message"]


def test_session_token_must_match(server):
    server.admin("POST", "/credentials", {"accessKeyId": "ASIATOKENKEY00000001",
                                          "secretAccessKey": "s3cr3t", "sessionToken": "tok-1"})
    ok = server.post(T_LIST, {}, creds=Credentials("ASIATOKENKEY00000001", "s3cr3t", "tok-1"))
    assert ok[0] == 200
    for token in (None, "tok-2"):
        status, headers, body = server.post(
            T_LIST, {}, creds=Credentials("ASIATOKENKEY00000001", "s3cr3t", token))
        assert _err(status, headers, body, "UnrecognizedClientException")


def test_botocore_clients_for_all_services(server):
    assert "clusterArns" in server.client("ecs").list_clusters()
    assert server.client("ecr").get_authorization_token()["authorizationData"]
    assert server.client("ssm").get_parameters(Names=["/nope"])["InvalidParameters"] == ["/nope"]
    sm = server.client("secretsmanager")
    try:
        sm.get_secret_value(SecretId="nope")
        raise AssertionError("expected ResourceNotFoundException")
    except sm.exceptions.ResourceNotFoundException:
        pass


def test_websocket_upgrade_needs_valid_signature(server, agent, cluster):
    a = agent(cluster)
    a.register()
    status, body = a.upgrade_raw(creds=Credentials(server.access_key, "wrong"))
    assert status == 403
    assert "InvalidSignatureException" in body.decode()
    status, _ = a.upgrade_raw()
    assert status == 101
