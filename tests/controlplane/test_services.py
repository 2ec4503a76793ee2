"""The service scheduler: desiredCount kept, stopped tasks replaced,
scaling, DRAINING instances, new deployments, deletion."""

from cp_helpers import simple_taskdef, wait_until


def _svc(ecs, cluster, name):
    return ecs.describe_services(cluster=cluster, services=[name])["services"][0]


def _live(ecs, cluster, name):
    arns = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
    if not arns:
        return []
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]


def test_service_keeps_desired_count_and_replaces_stopped(running_agent, cluster, ecs):
    a = running_agent(auto_run=True)
    td = simple_taskdef(ecs)
    svc = ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td["family"],
                             desiredCount=2, launchType="EXTERNAL")["service"]
    assert svc["deployments"][0]["status"] == "PRIMARY"
    assert svc["deployments"][0]["id"].startswith("ecs-svc/")
    wait_until(lambda: _svc(ecs, cluster, "web")["runningCount"] == 2, 5, what="2 running")
    tasks = _live(ecs, cluster, "web")
    assert all(t["group"] == "service:web" and t["startedBy"] == svc["deployments"][0]["id"]
               for t in tasks)
    wait_until(lambda: any("has reached a steady state" in e["message"]
                           for e in _svc(ecs, cluster, "web")["events"]), 3, what="steady state")
    # the container dies: the agent reports STOPPED on its own
    victim = tasks[0]["taskArn"]
    a.submit(victim, "STOPPED", containers=[{"containerName": "app", "status": "STOPPED",
                                             "exitCode": 2}])
    d = ecs.describe_tasks(cluster=cluster, tasks=[victim])["tasks"][0]
    assert d["stopCode"] == "EssentialContainerExited"
    wait_until(lambda: len(_live(ecs, cluster, "web")) == 2
               and victim not in [t["taskArn"] for t in _live(ecs, cluster, "web")], 5,
               what="replacement")
    wait_until(lambda: _svc(ecs, cluster, "web")["runningCount"] == 2, 5)
    assert any("has started 1 tasks" in e["message"] for e in _svc(ecs, cluster, "web")["events"])


def test_service_scale_down_and_delete(running_agent, cluster, ecs):
    running_agent(auto_run=True)
    td = simple_taskdef(ecs)
    ecs.create_service(cluster=cluster, serviceName="api", taskDefinition=td["family"],
                       desiredCount=3, launchType="EXTERNAL")
    wait_until(lambda: _svc(ecs, cluster, "api")["runningCount"] == 3, 5)
    ecs.update_service(cluster=cluster, service="api", desiredCount=1)
    wait_until(lambda: _svc(ecs, cluster, "api")["runningCount"] == 1
               and len(_live(ecs, cluster, "api")) == 1, 5, what="scaled to 1")
    stopped = ecs.list_tasks(cluster=cluster, serviceName="api", desiredStatus="STOPPED")["taskArns"]
    d = ecs.describe_tasks(cluster=cluster, tasks=stopped)["tasks"]
    assert len(d) == 2 and all(t["stopCode"] == "ServiceSchedulerInitiated" for t in d)
    assert all(t["lastStatus"] == "STOPPED" for t in d)       # the agent reported them
    # delete needs scale to 0 (or force)
    try:
        ecs.delete_service(cluster=cluster, service="api")
        raise AssertionError("expected InvalidParameterException")
    except ecs.exceptions.InvalidParameterException:
        pass
    assert ecs.delete_service(cluster=cluster, service="api", force=True)["service"]["status"] == "DRAINING"
    wait_until(lambda: _svc(ecs, cluster, "api")["status"] == "INACTIVE", 5, what="INACTIVE")
    assert ecs.list_services(cluster=cluster)["serviceArns"] == []


def test_draining_instance_tasks_move(running_agent, cluster, ecs):
    a = running_agent(auto_run=True)
    td = simple_taskdef(ecs)
    ecs.create_service(cluster=cluster, serviceName="mv", taskDefinition=td["family"],
                       desiredCount=2, launchType="EXTERNAL")
    wait_until(lambda: _svc(ecs, cluster, "mv")["runningCount"] == 2, 5)
    b = running_agent(auto_run=True)
    ecs.update_container_instances_state(cluster=cluster, containerInstances=[a.arn],
                                         status="DRAINING")
    wait_until(lambda: {t["containerInstanceArn"] for t in _live(ecs, cluster, "mv")} == {b.arn}
               and _svc(ecs, cluster, "mv")["runningCount"] == 2, 8, what="tasks moved to b")
    on_a = ecs.list_tasks(cluster=cluster, containerInstance=a.arn, desiredStatus="STOPPED")["taskArns"]
    assert len(on_a) == 2
    ci = ecs.describe_container_instances(cluster=cluster, containerInstances=[a.arn])
    assert ci["containerInstances"][0]["runningTasksCount"] == 0


def test_new_deployment_replaces_tasks(running_agent, cluster, ecs):
    running_agent(auto_run=True)
    td1 = simple_taskdef(ecs)
    td2 = simple_taskdef(ecs, family=td1["family"], memory=64)
    ecs.create_service(cluster=cluster, serviceName="dep", taskDefinition=td1["taskDefinitionArn"],
                       desiredCount=2, launchType="EXTERNAL")
    wait_until(lambda: _svc(ecs, cluster, "dep")["runningCount"] == 2, 5)
    upd = ecs.update_service(cluster=cluster, service="dep", taskDefinition=td2["taskDefinitionArn"])
    assert upd["service"]["taskDefinition"] == td2["taskDefinitionArn"]
    assert [d["status"] for d in upd["service"]["deployments"]][:2] == ["PRIMARY", "ACTIVE"]
    wait_until(lambda: {t["taskDefinitionArn"] for t in _live(ecs, cluster, "dep")}
               == {td2["taskDefinitionArn"]} and len(_live(ecs, cluster, "dep")) == 2
               and _svc(ecs, cluster, "dep")["runningCount"] == 2, 8, what="rolled to td2")
    # the old deployment disappears once its tasks have stopped
    wait_until(lambda: len(_svc(ecs, cluster, "dep")["deployments"]) == 1, 5)
    stopped = ecs.list_tasks(cluster=cluster, serviceName="dep", desiredStatus="STOPPED")["taskArns"]
    assert {t["taskDefinitionArn"] for t in ecs.describe_tasks(cluster=cluster, tasks=stopped)["tasks"]} \
        == {td1["taskDefinitionArn"]}
