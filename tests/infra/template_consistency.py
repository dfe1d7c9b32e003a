"""infra/template.yaml against the code it deploys: env var names, alarm metrics, IAM actions,
timeouts, retention and cost tags. Run with the cfn-lint venv's python (it parses the template
with cfn-lint's decoder and reads cfn-lint's resource schemas). Prints one line per check and,
last, "N passed, N failed"."""
import json
import pathlib
import re
import sys

import cfnlint.decode
from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

ROOT = pathlib.Path(__file__).resolve().parents[2]
template, errors = cfnlint.decode.decode(str(ROOT / "infra/template.yaml"))
if errors:
    sys.exit(f"cannot parse infra/template.yaml: {errors}")
resources = template["Resources"]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - template: {name}")
    else:
        failed += 1
        print(f"FAILED - template: {name}{': ' + str(detail) if detail else ''}")


def rust(crate):
    return "\n".join(p.read_text() for p in (ROOT / "crates" / crate / "src").rglob("*.rs"))


def required_vars(*crates):
    return set(re.findall(r'config::required\(source, "([A-Z0-9_]+)"\)', "\n".join(rust(c) for c in crates)))


all_rust = "\n".join(p.read_text() for p in (ROOT / "crates").rglob("*.rs"))
functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
globals_fn = template.get("Globals", {}).get("Function", {})

# 1. Environment variables: each one is read by the code; each required one is set.
needs = {
    "DeciderFunction": required_vars("decider", "aws", "prometheus") - {"K3S_KUBECONFIG_SECRET_ID"},
    "ScaleUpWorkerFunction": required_vars("scale-up-worker", "wiring") | {"DYNAMODB_TABLE", "SCALE_UP_QUEUE_URL", "DRAIN_QUEUE_URL", "SNS_TOPIC_ARN", "LAUNCH_TEMPLATE_ID"},
    "DrainWorkerFunction": required_vars("drain-worker", "wiring") | {"DYNAMODB_TABLE", "SCALE_UP_QUEUE_URL", "DRAIN_QUEUE_URL", "SNS_TOPIC_ARN"},
    "SpotHandlerFunction": required_vars("spot-handler", "wiring") | {"DYNAMODB_TABLE", "SCALE_UP_QUEUE_URL", "DRAIN_QUEUE_URL", "SNS_TOPIC_ARN"},
    "SlackForwarderFunction": required_vars("slack-forwarder"),
    "CostReportFunction": required_vars("cost-report", "prometheus"),
}
check("every Lambda is in the template", set(functions) == set(needs), sorted(functions))
for name, fn in functions.items():
    env = fn["Properties"].get("Environment", {}).get("Variables", {})
    unread = [v for v in env if f'"{v}"' not in all_rust]
    check(f"{name}: every env var is one the code reads", not unread, unread)
    unset = sorted(needs.get(name, set()) - set(env))
    check(f"{name}: every variable the code requires is set", not unset, unset)

# 1b. The fleet's limits reach every function whose code reads them, from the stack's parameters:
# a worker left at its built-in default would cap at 10 whatever MaxNodes says.
crates_of = {"DeciderFunction": ["decider", "core"], "ScaleUpWorkerFunction": ["scale-up-worker"],
             "DrainWorkerFunction": ["drain-worker"], "SpotHandlerFunction": ["spot-handler"],
             "SlackForwarderFunction": ["slack-forwarder"], "CostReportFunction": ["cost-report"]}
for name, fn in functions.items():
    env = fn["Properties"].get("Environment", {}).get("Variables", {})
    code = "\n".join(rust(c) for c in crates_of.get(name, []) if (ROOT / "crates" / c).exists())
    for var, param in [("MIN_NODES", "MinNodes"), ("MAX_NODES", "MaxNodes")]:
        if f'"{var}"' in code:
            check(f"{name}: {var} comes from the {param} parameter", env.get(var) == {"Ref": param}, env.get(var))

