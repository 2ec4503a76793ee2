"""CloudWatch, query protocol (what aws-cli and botocore speak by default): the AWS/ECS
metrics ECS derives from the agents' PublishMetricsRequest frames, served through
GetMetricStatistics, GetMetricData and ListMetrics.

Each frame's tasks become samples, per the ECS developer guide's formulas:
- service (ClusterName + ServiceName): CPUUtilization = CPU units used by the service's
  tasks x 100 / CPU units the tasks reserve; MemoryUtilization likewise with MiB;
- cluster (ClusterName): CPUUtilization = units used by all tasks / units the instances
  registered; MemoryUtilization likewise; CPUReservation and MemoryReservation = what the
  running tasks reserve / what the instances registered.
The agent reports CPU as a percent of the whole instance, so the units a container used are
that percent of the instance's registered CPU. Samples live in memory only (not in the
state file), for a bounded time."""
import collections
import datetime
import math
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

from . import api_sts
from .errors import AwsError
from .httpserver import Response
from .scheduler import _int_value, _resource

NS = "http://monitoring.amazonaws.com/doc/2010-08-01/"
CONTENT_TYPE = "text/xml"
NAMESPACE = "AWS/ECS"
KEEP_SECONDS = 3 * 3600
MAX_SAMPLES = 200000
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

Sample = collections.namedtuple("Sample", "time metric dims num den")


def _credential_service(req):
    auth = req.headers.get("Authorization") or ""
    i = auth.find("Credential=")
    if i < 0:
        return None
    parts = auth[i + len("Credential="):].split(",")[0].split("/")
    return parts[3] if len(parts) == 5 else None


def is_cloudwatch(req):
    """A query-protocol call signed for CloudWatch (service name "monitoring")."""
    return api_sts.is_query_post(req) and _credential_service(req) == "monitoring"


def _int_resource(resources, name):
    return _int_value(_resource(resources, name))


def _avg(stats_set):
    if not isinstance(stats_set, dict):
        return None
    n, s = stats_set.get("sampleCount"), stats_set.get("sum")
    if not isinstance(n, (int, float)) or not isinstance(s, (int, float)) or n <= 0:
        return None
    v = s / n
    return v if math.isfinite(v) and v >= 0 else None


