"""PromQL expressions of the shipped rules and dashboard, against a real Prometheus.

    promql.py expressions URL DASHBOARD
        Prints one line per expression, "SOURCE<TAB>KIND<TAB>EXPR": every
        rule Prometheus at URL loaded (from /api/v1/rules, so exactly what
        it parsed from deploy/prometheus/airlift.rules.yml), then every
        panel target and template variable of the Grafana DASHBOARD. KIND
        is "alert" for alerting rules, "query" otherwise.
    promql.py query URL KIND EXPR
        Evaluates EXPR through /api/v1/query and fails unless it succeeds
        with a non-empty result. Grafana's variables are replaced first
        ($instance by ".*", $__rate_interval by "1m"). An alert's
        expression is empty while it does not fire, so for KIND "alert" it
        must succeed as written, and then, with each comparison made a
        `bool` one (a value for every series instead of a filter), return
        data: every series it reads exists.
    promql.py rules URL COUNT
        Fails unless Prometheus loaded COUNT rules and every one evaluated
        without error.
    promql.py lint DASHBOARD
        Fails unless every panel has a unique id and a grid position, and
        every target reads the dashboard's data source variable.

Exits 1 naming the expression and what came back on any failure.
"""

import json
import re
import sys
import time
import urllib.parse
import urllib.request

# A template variable's query: label_values(SELECTOR, LABEL).
LABEL_VALUES = re.compile(r"^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$", re.S)


def get(url, path, **params):
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=10) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body}")
    return body["data"]


def one_line(expr):
    return " ".join(expr.split())


def dashboard_expressions(path):
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        match = LABEL_VALUES.match(query)
        if not match:
            raise RuntimeError(f"variable {variable['name']}: not label_values(): {query}")
        # The selector must give series that carry the label.
        selector, label = match.groups()
        out.append((f"variable {variable['name']}", f"count by ({label}) ({selector})"))
    return out


def expressions(url, dashboard):
    for group in get(url, "/api/v1/rules")["groups"]:
        for rule in group["rules"]:
            kind = "alert" if rule["type"] == "alerting" else "query"
            print(f"rule {rule['name']}\t{kind}\t{one_line(rule['query'])}")
    for source, expr in dashboard_expressions(dashboard):
        print(f"{source}\tquery\t{one_line(expr)}")


def with_bool(expr):
    """Makes every comparison outside selectors, ranges and strings a `bool` one."""
    out, i, depth, quote = [], 0, 0, None
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\":
                out.append(expr[i + 1])
                i += 1
            elif c == quote:
                quote = None
            i += 1
            continue
        if c in "\"'`":
            quote = c
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        elif depth == 0 and c in "=!<>":
            op = expr[i : i + 2] if expr[i : i + 2] in ("==", "!=", ">=", "<=") else c
            if op in ("==", "!=", ">=", "<=", ">", "<"):
                out.append(op)
                i += len(op)
                if not re.match(r"\s*bool\b", expr[i:]):
                    out.append(" bool")
                continue
        out.append(c)
        i += 1
    return "".join(out)


def substitute(expr):
    return expr.replace("$__rate_interval", "1m").replace("$instance", ".*")


def query(url, kind, expr):
    expr = substitute(expr)
    if kind == "alert":
        # As written: it must parse and evaluate (empty while not firing).
        get(url, "/api/v1/query", query=expr)
        expr = with_bool(expr)
    # A rule is evaluated every second; a moment's retry covers one that
    # has not been evaluated since its inputs appeared.
    for attempt in range(3):
        data = get(url, "/api/v1/query", query=expr)
        if data["result"]:
            print(f"{expr}\n  -> {json.dumps(data['result'])[:400]}")
            return 0
        time.sleep(1)
    print(f"{expr}\n  -> empty result", file=sys.stderr)
    return 1


def rules(url, count):
    loaded = [rule for group in get(url, "/api/v1/rules")["groups"] for rule in group["rules"]]
    bad = [f"{rule['name']}: {rule.get('health')} {rule.get('lastError', '')}" for rule in loaded
           if rule.get("health") != "ok"]
    if len(loaded) != count or bad:
        print(f"{len(loaded)} rules loaded, {count} expected; unhealthy: {bad}", file=sys.stderr)
        return 1
    print(f"{len(loaded)} rules, all healthy")
    return 0


def lint(path):
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    problems, ids = [], set()
    for panel in dashboard["panels"]:
        if panel["id"] in ids:
            problems.append(f"panel id {panel['id']} twice")
        ids.add(panel["id"])
        if not {"x", "y", "w", "h"} <= set(panel.get("gridPos", {})):
            problems.append(f"panel {panel['title']!r}: no grid position")
        if panel["type"] == "row":
            continue
        if not panel.get("targets"):
            problems.append(f"panel {panel['title']!r}: no query")
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("uid") != "${datasource}" or not target.get("expr"):
                problems.append(f"panel {panel['title']!r} {target.get('refId')}: bad target")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(ids)} panels")
    return 1 if problems or not ids else 0


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    if command == "expressions" and len(argv) == 4:
        expressions(argv[2], argv[3])
        return 0
    if command == "query" and len(argv) == 5:
        return query(argv[2], argv[3], argv[4])
    if command == "rules" and len(argv) == 4:
        return rules(argv[2], int(argv[3]))
    if command == "lint" and len(argv) == 3:
        return lint(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