# 1c. Predictive scaling's settings (docs/forecast.md): every PREDICTIVE_* and SCHEDULED_FLOORS*
# variable the code reads reaches the decider from a stack parameter whose default, range and
# pattern are the code's (the defaults and ranges are read from the code, not restated here).
params = template.get("Parameters", {})
decider_env = functions["DeciderFunction"]["Properties"]["Environment"]["Variables"]
forecast_config = (ROOT / "crates/core/src/forecast/config.rs").read_text()
predictive_code = forecast_config + (ROOT / "crates/core/src/forecast/floors.rs").read_text() + rust("decider")
predictive_vars = set(re.findall(r'"((?:PREDICTIVE|SCHEDULED_FLOORS)_[A-Z_]*|SCHEDULED_FLOORS)"', predictive_code))
check("the predictive settings are found in the code", len(predictive_vars) >= 9, sorted(predictive_vars))
param_of = {}
for var in sorted(predictive_vars):
    ref = decider_env.get(var)
    ok = isinstance(ref, dict) and ref.get("Ref") in params
    check(f"DeciderFunction: {var} comes from a stack parameter", ok, ref)
    if ok:
        param_of[var] = params[ref["Ref"]]


def code_default(pattern, what):
    m = re.search(pattern, predictive_code)
    check(f"the code's default for {what} is found", m is not None, pattern)
    return m.group(1) if m else None


kebab = {"Off": "off", "ForecastOnly": "forecast-only", "Active": "active"}
quantiles = {"P90": "p90", "MAX": "max"}
defaults = {
    "PREDICTIVE_MODE": kebab.get(code_default(r"mode: PredictiveMode::(\w+),", "PREDICTIVE_MODE")),
    "PREDICTIVE_LEAD_TIME": "" if code_default(r"lead_time_s: (None),", "PREDICTIVE_LEAD_TIME") else None,
    "PREDICTIVE_QUANTILE": quantiles.get(code_default(r"quantile: Quantile::(\w+),", "PREDICTIVE_QUANTILE")),
    "PREDICTIVE_MARGIN_PCT": float(code_default(r"margin_pct: ([0-9.]+),", "PREDICTIVE_MARGIN_PCT") or "nan"),
    "PREDICTIVE_HISTORY_DAYS": int(code_default(r"history_days: (\d+),", "PREDICTIVE_HISTORY_DAYS") or -1),
    "PREDICTIVE_REFIT_HOURS": int(code_default(r'"PREDICTIVE_REFIT_HOURS"\)\?\.unwrap_or\((\d+)\)', "refit") or -1),
    "PREDICTIVE_MODEL_MAX_AGE_HOURS": int(code_default(r'"PREDICTIVE_MODEL_MAX_AGE_HOURS"\)\?\.unwrap_or\((\d+)\)', "max age") or -1),
    "SCHEDULED_FLOORS": "",
    "SCHEDULED_FLOORS_TZ": "UTC" if code_default(r"tz: Tz::(UTC),", "SCHEDULED_FLOORS_TZ") else None,
}
check("PREDICTIVE_MODE defaults to forecast-only in the code", defaults["PREDICTIVE_MODE"] == "forecast-only")
for var, want in defaults.items():
    p = param_of.get(var)
    if p is None:
        continue
    got = p.get("Default")
    same = (float(got) == want) if isinstance(want, float) else (str(got) == str(want))
    check(f"{var}: the parameter's default is the code's ({want!r})", same, got)
ranges = {  # variable: (the code's range check, as it is written in the code)
    "PREDICTIVE_MARGIN_PCT": r"\((\d+)\.0\.\.=(\d+)\.0\)\.contains\(&m\)",
    "PREDICTIVE_HISTORY_DAYS": r"\((\d+)\.\.=(\d+)\)\.contains\(&days\)",
    "PREDICTIVE_REFIT_HOURS": r"\((\d+)\.\.=(\d+)\)\.contains\(&refit_hours\)",
    "PREDICTIVE_MODEL_MAX_AGE_HOURS": r"\(refit_hours\.\.=(\d+)\)\.contains\(&max_age_hours\)",
}
for var, pattern in ranges.items():
    p, m = param_of.get(var), re.search(pattern, predictive_code)
    check(f"{var}: the code's range is found", m is not None, pattern)
    if p is None or m is None:
        continue
    if var == "PREDICTIVE_MODEL_MAX_AGE_HOURS":
        want = (1, int(m.group(1)))  # at least the refit interval, whose minimum is 1
    else:
        want = (int(m.group(1)), int(m.group(2)))
    check(f"{var}: MinValue/MaxValue are the code's {want}", (p.get("MinValue"), p.get("MaxValue")) == want,
          (p.get("MinValue"), p.get("MaxValue")))
