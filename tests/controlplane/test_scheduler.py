"""Placement: registered resources minus running tasks (§5.3), AWS failure
reasons, StartTask, DRAINING instances, launch types."""

from cp_helpers import simple_taskdef


def _run(ecs, cluster, td, count=1, **kw):
    kw.setdefault("launchType", "EXTERNAL")
    return ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"], count=count, **kw)


def test_resource_memory(running_agent, cluster, ecs):
    a = running_agent(memory=512)
    td = simple_taskdef(ecs, memory=400)
    assert _run(ecs, cluster, td)["failures"] == []
    r = _run(ecs, cluster, td)
    assert r["tasks"] == []
    assert r["failures"] == [{"arn": a.arn, "reason": "RESOURCE:MEMORY"}]


def test_resource_cpu(running_agent, cluster, ecs):
    a = running_agent(cpu=1024)
    td = simple_taskdef(ecs, cpu=768)
    assert _run(ecs, cluster, td)["failures"] == []
    assert _run(ecs, cluster, td)["failures"] == [{"arn": a.arn, "reason": "RESOURCE:CPU"}]


def test_task_level_cpu_memory_counts(running_agent, cluster, ecs):
    a = running_agent(cpu=1024, memory=1024)
    td = ecs.register_task_definition(family="tl-" + cluster, cpu="1 vCPU", memory="0.5GB",
                                      containerDefinitions=[{"name": "a", "image": "i"}])["taskDefinition"]
    assert td["cpu"] == "1024" and td["memory"] == "512"
    assert _run(ecs, cluster, td)["failures"] == []
    t = a.wait_for("PayloadMessage")["tasks"][0]
    assert t["cpu"] == 1.0 and t["memory"] == 512         # §11.5: vCPUs (double), MiB
    assert _run(ecs, cluster, td)["failures"] == [{"arn": a.arn, "reason": "RESOURCE:CPU"}]


def test_resource_ports(running_agent, cluster, ecs):
    a = running_agent()
    reserved = simple_taskdef(ecs, portMappings=[{"containerPort": 22, "hostPort": 22}])
    assert _run(ecs, cluster, reserved)["failures"] == [{"arn": a.arn, "reason": "RESOURCE:PORTS"}]
    td = simple_taskdef(ecs, portMappings=[{"containerPort": 80, "hostPort": 8080}])
    assert _run(ecs, cluster, td)["failures"] == []
    assert _run(ecs, cluster, td)["failures"] == [{"arn": a.arn, "reason": "RESOURCE:PORTS"}]
    # dynamic host ports (hostPort 0) never conflict
    dyn = simple_taskdef(ecs, portMappings=[{"containerPort": 80}])
    assert _run(ecs, cluster, dyn, count=2)["failures"] == []
    udp = simple_taskdef(ecs, portMappings=[{"containerPort": 53, "hostPort": 5353, "protocol": "udp"}])
    assert _run(ecs, cluster, udp)["failures"] == []
    assert _run(ecs, cluster, udp)["failures"] == [{"arn": a.arn, "reason": "RESOURCE:PORTS_UDP"}]


def test_count_partially_placed(running_agent, cluster, ecs):
    a = running_agent(memory=1000)
    td = simple_taskdef(ecs, memory=300)
    r = _run(ecs, cluster, td, count=5)
    assert len(r["tasks"]) == 3
    assert r["failures"] == [{"arn": a.arn, "reason": "RESOURCE:MEMORY"}]


def test_agent_disconnected(agent, cluster, ecs):
    a = agent(cluster)
    a.register()                         # registered but never connected to ACS
    td = simple_taskdef(ecs)
    assert _run(ecs, cluster, td)["failures"] == [{"arn": a.arn, "reason": "AGENT"}]


def test_attribute_requirement(running_agent, cluster, ecs):
    a = running_agent(attributes=[{"name": "ecs.os-type", "value": "linux"}])
    td = simple_taskdef(ecs, networkMode="awsvpc")
    assert {"name": "ecs.capability.task-eni"} in td["requiresAttributes"]
    r = _run(ecs, cluster, td, networkConfiguration={"awsvpcConfiguration": {"subnets": ["s"]}})
    assert r["failures"] == [{"arn": a.arn, "reason": "ATTRIBUTE"}]


def test_no_instances_and_launch_type(running_agent, ecs, cluster):
    td = simple_taskdef(ecs)
    r = _run(ecs, cluster, td)
    assert r["failures"] == [{"reason": "No Container Instances were found in your cluster."}]
    running_agent()
    # the fake agent registers without an identity document: an external instance
    r = _run(ecs, cluster, td, launchType="EC2")
    assert r["failures"] == [{"reason": "No Container Instances were found in your cluster."}]
    assert _run(ecs, cluster, td)["failures"] == []


