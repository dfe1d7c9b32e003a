"""The master's inline RBAC manifest (infra/userdata/master.sh) grants exactly what
k8s/infrastructure/smartscale-rbac/ declares: same objects, same rules, same binding, same token
Secret (labels aside). Run with the cfn-lint venv's python (PyYAML). Prints one line per check
and, last, "N passed, N failed"."""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print(f"{'ok' if ok else 'FAILED'} - rbac: {name}{'' if ok or not detail else ': ' + str(detail)}")


def objects(docs):
    out = {}
    for d in docs:
        if not d:
            continue
        meta = d.get("metadata", {})
        key = (d["kind"], meta.get("namespace", ""), meta["name"])
        out[key] = {
            "rules": sorted((tuple(r.get("apiGroups", [])), tuple(sorted(r["resources"])), tuple(sorted(r["verbs"])))
                            for r in d.get("rules", [])),
            "roleRef": d.get("roleRef"),
            "subjects": d.get("subjects"),
            "type": d.get("type"),
            "annotations": meta.get("annotations", {}),
        }
    return out


script = (ROOT / "infra/userdata/master.sh").read_text()
inline = re.search(r"<<'MANIFEST'\n(.*?)\nMANIFEST\n", script, re.S)
check("master.sh has an inline RBAC manifest", inline is not None)
k8s_dir = ROOT / "k8s/infrastructure/smartscale-rbac"
k8s_files = sorted(p for p in k8s_dir.glob("*.yaml") if p.name != "kustomization.yaml")
check("k8s/infrastructure/smartscale-rbac/ exists", bool(k8s_files), k8s_dir)
if inline and k8s_files:
    ours = objects(yaml.safe_load_all(inline[1]))
    theirs = objects(d for p in k8s_files for d in yaml.safe_load_all(p.read_text()))
    check("same objects", set(ours) == set(theirs), sorted(set(ours) ^ set(theirs)))
    for key in sorted(set(ours) & set(theirs)):
        check(f"{key[0]} {key[2]} is the same", ours[key] == theirs[key], (ours[key], theirs[key]))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