# String settings: the pattern (CloudFormation matches it against the whole value) takes what the
# code takes and refuses what it refuses (the refusals are those of the code's own tests).
samples = {
    "PREDICTIVE_MODE": (["off", "forecast-only", "active"], ["on", "Active-ish"]),
    "PREDICTIVE_LEAD_TIME": (["", "0", "300", "600", "3600"], ["ten", "7200", "3601", "-5"]),
    "PREDICTIVE_QUANTILE": (["p90", "p95", "p99.9", "p50", "p100", "max", "0.9", "0.95", "1"], ["p30", "most", "0.4", "1.5"]),
    "SCHEDULED_FLOORS": (["", "FRI 19:50-22:00 = 6", "FRI 19:50-22:00 = 6; 2026-12-24 08:00-20:00 = 8",
                          "MON-FRI 08:00-09:00=3;", "SAT,SUN 22:00-02:00 = 2", "DAILY 00:00-24:00 = 1"],
                         ["FRI 7:50-22:00 = 6", "FRI 19:50-22:00", "FRI = 6", "x"]),
    "SCHEDULED_FLOORS_TZ": (["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5"], ["", "Mars Olympus"]),
}
for var, (good, bad) in samples.items():
    p = param_of.get(var)
    if p is None:
        continue
    if "AllowedValues" in p:
        accepts = lambda v: v in p["AllowedValues"]
    else:
        pattern = p.get("AllowedPattern")
        check(f"{var}: the parameter has an AllowedPattern", pattern is not None)
        if pattern is None:
            continue
        accepts = lambda v: re.fullmatch(pattern, v) is not None
    check(f"{var}: the parameter takes what the code takes", all(accepts(v) for v in good),
          [v for v in good if not accepts(v)])
    check(f"{var}: the parameter refuses what the code refuses", not any(accepts(v) for v in bad),
          [v for v in bad if accepts(v)])

# 2. Alarms: SmartScale metrics and dimensions exactly as crates/core/src/emf.rs emits them.
emf = (ROOT / "crates/core/src/emf.rs").read_text()
metric_names = set(re.findall(r'Metric::\w+ => "(\w+)"', emf))
alarms = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
for name, props in alarms.items():
    if props.get("Namespace") != "SmartScale":
        continue
    dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
    check(f"{name}: metric {props['MetricName']} is emitted", props["MetricName"] in metric_names, sorted(metric_names))
    check(f"{name}: has the ClusterId dimension", dims.get("ClusterId") == {"Ref": "ClusterId"}, dims)
    extra = set(dims) - {"ClusterId", "ErrorType"}
    check(f"{name}: no dimension the code does not emit", not extra, extra)
    if "ErrorType" in dims:
        check(f"{name}: ErrorType {dims['ErrorType']} exists in the code", f'"{dims["ErrorType"]}"' in all_rust)
    if set(dims) == {"ClusterId"} and props["MetricName"] == "ScalingFailures":
        check(f"{name}: the cluster-wide ScalingFailures total is emitted (ErrorType roll-up)",
              re.search(r'ROLLED_UP_DIMENSIONS: &\[&str\] = &\[[^\]]*"ErrorType"', emf) is not None)
    if set(dims) == {"ClusterId"} and props["MetricName"] == "MissingSignals":
        check(f"{name}: the cluster-wide MissingSignals total is emitted (Signal roll-up)",
              re.search(r'ROLLED_UP_DIMENSIONS: &\[&str\] = &\[[^\]]*"Signal"', emf) is not None)