class CloudWatch:
    def __init__(self, cp):
        self.cp = cp
        self.samples = collections.deque(maxlen=MAX_SAMPLES)

    # ------------------------------------------------------------ recording
    def record(self, instance_arn, msg, now=None):
        """Folds one PublishMetricsRequest into samples. Anything that does not add up (an
        unknown task, a bad number) is left out."""
        now = time.time() if now is None else now
        inst = self.cp.data["instances"].get(instance_arn)
        if not inst:
            return
        cluster = inst["cluster"]
        reg_cpu = _int_resource(inst.get("registeredResources"), "CPU")
        reg_mem = _int_resource(inst.get("registeredResources"), "MEMORY")
        used_cpu = used_mem = 0.0
        for tm in msg.get("taskMetrics") or []:
            if not isinstance(tm, dict):
                continue
            task = self.cp.data["tasks"].get(tm.get("taskArn"))
            if not task or task.get("containerInstanceArn") != instance_arn:
                continue
            cpu = mem = 0.0
            seen = False
            for cm in tm.get("containerMetrics") or []:
                if not isinstance(cm, dict):
                    continue
                c, m = _avg(cm.get("cpuStatsSet")), _avg(cm.get("memoryStatsSet"))
                if c is None or m is None:
                    continue
                cpu += c / 100.0 * reg_cpu
                mem += m
                seen = True
            if not seen:
                continue
            used_cpu += cpu
            used_mem += mem
            res = task.get("resources") or {}
            service = task.get("serviceName")
            if service:
                dims = (("ClusterName", cluster), ("ServiceName", service))
                if res.get("cpu"):
                    self._add(now, "CPUUtilization", dims, cpu, res["cpu"])
                if res.get("memory"):
                    self._add(now, "MemoryUtilization", dims, mem, res["memory"])
        dims = (("ClusterName", cluster),)
        if reg_cpu:
            self._add(now, "CPUUtilization", dims, used_cpu, reg_cpu)
        if reg_mem:
            self._add(now, "MemoryUtilization", dims, used_mem, reg_mem)
        usage = self.cp.scheduler.usage(inst) if self.cp.scheduler else None
        if usage and reg_cpu:
            self._add(now, "CPUReservation", dims, usage["cpu"], reg_cpu)
        if usage and reg_mem:
            self._add(now, "MemoryReservation", dims, usage["memory"], reg_mem)
        while self.samples and self.samples[0].time < now - KEEP_SECONDS:
            self.samples.popleft()

    def _add(self, now, metric, dims, num, den):
        self.samples.append(Sample(now, metric, tuple(sorted(dims)), float(num), float(den)))

    # ------------------------------------------------------------- queries
    def statistics(self, metric, dims, start, end, period):
        """{bucket start: {stat: value}} for the samples of exactly these dimensions."""
        dims = tuple(sorted(dims))
        buckets = collections.defaultdict(list)
        for s in self.samples:
            if s.metric == metric and s.dims == dims and start <= s.time < end:
                buckets[int(s.time // period * period)].append(s)
        out = {}
        for t, ss in buckets.items():
            values = [100.0 * s.num / s.den for s in ss]
            out[t] = {"SampleCount": float(len(ss)),
                      "Average": 100.0 * sum(s.num for s in ss) / sum(s.den for s in ss),
                      "Sum": sum(values), "Minimum": min(values), "Maximum": max(values)}
        return out

    def metrics(self):
        seen = {}
        for s in self.samples:
            seen[(s.metric, s.dims)] = True
        return sorted(seen)


# ---------------------------------------------------------------- protocol
def _time(text, what):
    try:
        if text and text.replace(".", "", 1).isdigit():
            return float(text)
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=datetime.timezone.utc)
        return t.timestamp()
    except (AttributeError, ValueError):
        raise AwsError("InvalidParameterValue", f"The parameter {what} must be a timestamp.")


def _iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _members(form, prefix):
    """prefix.member.N[.rest] entries, in N order: a list of dicts of rest -> value (or
    of values when there is no rest)."""
    found = collections.defaultdict(dict)
    head = prefix + ".member."
    for k, v in form.items():
        if k.startswith(head):
            n, _, rest = k[len(head):].partition(".")
            if n.isdigit():
                found[int(n)][rest] = v
    return [found[n].get("", found[n]) for n in sorted(found)]


def _dimensions(form, prefix):
    dims = []
    for d in _members(form, prefix):
        if not isinstance(d, dict) or not d.get("Name"):
            raise AwsError("InvalidParameterValue", "A dimension needs a Name and a Value.")
        dims.append((d["Name"], d.get("Value", "")))
    return dims


def _period(text):
    try:
        p = int(text)
    except (TypeError, ValueError):
        raise AwsError("MissingParameter", "The parameter Period is required.")
    if p <= 0 or (p >= 60 and p % 60) or (p < 60 and p not in (1, 5, 10, 30)):
        raise AwsError("InvalidParameterValue",
                       "The parameter Period must be 1, 5, 10, 30 or a multiple of 60.")
    return p


def _num(v):
    return repr(float(v))


def _dims_xml(dims):
    return "".join(f"<member><Name>{escape(n)}</Name><Value>{escape(v)}</Value></member>"
                   for n, v in dims)


def get_metric_statistics(cw, form):
    for k in ("Namespace", "MetricName", "StartTime", "EndTime"):
        if not form.get(k):
            raise AwsError("MissingParameter", f"The parameter {k} is required.")
    stats = _members(form, "Statistics")
    if not stats or any(s not in STATISTICS for s in stats):
        raise AwsError("InvalidParameterValue",
                       "Statistics must be among " + ", ".join(STATISTICS) + ".")
    period = _period(form.get("Period"))
    start, end = _time(form["StartTime"], "StartTime"), _time(form["EndTime"], "EndTime")
    if end <= start:
        raise AwsError("InvalidParameterValue", "The parameter StartTime must be before EndTime.")
    points = {} if form["Namespace"] != NAMESPACE else cw.statistics(
        form["MetricName"], _dimensions(form, "Dimensions"), start, end, period)
    members = ""
    for t in sorted(points):
        vals = "".join(f"<{s}>{_num(points[t][s])}</{s}>" for s in stats)
        members += f"<member><Timestamp>{_iso(t)}</Timestamp>{vals}<Unit>Percent</Unit></member>"
    return ("GetMetricStatistics",
            f"<Label>{escape(form['MetricName'])}</Label><Datapoints>{members}</Datapoints>")


def get_metric_data(cw, form):
    if not form.get("StartTime") or not form.get("EndTime"):
        raise AwsError("MissingParameter", "The parameters StartTime and EndTime are required.")
    start, end = _time(form["StartTime"], "StartTime"), _time(form["EndTime"], "EndTime")
    queries = _members(form, "MetricDataQueries")
    if not queries:
        raise AwsError("MissingParameter", "The parameter MetricDataQueries is required.")
    ascending = form.get("ScanBy") == "TimestampAscending"
    results = ""
    for q in queries:
        if not isinstance(q, dict) or not q.get("Id"):
            raise AwsError("MissingParameter", "Each query needs an Id.")
        if q.get("Expression"):
            raise AwsError("InvalidParameterValue", "ecs-local evaluates no metric math.")
        stat = q.get("MetricStat.Stat")
        if stat not in STATISTICS:
            raise AwsError("InvalidParameterValue", f"Unsupported statistic {stat!r}.")
        period = _period(q.get("MetricStat.Period"))
        sub = {k[len("MetricStat.Metric."):]: v for k, v in q.items()
               if k.startswith("MetricStat.Metric.")}
        metric = sub.get("MetricName", "")
        points = {} if sub.get("Namespace") != NAMESPACE else cw.statistics(
            metric, _dimensions(sub, "Dimensions"), start, end, period)
        order = sorted(points, reverse=not ascending)
        stamps = "".join(f"<member>{_iso(t)}</member>" for t in order)
        values = "".join(f"<member>{_num(points[t][stat])}</member>" for t in order)
        results += (f"<member><Id>{escape(q['Id'])}</Id><Label>{escape(q.get('Label') or metric)}"
                    f"</Label><Timestamps>{stamps}</Timestamps><Values>{values}</Values>"
                    "<StatusCode>Complete</StatusCode></member>")
    return ("GetMetricData", f"<MetricDataResults>{results}</MetricDataResults><Messages/>")


def list_metrics(cw, form):
    ns, name = form.get("Namespace"), form.get("MetricName")
    want = _dimensions(form, "Dimensions")
    members = ""
    for metric, dims in cw.metrics():
        if (ns and ns != NAMESPACE) or (name and name != metric):
            continue
        if any((n, v) not in dims and not (v == "" and n in dict(dims)) for n, v in want):
            continue
        members += (f"<member><Namespace>{NAMESPACE}</Namespace><MetricName>{escape(metric)}"
                    f"</MetricName><Dimensions>{_dims_xml(dims)}</Dimensions></member>")
    return ("ListMetrics", f"<Metrics>{members}</Metrics>")


ACTIONS = {"GetMetricStatistics": get_metric_statistics, "GetMetricData": get_metric_data,
           "ListMetrics": list_metrics}


def _error_xml(code, message, request_id, status=400):
    return api_sts.error_xml(code, message, request_id, status, ns=NS)


async def handle(cp, verifier, req):
    request_id = str(uuid.uuid4())
    try:
        verifier.verify("POST", req.path, req.query_pairs, req.headers, req.body, "monitoring",
                        scope="api")
        form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"),
                                           keep_blank_values=True))
        fn = ACTIONS.get(form.get("Action"))
        if fn is None:
            return _error_xml("InvalidAction",
                              f"ecs-local implements no CloudWatch action {form.get('Action')!r}",
                              request_id)
        action, inner = fn(cp.cloudwatch, form)
        body = (f'<{action}Response xmlns="{NS}"><{action}Result>{inner}</{action}Result>'
                f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                f"</{action}Response>")
        return Response(200, body.encode(), [("x-amzn-RequestId", request_id)], CONTENT_TYPE)
    except AwsError as e:
        return _error_xml(e.code, e.message, request_id, e.status if e.status >= 403 else 400)