def test_spread_over_instances_and_draining(running_agent, cluster, ecs):
    a = running_agent()
    b = running_agent()
    td = simple_taskdef(ecs)
    r = _run(ecs, cluster, td, count=4)
    hosts = [t["containerInstanceArn"] for t in r["tasks"]]
    assert hosts.count(a.arn) == 2 and hosts.count(b.arn) == 2
    ecs.update_container_instances_state(cluster=cluster, containerInstances=[a.arn],
                                         status="DRAINING")
    r = _run(ecs, cluster, td, count=3)
    assert {t["containerInstanceArn"] for t in r["tasks"]} == {b.arn}
    st = ecs.describe_container_instances(cluster=cluster, containerInstances=[a.arn])
    assert st["containerInstances"][0]["status"] == "DRAINING"
    ecs.update_container_instances_state(cluster=cluster, containerInstances=[a.arn],
                                         status="ACTIVE")
    assert _run(ecs, cluster, td)["tasks"][0]["containerInstanceArn"] == a.arn


def test_binpack_strategy(running_agent, cluster, ecs):
    running_agent(memory=4096)
    small = running_agent(memory=1024)
    td = simple_taskdef(ecs, memory=256)
    r = _run(ecs, cluster, td, count=2,
             placementStrategy=[{"type": "binpack", "field": "memory"}])
    assert {t["containerInstanceArn"] for t in r["tasks"]} == {small.arn}


def test_start_task_on_given_instances(running_agent, cluster, ecs):
    a = running_agent(memory=512)
    b = running_agent()
    td = simple_taskdef(ecs, memory=400)
    r = ecs.start_task(cluster=cluster, taskDefinition=td["family"],
                       containerInstances=[b.arn, a.arn, "0" * 32])
    assert sorted(t["containerInstanceArn"] for t in r["tasks"]) == sorted([a.arn, b.arn])
    assert {"arn": f"arn:aws:ecs:us-west-2:123456789012:container-instance/{cluster}/{'0' * 32}",
            "reason": "MISSING"} in r["failures"]
    r = ecs.start_task(cluster=cluster, taskDefinition=td["family"], containerInstances=[a.arn])
    assert r["failures"] == [{"arn": a.arn, "reason": "RESOURCE:MEMORY"}]
    b.wait_for("PayloadMessage")
    a.wait_for("PayloadMessage")


def test_list_and_describe(running_agent, cluster, ecs):
    a = running_agent()
    td = simple_taskdef(ecs)
    arns = [t["taskArn"] for t in _run(ecs, cluster, td, count=3, startedBy="me")["tasks"]]
    assert sorted(ecs.list_tasks(cluster=cluster)["taskArns"]) == sorted(arns)
    assert sorted(ecs.list_tasks(cluster=cluster, startedBy="me")["taskArns"]) == sorted(arns)
    assert ecs.list_tasks(cluster=cluster, family="nope")["taskArns"] == []
    page = ecs.list_tasks(cluster=cluster, maxResults=2)
    assert len(page["taskArns"]) == 2 and page["nextToken"]
    rest = ecs.list_tasks(cluster=cluster, maxResults=2, nextToken=page["nextToken"])
    assert len(rest["taskArns"]) == 1 and "nextToken" not in rest
    assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == [a.arn]
    ecs.stop_task(cluster=cluster, task=arns[0])
    assert ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"] == [arns[0]]
    # task ID instead of ARN works too
    d = ecs.describe_tasks(cluster=cluster, tasks=[arns[1].rsplit("/", 1)[1]])
    assert d["tasks"][0]["taskArn"] == arns[1]
    # attributes
    ecs.put_attributes(cluster=cluster, attributes=[{"name": "stack", "value": "blue",
                                                     "targetId": a.arn}])
    got = ecs.list_attributes(cluster=cluster, targetType="container-instance",
                              attributeName="stack")["attributes"]
    assert got == [{"name": "stack", "value": "blue", "targetType": "container-instance",
                    "targetId": a.arn}]
    assert ecs.list_container_instances(cluster=cluster,
                                        filter="attribute:stack == blue")["containerInstanceArns"] == [a.arn]
    assert ecs.list_container_instances(cluster=cluster,
                                        filter="attribute:stack == red")["containerInstanceArns"] == []