for want in ["ScalingFailuresAlarm", "ClusterCpuHighAlarm", "AtMaxCapacityAlarm", "NodeJoinFailureAlarm",
             "ClusterMemoryHighAlarm", "DeciderDurationAlarm", "PrometheusUnavailableAlarm", "DeadLetterQueueAlarm",
             "DeciderNotRunningAlarm", "MissingSignalsAlarm"]:
    check(f"alarm {want} exists and notifies an SNS topic", want in alarms and alarms[want].get("AlarmActions"))

# 3. IAM: the Lambdas' actions are the SDK calls in crates/aws plus what Lambda itself needs.
sdk_actions = {
    "describe_instances": "ec2:DescribeInstances", "run_instances": "ec2:RunInstances",
    "terminate_instances": "ec2:TerminateInstances", "get_item": "dynamodb:GetItem", "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem", "send_message": "sqs:SendMessage", "publish": "sns:Publish",
    "get_secret_value": "secretsmanager:GetSecretValue",
}
aws_src = rust("aws")
called = {action for method, action in sdk_actions.items() if f".{method}()" in aws_src}
platform = {  # not SDK calls of ours: logs, SQS polling, VPC interfaces, the key, tags and role at launch
    "logs:CreateLogStream", "logs:PutLogEvents", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses", "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets", "kms:Decrypt", "kms:GenerateDataKey", "ec2:CreateTags", "iam:PassRole",
}
lambda_roles = [n for n in resources if n.endswith("Role") and n.replace("Role", "Function") in functions]
granted = set()


def statements(doc):
    s = doc.get("Statement", [])
    return s if isinstance(s, list) else [s]


def as_list(v):
    return v if isinstance(v, list) else [v]


for role in lambda_roles + ["LambdaBasePolicy"]:
    props = resources[role]["Properties"]
    docs = [p["PolicyDocument"] for p in props.get("Policies", [])] + ([props["PolicyDocument"]] if "PolicyDocument" in props else [])
    for doc in docs:
        for st in statements(doc):
            granted |= set(as_list(st["Action"]))
check("Lambda roles grant only SDK calls of crates/aws and Lambda's own needs", granted <= called | platform, sorted(granted - called - platform))
check("every SDK call of crates/aws is granted", called <= granted, sorted(called - granted))
check("no AWS managed policy on a Lambda role (least privilege is ours to state)",
      all(m == {"Ref": "LambdaBasePolicy"} for r in lambda_roles for m in resources[r]["Properties"].get("ManagedPolicyArns", [])))

read_only = re.compile(r"^[a-z0-9]+:(Describe|List|Get)\w*$")
wide = []
for name, r in resources.items():
    props = r.get("Properties", {})
    if r["Type"] not in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
        continue
    docs = [p["PolicyDocument"] for p in props.get("Policies", [])] + ([props["PolicyDocument"]] if "PolicyDocument" in props else [])
    for doc in docs:
        for st in statements(doc):
            if "*" in as_list(st.get("Resource")) and "Condition" not in st:
                wide += [f"{name}:{a}" for a in as_list(st["Action"]) if not read_only.match(a)]
            if "*" in as_list(st.get("Resource")):
                wide += [f"{name}:{a} (wildcard action)" for a in as_list(st["Action"]) if "*" in a]
check("no mutating action on Resource * without a condition", not wide, wide)

scale_up = [st for p in resources["ScaleUpWorkerRole"]["Properties"]["Policies"] for st in statements(p["PolicyDocument"])]
by_action = {}
for st in scale_up:
    for a in as_list(st["Action"]):
        by_action.setdefault(a, []).append(st)
check("iam:PassRole only on the worker role, only to EC2",
      all(st["Resource"] == {"Fn::GetAtt": ["WorkerRole", "Arn"]} and st["Condition"]["StringEquals"]["iam:PassedToService"] == "ec2.amazonaws.com"
          for st in by_action["iam:PassRole"]))
check("ec2:CreateTags only with ec2:CreateAction=RunInstances",
      all(st["Condition"]["StringEquals"]["ec2:CreateAction"] == "RunInstances" for st in by_action["ec2:CreateTags"]))
