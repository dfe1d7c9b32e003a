"""The fast path's resources in infra/template.yaml (issue 14): the topic, who may publish to it,
the subscription and permission that invoke the decider, the decider's FAST_PATH_TOPIC_ARN, and
the names the cluster side (Alertmanager's config, its render-config init container and the
master's bootstrap) relies on. Run with the cfn-lint venv's python (cfn-lint's decoder reads the
intrinsic functions). Prints one line per check and, last, "N passed, N failed"."""
import pathlib
import sys

import cfnlint.decode
import yaml

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
        print(f"ok - fast path stack: {name}")
    else:
        failed += 1
        print(f"FAILED - fast path stack: {name}{': ' + str(detail) if detail else ''}")


def props(name):
    return resources.get(name, {}).get("Properties", {})


def ref(value):
    return value.get("Ref") if isinstance(value, dict) else None


def by_condition(value, make_master):
    """Resolves an Fn::If on MakeMaster, the only condition these resources use."""
    if isinstance(value, dict) and "Fn::If" in value:
        cond, yes, no = value["Fn::If"]
        assert cond == "MakeMaster", cond
        return yes if make_master else no
    return value


def statements():
    return {s["Sid"]: s for s in props("FastPathTopicPolicy").get("PolicyDocument", {}).get("Statement", [])}


NODE_ROLES = {True: [{"Fn::GetAtt": ["WorkerRole", "Arn"]}, {"Fn::GetAtt": ["MasterRole", "Arn"]}],
              False: [{"Fn::GetAtt": ["WorkerRole", "Arn"]}]}
ROLE_REFS = {True: [{"Ref": "WorkerRole"}, {"Ref": "MasterRole"}], False: [{"Ref": "WorkerRole"}]}

topic = resources.get("FastPathTopic", {})
check("FastPathTopic is an SNS topic", topic.get("Type") == "AWS::SNS::Topic")
check("FastPathTopic is encrypted with the stack key like the others",
      ref(props("FastPathTopic").get("KmsMasterKeyId")) == "StackKey"
      and ref(props("EventsTopic").get("KmsMasterKeyId")) == "StackKey")

sub = props("FastPathSubscription")
check("the subscription invokes the decider from FastPathTopic",
      resources.get("FastPathSubscription", {}).get("Type") == "AWS::SNS::Subscription"
      and sub.get("Protocol") == "lambda" and ref(sub.get("TopicArn")) == "FastPathTopic"
      and sub.get("Endpoint") == {"Fn::GetAtt": ["DeciderFunction", "Arn"]}, sub)

perm = props("FastPathInvokePermission")
check("SNS may invoke the decider for FastPathTopic only (SourceArn, SourceAccount)",
      resources.get("FastPathInvokePermission", {}).get("Type") == "AWS::Lambda::Permission"
      and perm.get("Principal") == "sns.amazonaws.com" and perm.get("Action") == "lambda:InvokeFunction"
      and ref(perm.get("FunctionName")) == "DeciderFunction" and ref(perm.get("SourceArn")) == "FastPathTopic"
      and ref(perm.get("SourceAccount")) == "AWS::AccountId", perm)
others = [n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Permission" and n != "FastPathInvokePermission"
          and ref(r["Properties"].get("FunctionName")) == "DeciderFunction" and r["Properties"].get("Principal") == "sns.amazonaws.com"]
check("no other SNS permission on the decider", not others, others)

st = statements()
check("the topic policy covers FastPathTopic only", [ref(t) for t in props("FastPathTopicPolicy").get("Topics", [])] == ["FastPathTopic"])
for make_master in (True, False):
    label = "with the stack's master" if make_master else "with a master of your own"
    allow = st.get("TheNodesPublish", {})
    check(f"{label}: the nodes' instance roles, and only they, are allowed to publish",
          allow.get("Effect") == "Allow" and allow.get("Action") == "sns:Publish"
          and by_condition(allow.get("Principal", {}).get("AWS"), make_master) == NODE_ROLES[make_master], allow)
    deny = st.get("NobodyElsePublishes", {})
    check(f"{label}: every other principal is denied Publish",
          deny.get("Effect") == "Deny" and deny.get("Principal") == "*" and deny.get("Action") == "sns:Publish"
          and by_condition(deny.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn"), make_master)
          == NODE_ROLES[make_master], deny)
    pol = props("FastPathPublishPolicy")
    check(f"{label}: the same roles hold sns:Publish on the topic and the SNS-only data key",
          by_condition(pol.get("Roles"), make_master) == ROLE_REFS[make_master]
          and any(s.get("Action") == "sns:Publish" and ref(s.get("Resource")) == "FastPathTopic"
                  for s in pol.get("PolicyDocument", {}).get("Statement", []))
          and any("kms:GenerateDataKey" in s.get("Action", []) and s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
                  for s in pol.get("PolicyDocument", {}).get("Statement", [])), pol)
tls = st.get("OverTlsOnly", {})
check("publishing without TLS is denied", tls.get("Effect") == "Deny"
      and tls.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false")

env = props("DeciderFunction").get("Environment", {}).get("Variables", {})
check("the decider's FAST_PATH_TOPIC_ARN is FastPathTopic", ref(env.get("FAST_PATH_TOPIC_ARN")) == "FastPathTopic", env.get("FAST_PATH_TOPIC_ARN"))
decider = (ROOT / "crates/decider/src/config.rs").read_text()
check("the decider reads FAST_PATH_TOPIC_ARN", '"FAST_PATH_TOPIC_ARN"' in decider)
check("the stack outputs FastPathTopicArn (for ConfigMap smartscale-fast-path)",
      ref(template.get("Outputs", {}).get("FastPathTopicArn", {}).get("Value")) == "FastPathTopic")

# The cluster side expects these names.
am_dir = ROOT / "k8s/infrastructure/monitoring/alertmanager"
am = yaml.safe_load((am_dir / "alertmanager.yml").read_text())
receiver = next((r for r in am.get("receivers", []) if r["name"] == "fast-path"), {})
sns = (receiver.get("sns_configs") or [{}])[0]
check("Alertmanager's fast-path receiver publishes to the rendered topic ARN, SigV4 in the rendered region",
      sns.get("topic_arn") == "__FAST_PATH_TOPIC_ARN__" and sns.get("sigv4", {}).get("region") == "__AWS_REGION__"
      and not {"access_key", "secret_key"} & set(sns.get("sigv4", {})), sns)
statefulset = (am_dir / "statefulset.yaml").read_text()
check("render-config reads topic-arn and region from ConfigMap smartscale-fast-path",
      "name: smartscale-fast-path" in statefulset and "/etc/smartscale/fast-path/topic-arn" in statefulset
      and "/etc/smartscale/fast-path/region" in statefulset)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
