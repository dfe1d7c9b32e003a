"""Helpers for scripts/check-fast-path (issue 14): the pieces of the fast path's end-to-end check
that are easier in Python than in bash. Subcommands:

  init-script STATEFULSET OUT ROOT   the render-config init container's script, its /etc paths
                                     moved under ROOT so it runs here as it runs in the pod
  message FILE STATUS CLUSTER N      FILE is the message the template rendered: valid JSON with
                                     the fields the decider reads, STATUS, CLUSTER and N alerts
  lambda-event NOTIFICATION OUT      an SNS notification as SQS received it (the envelope) into
                                     the event Lambda gets from SNS (Records[0].Sns)
  lambda-event-from-message MESSAGE TOPIC OUT   the rendered message in the same event shape
  route CONFIG RECEIVER GW GI RI      the first route goes to RECEIVER with these timings, no continue
  decided INVOCATION WANT            `smartscale invoke decider`'s answer: a fast-path scale-up
                                     (WANT=scale_up) or nothing (WANT=resolved)
  moto-setup URL TOPIC_NAME          creates the topic and an SQS queue subscribed to it in moto;
                                     prints the topic ARN and the queue URL
  wait-message URL QUEUE_URL TIMEOUT_S STATUS OUT   polls the queue until a notification whose
                                     message has STATUS arrives; writes it to OUT, prints seconds

Runs with the moto venv's python (boto3 comes with moto) for the two moto subcommands."""
import json
import pathlib
import sys
import time
import uuid


def init_script(statefulset, out, root):
    import yaml

    doc = yaml.safe_load(pathlib.Path(statefulset).read_text())
    inits = doc["spec"]["template"]["spec"]["initContainers"]
    script = next(c for c in inits if c["name"] == "render-config")["args"][0]
    script = script.replace("/etc/alertmanager", f"{root}/etc/alertmanager").replace("/etc/smartscale", f"{root}/etc/smartscale")
    pathlib.Path(out).write_text(script)


def message(path, status, cluster, count):
    text = pathlib.Path(path).read_text()
    doc = json.loads(text)  # raises on invalid JSON: the check fails with the parser's message
    want = {"version": 1, "source": "alertmanager", "status": status, "alertname": "UnschedulablePods", "cluster": cluster}
    wrong = {k: doc.get(k) for k, v in want.items() if doc.get(k) != v}
    if wrong:
        sys.exit(f"fields differ from {want}: {wrong}")
    alerts = doc.get("alerts")
    if not isinstance(alerts, list) or len(alerts) != int(count):
        sys.exit(f"expected {count} alerts, got {alerts!r}")
    for alert in alerts:
        if set(alert) != {"status", "startsAt", "pods"} or not alert["startsAt"].endswith("Z"):
            sys.exit(f"alert entry not as the decider reads it: {alert}")
    print(text)


def route(config, receiver, group_wait, group_interval, repeat_interval):
    import yaml

    first = yaml.safe_load(pathlib.Path(config).read_text())["route"]["routes"][0]
    want = {"receiver": receiver, "group_wait": group_wait, "group_interval": group_interval, "repeat_interval": repeat_interval}
    got = {k: first.get(k) for k in want}
    if got != want or first.get("continue"):
        sys.exit(f"the first route is {got}, continue={first.get('continue')}; want {want} and no continue")


def decided(path, want):
    done = json.loads(pathlib.Path(path).read_text())
    response = done["response"]
    if want == "resolved":
        if response.get("fast_path") != "resolved" or done["messages_sent"]:
            sys.exit(f"a resolved alert must do nothing: {response} sent {done['messages_sent']}")
        return
    reasons = (response.get("decision") or {}).get("reasons", [])
    ok = (response.get("fast_path") == "decided" and response.get("trigger", {}).get("kind") == "fast_path"
          and reasons and reasons[0].startswith("fast path: Alertmanager UnschedulablePods firing since ")
          and response.get("taken") == "scale_up_requested"
          and done["messages_sent"] and done["messages_sent"][0]["body"]["reason"].startswith("fast path: "))
    if not ok:
        sys.exit(f"expected a fast-path scale-up: {json.dumps(response)[:2000]}")


def lambda_event(envelope, topic_arn=None):
    return {
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": f"{envelope['TopicArn']}:{uuid.uuid4()}",
            "Sns": {
                "Type": envelope.get("Type", "Notification"),
                "MessageId": envelope["MessageId"],
                "TopicArn": envelope["TopicArn"],
                "Subject": envelope.get("Subject"),
                "Message": envelope["Message"],
                "Timestamp": envelope["Timestamp"],
                "SignatureVersion": envelope.get("SignatureVersion", "1"),
                "Signature": envelope.get("Signature", "EXAMPLE"),
                "SigningCertUrl": envelope.get("SigningCertURL", "https://sns.invalid/cert.pem"),
                "UnsubscribeUrl": envelope.get("UnsubscribeURL", "https://sns.invalid/unsubscribe"),
                "MessageAttributes": envelope.get("MessageAttributes", {}),
            },
        }]
    }


def moto_client(url, service):
    import boto3

    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def moto_setup(url, topic_name):
    sns, sqs = moto_client(url, "sns"), moto_client(url, "sqs")
    topic = sns.create_topic(Name=topic_name)["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{topic_name}-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    print(topic, queue)


def wait_message(url, queue, timeout_s, status, out):
    sqs = moto_client(url, "sqs")
    started = time.monotonic()
    seen = []
    while time.monotonic() - started < float(timeout_s):
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            envelope = json.loads(m["Body"])
            seen.append(envelope.get("Message"))
            if json.loads(envelope["Message"]).get("status") == status:
                pathlib.Path(out).write_text(json.dumps(envelope))
                print(f"{time.monotonic() - started:.1f}")
                return
    sys.exit(f"no {status} notification within {timeout_s} s; saw {seen}")


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "init-script":
        init_script(*args)
    elif cmd == "route":
        route(*args)
    elif cmd == "decided":
        decided(*args)
    elif cmd == "message":
        message(*args)
    elif cmd == "lambda-event":
        envelope = json.loads(pathlib.Path(args[0]).read_text())
        pathlib.Path(args[1]).write_text(json.dumps(lambda_event(envelope)))
    elif cmd == "lambda-event-from-message":
        envelope = {"MessageId": str(uuid.uuid4()), "TopicArn": args[1], "Message": pathlib.Path(args[0]).read_text(),
                    "Timestamp": "2026-11-23T12:00:00.000Z", "Subject": "SmartScale fast path"}
        pathlib.Path(args[2]).write_text(json.dumps(lambda_event(envelope)))
    elif cmd == "moto-setup":
        moto_setup(*args)
    elif cmd == "wait-message":
        wait_message(*args)
    else:
        sys.exit(f"unknown subcommand {cmd}")


if __name__ == "__main__":
    main(sys.argv)