check("ec2:RunInstances only with the cluster's launch templates",
      all(any("launch-template/" in str(r) for r in as_list(st["Resource"])) or "ec2:LaunchTemplate" in str(st.get("Condition"))
          for st in by_action["ec2:RunInstances"]))
for role in ["ScaleUpWorkerRole", "DrainWorkerRole"]:
    sts = [st for p in resources[role]["Properties"]["Policies"] for st in statements(p["PolicyDocument"]) if "ec2:TerminateInstances" in as_list(st["Action"])]
    check(f"{role}: TerminateInstances only on instances tagged for this cluster",
          sts and all(st["Condition"]["StringEquals"].get("aws:ResourceTag/Cluster") == {"Ref": "ClusterId"}
                      and st["Condition"]["StringEquals"].get("aws:ResourceTag/ManagedBy") == "Lambda" for st in sts))
secret_arns = re.findall(r"secret:[^\"']*", str(template))
check("secrets by exact name pattern (NAME-??????)", secret_arns and all(a.endswith("-??????") for a in secret_arns), secret_arns)
# Inline policies of the Lambda roles and every customer managed policy (LambdaBasePolicy).
lambda_docs = [p["PolicyDocument"] for r in lambda_roles for p in resources[r]["Properties"]["Policies"]]
lambda_docs += [r["Properties"]["PolicyDocument"] for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
mutating_ec2 = [st for doc in lambda_docs for st in statements(doc)
                if any(a.startswith("ec2:") and not read_only.match(a) for a in as_list(st["Action"]))]
check("a region condition on every mutating EC2 statement",
      all("aws:RequestedRegion" in str(st.get("Condition")) for st in mutating_ec2))

# 4. Timeouts, retries, retention.
default_timeout = globals_fn.get("Timeout", 3)
queues = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
for name, fn in functions.items():
    timeout = fn["Properties"].get("Timeout", default_timeout)
    for ev in fn["Properties"].get("Events", {}).values():
        if ev["Type"] == "SQS":
            queue = ev["Properties"]["Queue"]["Fn::GetAtt"][0]
            vis = queues[queue].get("VisibilityTimeout", 30)
            check(f"{queue} visibility {vis} s >= 6 x {name}'s {timeout} s", vis >= 6 * timeout)
            redrive = queues[queue].get("RedrivePolicy", {})
            retention = queues[queue].get("MessageRetentionPeriod", 345600)
            check(f"{queue} keeps a message long enough for its {redrive.get('maxReceiveCount')} receives",
                  redrive and retention > vis * redrive["maxReceiveCount"])
    check(f"{name}: logs to its own log group", "LogGroup" in fn["Properties"].get("LoggingConfig", {}))
slack = functions["SlackForwarderFunction"]["Properties"]
check("Slack forwarder: SLACK_FUNCTION_TIMEOUT_S is its Timeout",
      str(slack["Environment"]["Variables"].get("SLACK_FUNCTION_TIMEOUT_S")) == str(slack.get("Timeout", default_timeout)))
invoke = functions["DeciderFunction"]["Properties"]["EventInvokeConfig"]
check("decider: async retries 0, maximum event age 120 s",
      invoke["MaximumRetryAttempts"] == 0 and invoke["MaximumEventAgeInSeconds"] == 120)
log_groups = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
check("every log group keeps 30 days", all(p.get("RetentionInDays") == 30 for p in log_groups.values()))
check("state table: SSE and Retain", resources["StateTable"]["Properties"]["SSESpecification"]["SSEEnabled"] is True
      and resources["StateTable"].get("DeletionPolicy") == "Retain")
all_schedules = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
schedules = [s for s in all_schedules if s["Target"]["Arn"] == {"Fn::GetAtt": ["DeciderFunction", "Arn"]}]
cost_schedules = [s for s in all_schedules if s["Target"]["Arn"] == {"Fn::GetAtt": ["CostReportFunction", "Arn"]}]
check("cost report schedule: Mondays 09:00 in the configured time zone, a 7-day window, retried, dead-lettered",
      len(cost_schedules) == 1 and cost_schedules[0]["ScheduleExpression"] == "cron(0 9 ? * MON *)"
      and cost_schedules[0]["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"}
      and json.loads(cost_schedules[0]["Target"]["Input"]) == {"days": 7}
      and cost_schedules[0]["Target"]["RetryPolicy"]["MaximumRetryAttempts"] > 0
      and "DeadLetterConfig" in cost_schedules[0]["Target"], cost_schedules)
dashboard = json.loads(resources["CostDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
dashboard_metrics = {m[1] for w in dashboard["widgets"] for m in w["properties"]["metrics"] if isinstance(m[0], str)}
check("cost dashboard: its SmartScale metrics are emitted", dashboard_metrics <= metric_names, sorted(dashboard_metrics - metric_names))
check("cost dashboard: cost per hour, savings, node count, decisions, join latency",
      {"FleetCostPerHour", "BaselineCostPerHour", "SavingsPercent", "CurrentNodeCount", "ScaleDownEvents", "NodeJoinLatency"} <= dashboard_metrics)
check("decider schedules: every 2 min 09-21 and every 5 min otherwise, in the configured time zone",
      sorted(s["ScheduleExpression"] for s in schedules) == ["cron(0/2 9-20 * * ? *)", "cron(0/5 0-8,21-23 * * ? *)"]
      and all(s["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"} for s in schedules))

# 5. Launch templates: what the workers need.
for lt in ["WorkerLaunchTemplateOnDemand", "WorkerLaunchTemplateSpot", "MasterLaunchTemplate"]:
    data = resources[lt]["Properties"]["LaunchTemplateData"]
    ebs = data["BlockDeviceMappings"][0]["Ebs"]
    check(f"{lt}: IMDSv2 required, hop limit <= 2", data["MetadataOptions"]["HttpTokens"] == "required"
          and data["MetadataOptions"]["HttpPutResponseHopLimit"] <= 2)
    check(f"{lt}: encrypted gp3 root", ebs["Encrypted"] is True and ebs["VolumeType"] == "gp3")
    if lt == "MasterLaunchTemplate":
        check(f"{lt}: no public IP", data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False)
    else:  # RunInstances gets SubnetId from the scale-up worker: no template network interfaces
        check(f"{lt}: no network interfaces beside the request's SubnetId", "NetworkInterfaces" not in data)
check("private subnets map no public IP", all(resources[n]["Properties"]["MapPublicIpOnLaunch"] is False
                                              for n in ["PrivateSubnetA", "PrivateSubnetB"]))
for lt in ["WorkerLaunchTemplateOnDemand", "WorkerLaunchTemplateSpot"]:
    data = resources[lt]["Properties"]["LaunchTemplateData"]
    specs = {s["ResourceType"]: {t["Key"] for t in s["Tags"]} for s in data["TagSpecifications"]}
    want = {"Project", "Environment", "ManagedBy", "ScalingGroup", "Cluster"}
    check(f"{lt}: instance and volume tags {sorted(want)}", want <= specs.get("instance", set()) and want <= specs.get("volume", set()))
    check(f"{lt}: 20 GB root", data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 20)
check("Spot template has Spot market options",
      resources["WorkerLaunchTemplateSpot"]["Properties"]["LaunchTemplateData"]["InstanceMarketOptions"]["MarketType"] == "spot")

# 6. Cost tags on every resource whose type takes tags (cfn-lint's resource schemas).
untagged = []
for name, r in resources.items():
    if r["Type"].startswith("AWS::Serverless::"):
        continue  # Globals.Function.Tags
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", r["Type"]).schema
    if "Tags" not in schema.get("properties", {}):
        continue
    tags = r.get("Properties", {}).get("Tags")
    keys = {t["Key"] for t in tags} if isinstance(tags, list) else set((tags or {}).keys())
    if not {"Project", "Environment", "Cluster", "CostCenter"} <= keys:
        untagged.append(name)
check("cost tags (Project, Environment, Cluster, CostCenter) on every taggable resource", not untagged, untagged)
check("Lambdas carry the cost tags (Globals)", {"Project", "Environment", "Cluster", "CostCenter"} <= set(globals_fn.get("Tags", {})))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
