"""Checks template.yaml against the code and against what the deployment promises.

1. The DynamoDB table it declares is exactly the table `tokenmint store init` creates
   (`tokenmint store schema` prints it).
2. The table and every KMS key survive `sam delete` and replacement (`Retain`), the table has
   deletion protection, and every key a 30-day deletion window.
3. No circular dependency once SAM has expanded the template: cfn-lint no longer runs SAM's
   transform, so it cannot see a cycle through the roles SAM generates, which the key
   policies name.
4. Key policies: no statement gives the account root (or `*`) `kms:*` or a cryptographic
   action; `Sign` (asymmetric keys) and `Decrypt` (the wrapping key) are allowed to the token
   function's role alone, with an explicit Deny for every other principal; `GetPublicKey`
   reaches every function that publishes; `DisableKey` and `ScheduleKeyDeletion` are denied to
   everyone but `BreakGlassRoleArn`. Checked for every value of the conditions they use.
5. Every HTTP API route is throttled (where the API exists) and every tokenmint function has
   reserved concurrency.
6. Every duration parameter is constrained (`AllowedPattern` or `AllowedValues`), and the
   rotation period reaches every function.
7. The parameter extremes against the functions' configuration check: the built CLI
   (`tokenmint keys list`, which parses and validates the whole configuration, over an empty
   SQLite store and with no network) runs with the environment the template gives the
   functions, for the extremes of every duration parameter (its pattern's, and any
   "at most ..." its description documents). Every combination the template accepts must
   start, and every combination its Rules or documented relations refuse must not: the
   template then refuses at deploy time exactly what would make the functions crash at init,
   except what the parameter descriptions document (DefaultTokenTtl <= MaxTokenTtl).
8. Conditions: for every assignment of the parameter values the Conditions compare with, no
   resource or output that is deployed references one that is not (after the SAM transform,
   whose generated resources carry their function's or API's Condition).
9. The alarms and the dashboard: DashboardBody, its !Sub resolved with placeholders for each
   Endpoints value, is JSON; every metric its widgets and the alarms name is an AWS/* metric
   or one of METRICS below, with exactly the dimensions the code gives it (CloudWatch
   matches a dimension set exactly); the alarm widget lists every alarm.

Checks 4, 4b and 5 run once for each value of `Endpoints` (http-api, function-url), on the
template as that value deploys it: resources whose Condition that value makes false left out,
and each Fn::If that value decides resolved.

usage: python check-template.py TEMPLATE SCHEMA_JSON [TOKENMINT_BINARY]
       (run with .venv/sam's python, for cfn-lint's template reader; the binary defaults to
       target/debug/tokenmint)
"""
import fnmatch
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parent.parent
# AWS KMS "cryptographic operations" (the KMS developer guide); GetPublicKey is not one.
CRYPTO_ACTIONS = [
    "kms:Decrypt", "kms:DeriveSharedSecret", "kms:Encrypt", "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateMac", "kms:GenerateRandom",
    "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:Sign", "kms:Verify", "kms:VerifyMac",
]
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
# Relations between parameters that CloudFormation cannot check and the parameter
# descriptions document instead: (smaller variable, larger variable).
DOCUMENTED_RELATIONS = [("TOKENMINT_DEFAULT_TTL", "TOKENMINT_MAX_TTL")]
# The metrics the code emits (shared/src/meter.rs; docs/operations.md, "Metrics"): each
# one's labels, which are its EMF dimensions, with their values where they are a closed set.
METRICS = {
    "tokenmint_tokens_issued_total": {
        "grant": ["client_credentials", "token_exchange", "refresh_token"], "client": None},
    "tokenmint_token_refusals_total": {"error": [
        "invalid_client", "invalid_grant", "invalid_scope", "invalid_request",
        "unauthorized_client", "unsupported_grant_type", "invalid_target",
        "temporarily_unavailable", "server_error"]},
    "tokenmint_introspections_total": {"active": ["true", "false"]},
    "tokenmint_revocations_total": {},
    "tokenmint_endpoint_refusals_total": {"endpoint": ["introspect", "revoke"], "error": None},
    "tokenmint_request_duration_seconds": {
        "endpoint": ["token", "introspect", "revoke", "jwks", "metadata"]},
    "tokenmint_hook_calls_total": {"outcome": ["ok", "refused", "failed"]},
    "tokenmint_hook_duration_seconds": {},
    "tokenmint_signer_duration_seconds": {"mode": ["kms", "kms-wrapped", "local"]},
    "tokenmint_signer_failures_total": {
        "mode": ["kms", "kms-wrapped", "local"], "kind": ["throttled", "failed"]},
    "tokenmint_store_failures_total": {"kind": ["throttled", "failed"]},
    "tokenmint_upstream_jwks_fetches_total": {"outcome": ["ok", "failed"]},
}
ENDPOINTS = ["http-api", "function-url"]
# Offline stand-ins for the template's environment values that name AWS resources.
STAND_INS = {
    "TOKENMINT_SIGNER": "kms:arn:aws:kms:eu-west-1:111122223333:key/"
    "11111111-2222-3333-4444-555555555555",
    "TOKENMINT_KMS_KEYS": "arn:aws:kms:eu-west-1:111122223333:key/"
    "11111111-2222-3333-4444-666666666666",
}


def main():
    template, errors = decode(sys.argv[1])
    if errors:
        sys.exit(f"cannot read {sys.argv[1]}: {errors}")
    with open(sys.argv[2]) as f:
        schema = json.load(f)
    binary = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "target/debug/tokenmint"
    checks = [
        ("the table is the one tokenmint store init creates", lambda: table_schema(template, schema)),
        ("the table and the keys are retained and protected", lambda: retention(template)),
        ("no circular dependency after the SAM transform", lambda: no_cycles(template)),
        ("key policies: only the token role signs or decrypts", lambda: per_mode(template, key_policies)),
        ("only the token and rotate functions write signing keys", lambda: per_mode(template, key_writers)),
        ("routes are throttled, functions have reserved concurrency", lambda: per_mode(template, limits)),
        ("duration parameters are constrained", lambda: duration_parameters(template)),
        ("parameter extremes against the configuration check", lambda: extremes(template, binary)),
        ("nothing deployed references a resource whose Condition is false", lambda: conditional_references(template)),
        ("alarms and the dashboard name only metrics that exist", lambda: dashboard(template)),
    ]
    failed = False
    for title, check in checks:
        problems, notes = check()
        print(f"{'FAIL' if problems else 'ok  '} {title}")
        for line in notes:
            print(f"       {line}")
        for line in problems[:25]:
            print(f"     - {line}")
        if len(problems) > 25:
            print(f"     - ... and {len(problems) - 25} more")
        failed = failed or bool(problems)
    if failed:
        sys.exit("template.yaml: some checks failed (above)")


# --- 1. the table ------------------------------------------------------------------------


def table_schema(template, expected):
    declared = template["Resources"]["Table"]["Properties"]
    problems = [
        f"Table.{key}: template has {json.dumps(declared.get(key))}, code creates {json.dumps(value)}"
        for key, value in expected.items()
        if declared.get(key) != value
    ]
    return problems, [f"compared: {', '.join(expected)}"]


# --- 2. retention ------------------------------------------------------------------------


def retention(template):
    problems = []
    for name, res in resources(template, "AWS::DynamoDB::Table", "AWS::KMS::Key"):
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if res.get(policy) != "Retain":
                problems.append(f"{name}: {policy} is {res.get(policy)!r}, not 'Retain'")
        props = res.get("Properties", {})
        if res["Type"] == "AWS::DynamoDB::Table" and props.get("DeletionProtectionEnabled") is not True:
            problems.append(f"{name}: DeletionProtectionEnabled is not true")
        if res["Type"] == "AWS::KMS::Key" and props.get("PendingWindowInDays") != 30:
            problems.append(f"{name}: PendingWindowInDays is {props.get('PendingWindowInDays')!r}, not 30")
    return problems, []


# --- 3. dependencies, 4. key policies ---------------------------------------------------


def no_cycles(template):
    full, error = expanded_template(template)
    if error:  # the translator's own errors name the resource
        return [error], []
    expanded = full["Resources"]
    graph = {name: set(depends_on(res, expanded)) for name, res in expanded.items()}
    cycles = []
    for start in graph:
        cycle = find_cycle(graph, start)
        if cycle and sorted(cycle[:-1]) not in [sorted(c[:-1]) for c in cycles]:
            cycles.append(cycle)
    return [" -> ".join(c) for c in cycles], [f"{len(expanded)} resources after the SAM transform"]


def depends_on(resource, names):
    after = resource.get("DependsOn", [])
    yield from [after] if isinstance(after, str) else after
    for ref in references(resource.get("Properties", {})):
        if ref in names:
            yield ref


def references(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "Ref" and isinstance(v, str):
                yield v
            elif k == "Fn::GetAtt":
                yield v[0] if isinstance(v, list) else v.split(".")[0]
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([A-Za-z0-9.]+)\}", text))
                yield from references(v)
            else:
                yield from references(v)
    elif isinstance(x, list):
        for v in x:
            yield from references(v)


def find_cycle(graph, start):
    """A path from `start` back to itself, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def key_policies(template):
    roles = function_roles(template)
    problems, notes = [], []
    if "token" not in roles:
        return ["no function serves POST /oauth2/token"], []
    for name, key in resources(template, "AWS::KMS::Key"):
        policy = key.get("Properties", {}).get("KeyPolicy", {})
        usage = key.get("Properties", {}).get("KeyUsage", "ENCRYPT_DECRYPT")
        for conditions in condition_values(policy):
            statements = resolve(policy, conditions).get("Statement", [])
            where = f"{name}" + (f" ({fmt(conditions)})" if conditions else "")
            problems += [f"{where}: {p}" for p in check_key_policy(statements, usage, roles)]
        notes.append(f"{name} ({usage}): {len(policy.get('Statement', []))} statements")
    return problems, notes


def check_key_policy(statements, usage, roles):
    """What is wrong with one key's resolved policy statements."""
    token = roles["token"]
    publishers = [roles[f] for f in ("token", "jwks", "introspect", "rotate") if f in roles]
    # Who may use each cryptographic action; every other one is no one's.
    allowed = {"kms:Sign": [token]} if usage == "SIGN_VERIFY" else {
        "kms:Decrypt": [token], "kms:Encrypt": [token, roles.get("rotate")]}
    problems = []
    for s in statements:
        if s.get("Effect") != "Allow":
            continue
        if "NotAction" in s or "NotPrincipal" in s:
            problems.append(f"statement {s.get('Sid')!r}: Allow with NotAction/NotPrincipal")
            continue
        for p in principals(s):
            # The root and `*` may use nothing; the named roles only what `allowed` gives them.
            wrong = [a for a in CRYPTO_ACTIONS if grants(s, a)
                     and (is_root(p) or p == "*" or p not in allowed.get(a, []))]
            if wrong:
                problems.append(f"statement {s.get('Sid')!r} grants {', '.join(wrong)} to {fmt(p)}")
    for action, who in allowed.items():
        problems += needs_allow(statements, action, who)
        problems += needs_deny_for_others(statements, action, [token] if action != "kms:Encrypt" else who)
    if usage != "SIGN_VERIFY":
        problems += needs_deny_for_others(statements, "kms:ReEncryptFrom", [token])
    else:
        problems += needs_allow(statements, "kms:GetPublicKey", publishers)
    admins = [s for s in statements if s.get("Effect") == "Allow" and any(is_root(p) for p in principals(s))]
    for action in ("kms:PutKeyPolicy", "kms:DescribeKey"):
        if not any(grants(s, action) for s in admins):
            problems.append(f"the account root may not {action}: CloudFormation manages the key through it")
    problems += deletion_denied(statements)
    return problems


def needs_allow(statements, action, who):
    given = [p for s in statements if s.get("Effect") == "Allow" and grants(s, action) for p in principals(s)]
    return [f"{fmt(p)} is not allowed {action}" for p in who if p not in given]


def needs_deny_for_others(statements, action, exempt):
    """An explicit Deny of `action` to every principal whose ARN is not one of `exempt`."""
    for s in statements:
        if s.get("Effect") != "Deny" or not grants(s, action) or principals(s) != ["*"]:
            continue
        if arn_exemption(s.get("Condition")) == sorted(map(json.dumps, exempt)):
            return []
    return [f"no Deny of {action} to every principal but {', '.join(map(fmt, exempt))}"]


def deletion_denied(statements):
    problems = []
    for action in ("kms:ScheduleKeyDeletion", "kms:DisableKey"):
        for s in statements:
            if s.get("Effect") == "Allow" and grants(s, action):
                if principals(s) != [{"Ref": "BreakGlassRoleArn"}]:
                    problems.append(f"statement {s.get('Sid')!r} allows {action} to {fmt(principals(s))}")
        denials = [s for s in statements if s.get("Effect") == "Deny" and grants(s, action)
                   and principals(s) == ["*"]]
        exemptions = [arn_exemption(s.get("Condition")) for s in denials]
        if not any(e in ([], [json.dumps({"Ref": "BreakGlassRoleArn"})]) for e in exemptions):
            problems.append(f"{action} is not denied to every principal but BreakGlassRoleArn")
    return problems


def arn_exemption(condition):
    """The principal ARNs a Deny's condition exempts (sorted JSON), [] for no condition, or
    None when the condition is anything but `*NotEquals aws:PrincipalArn`."""
    if not condition:
        return []
    if len(condition) != 1:
        return None
    (operator, keys), = condition.items()
    if operator not in ("ArnNotEquals", "StringNotEquals") or list(keys) != ["aws:PrincipalArn"]:
        return None
    values = keys["aws:PrincipalArn"]
    return sorted(json.dumps(v) for v in (values if isinstance(values, list) else [values]))


def principals(statement):
    p = statement.get("Principal")
    if p == "*":
        return ["*"]
    aws = (p or {}).get("AWS", []) if isinstance(p, dict) else []
    aws = aws if isinstance(aws, list) else [aws]
    return ["*" if a == "*" else a for a in aws] + [
        f"service:{v}" for v in ((p or {}).get("Service", []) if isinstance(p, dict) else [])]


def grants(statement, action):
    actions = statement.get("Action", [])
    actions = actions if isinstance(actions, list) else [actions]
    return any(fnmatch.fnmatch(action.lower(), a.lower()) for a in actions if isinstance(a, str))


def is_root(principal):
    text = json.dumps(principal)
    return (text.endswith(':root"}') or text.endswith(':root"') or principal == {"Ref": "AWS::AccountId"}
            or re.fullmatch(r"[0-9]{12}", str(principal)) is not None)


def function_roles(template):
    """The role of each tokenmint function deployed, by what it serves (its binary): token,
    jwks, introspect, rotate. A token function with TOKENMINT_ENDPOINTS=all serves the jwks
    and introspect endpoints too, and stands for them where no such function is deployed."""
    roles, serves_all = {}, None
    for name, fn in resources(template, "AWS::Serverless::Function"):
        role = fn["Properties"].get("Role", {"Fn::GetAtt": [f"{name}Role", "Arn"]})
        binary = fn.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if binary in ("token", "jwks", "introspect", "rotate"):
            roles[binary] = role
        variables = fn["Properties"].get("Environment", {}).get("Variables", {})
        if binary == "token" and variables.get("TOKENMINT_ENDPOINTS") == "all":
            serves_all = role
    if serves_all is not None:
        for endpoint in ("jwks", "introspect"):
            roles.setdefault(endpoint, serves_all)
    return roles


# --- 4b. who writes keys ----------------------------------------------------------------

TABLE_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem", "dynamodb:TransactWriteItems", "dynamodb:*", "*"}


def key_writers(template):
    """No function but token and rotate may write the KEYS partition (a record a verifying
    function wrote would be published), nor Encrypt under the wrapping key."""
    problems, notes = [], []
    writers = {"TokenFunction", "RotateFunction"}
    for name, fn in resources(template, "AWS::Serverless::Function"):
        for policy in fn["Properties"].get("Policies", []) or []:
            statements = policy.get("Statement", []) if isinstance(policy, dict) else []
            for st in statements:
                if st.get("Effect") != "Allow":
                    continue
                actions = st.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                if any(a in TABLE_WRITES for a in actions) and reaches_keys(st):
                    (notes if name in writers else problems).append(
                        f"{name}: {st.get('Sid', '?')} may write KEYS")
                if any(a in ("kms:Encrypt", "kms:*", "*") for a in actions) and name not in writers:
                    problems.append(f"{name}: {st.get('Sid', '?')} may kms:Encrypt")
    if not any("TokenFunction" in n for n in notes):
        problems.append("the token function cannot seed the key registry")
    return problems, notes


def reaches_keys(statement):
    """Whether a DynamoDB statement's LeadingKeys condition lets it touch the KEYS partition."""
    condition = statement.get("Condition") or {}
    for op, clause in condition.items():
        keys = clause.get("dynamodb:LeadingKeys") if isinstance(clause, dict) else None
        if keys is None:
            continue
        keys = [keys] if isinstance(keys, str) else keys
        if "StringLike" in op:
            return any(fnmatch.fnmatchcase("KEYS", k) for k in keys)
        return "KEYS" in keys
    return True


# --- 5. limits ---------------------------------------------------------------------------


def limits(template):
    problems, notes, total = [], [], 0
    for name, api in resources(template, "AWS::Serverless::HttpApi"):
        settings = api.get("Properties", {}).get("DefaultRouteSettings", {})
        for prop in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
            value = default_of(template, settings.get(prop))
            if not isinstance(value, (int, float)) or value <= 0:
                problems.append(f"{name}: DefaultRouteSettings.{prop} is missing or not positive")
            else:
                notes.append(f"{name}.{prop}: {value} by default")
    for name, fn in resources(template, "AWS::Serverless::Function"):
        if fn.get("Metadata", {}).get("BuildMethod") != "rust-cargolambda":
            continue  # the example resource server is not tokenmint's
        value = fn["Properties"].get("ReservedConcurrentExecutions")
        if isinstance(value, dict) and "Fn::If" in value:
            value = value["Fn::If"][1]  # the other branch is "no reservation" (0)
        reserved = default_of(template, value)
        if not isinstance(reserved, int) or reserved < 1:
            problems.append(f"{name}: no ReservedConcurrentExecutions (default {reserved!r})")
        else:
            total += reserved
            notes.append(f"{name}: {reserved} reserved by default")
    if total > 900:
        problems.append(f"the defaults reserve {total} executions: more than a 1,000 account can give")
    return problems, notes


def default_of(template, value):
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return template["Parameters"].get(value["Ref"], {}).get("Default")
    return value


# --- 6. duration parameters --------------------------------------------------------------


def duration_variables():
    """The TOKENMINT_* variables the configuration parses as durations (shared/src/config/mod.rs)."""
    source = (ROOT / "shared/src/config/mod.rs").read_text()
    return set(re.findall(r'secs\(\s*"(TOKENMINT_[A-Z_]+)"', source))


def env_parameters(template):
    """Each TOKENMINT_* variable every function gets from a parameter: {variable: parameter}."""
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    return {k: v["Ref"] for k, v in variables.items()
            if isinstance(v, dict) and set(v) == {"Ref"} and v["Ref"] in template["Parameters"]}


def duration_parameters(template):
    durations = duration_variables()
    if not durations:
        return ["found no duration variables in shared/src/config/mod.rs"], []
    fed = env_parameters(template)
    problems, notes = [], []
    if "TOKENMINT_KEY_ROTATION_PERIOD" not in fed:
        problems.append("no parameter is passed as TOKENMINT_KEY_ROTATION_PERIOD to the functions")
    for name, fn in resources(template, "AWS::Serverless::Function"):
        own = fn["Properties"].get("Environment", {}).get("Variables", {})
        problems += [f"{name} overrides {v}" for v in own if v in fed and v in durations]
    for variable, param in sorted(fed.items()):
        if variable not in durations:
            continue
        spec = template["Parameters"][param]
        pattern = spec.get("AllowedPattern")
        if pattern is None and "AllowedValues" not in spec:
            problems.append(f"{param} ({variable}) has neither AllowedPattern nor AllowedValues")
            continue
        if pattern is not None and not (pattern.startswith("^") and pattern.endswith("$")):
            problems.append(f"{param}: AllowedPattern {pattern!r} is not anchored")
        for value in [spec.get("Default")] + list(spec.get("AllowedValues", [])):
            if not allows(spec, str(value)):
                problems.append(f"{param}: {value!r} does not match its own constraint")
        for typo in ("24 h", "0s", "1.5h", "-1h", "1w"):
            if allows(spec, typo):
                problems.append(f"{param} accepts {typo!r}")
        notes.append(f"{param} -> {variable}: {pattern or spec.get('AllowedValues')}")
    return problems, notes


def allows(spec, value):
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return False
    pattern = spec.get("AllowedPattern")
    return pattern is None or re.fullmatch(pattern, value) is not None


# --- 7. extremes against the configuration check -----------------------------------------


def extremes(template, binary):
    if not binary.exists():
        return [f"{binary} is missing: build it (cargo build -p tokenmint-cli)"], []
    fed = {v: p for v, p in env_parameters(template).items() if v in duration_variables()}
    in_rules = set(refs_in(template.get("Rules", {})))
    points = {p: extreme_values(template["Parameters"][p], p in in_rules) for p in fed.values()}
    cases = combinations(template, fed, points)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda c: starts(template, binary, c[0]), cases))
    problems = []
    for (values, expected, why), (ok, error) in zip(cases, results):
        if ok and not expected:
            problems.append(f"{fmt(values)}: the template refuses it ({why}), yet the functions start")
        elif expected and not ok:
            problems.append(f"{fmt(values)}: the template accepts it, the functions refuse it: {error}")
    accepted = sum(1 for _, e, _ in cases if e)
    notes = [f"{p}: {', '.join(v)}" for p, v in points.items()]
    notes.append(f"{len(cases)} combinations run, {accepted} accepted by the template, "
                 f"{len(cases) - accepted} refused (Rules or a documented relation)")
    return problems, notes


def extreme_values(spec, every_day):
    """Every allowed value (AllowedValues), or each unit's smallest and largest number that
    the pattern allows (and every day count, with `every_day`: for the parameters Rules
    name, which speak in days), and any "at most N" the description documents."""
    if "AllowedValues" in spec:
        return [str(v) for v in spec["AllowedValues"]]
    documented = re.findall(r"at most (\d+[smhd])\b", str(spec.get("Description", "")))
    if spec.get("AllowedPattern") is None:
        # Unconstrained: what the description promises, and the default.
        return list(dict.fromkeys(documented + [str(spec.get("Default"))]))
    values = []
    for unit, limit in (("s", 200_000), ("m", 20_000), ("h", 2_000), ("d", 1_000)):
        ok = [n for n in range(1, limit) if allows(spec, f"{n}{unit}")]
        if ok:
            chosen = ok if unit == "d" and every_day and len(ok) <= 60 else [ok[0], ok[-1]]
            values += [f"{n}{unit}" for n in chosen]
    return values + [v for v in documented if v not in values and allows(spec, v)]


def combinations(template, fed, points):
    """(values, whether the template accepts them, why not): every point of each parameter
    with the others at their defaults, and every combination of the points of parameters
    that Rules or documented relations tie together."""
    defaults = {p: str(template["Parameters"][p].get("Default")) for p in fed.values()}
    seen, cases = set(), []
    for p in points:
        for value in points[p]:
            add_case(template, fed, {**defaults, p: value}, seen, cases)
    for group in tied_groups(template, fed):
        for chosen in itertools.product(*(points[p] for p in group)):
            add_case(template, fed, {**defaults, **dict(zip(group, chosen))}, seen, cases)
    return cases


def add_case(template, fed, values, seen, cases):
    key = tuple(sorted(values.items()))
    if key in seen:
        return
    seen.add(key)
    refused = rule_refusals(template, values) + relation_refusals(fed, values)
    cases.append((values, not refused, "; ".join(refused)))


def tied_groups(template, fed):
    """Groups of duration parameters that Rules or documented relations name together
    (connected through any of them)."""
    groups = []
    links = [set(refs_in(rule)) & set(fed.values()) for rule in template.get("Rules", {}).values()]
    links += [{fed[a], fed[b]} for a, b in DOCUMENTED_RELATIONS if a in fed and b in fed]
    for link in links:
        touching = [g for g in groups if g & link]
        merged = set(link).union(*touching)
        groups = [g for g in groups if not g & link] + [merged]
    return [sorted(g) for g in groups if len(g) > 1]


def rule_refusals(template, values):
    refused = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluate(assertion["Assert"], values):
                refused.append(f"rule {name}")
    return refused


def relation_refusals(fed, values):
    return [f"{fed[a]} > {fed[b]} (documented)" for a, b in DOCUMENTED_RELATIONS
            if a in fed and b in fed and seconds(values[fed[a]]) > seconds(values[fed[b]])]


def evaluate(expr, values):
    """A CloudFormation rule expression over parameter values (the functions rules allow)."""
    if isinstance(expr, dict) and len(expr) == 1:
        (fn, args), = expr.items()
        if fn == "Ref":
            return values[args]
        args = [evaluate(a, values) for a in args] if isinstance(args, list) else evaluate(args, values)
        if fn == "Fn::Equals":
            return str(args[0]) == str(args[1])
        if fn == "Fn::Not":
            return not args[0]
        if fn == "Fn::And":
            return all(args)
        if fn == "Fn::Or":
            return any(args)
        if fn == "Fn::Contains":
            return str(args[1]) in [str(v) for v in args[0]]
        raise ValueError(f"check-template.py cannot evaluate {fn} in a rule")
    if isinstance(expr, list):
        return [evaluate(e, values) for e in expr]
    return expr


def starts(template, binary, values):
    """Whether the functions' configuration check accepts these parameter values."""
    env = {"PATH": os.environ.get("PATH", ""), "RUST_LOG": "error", "AWS_REGION": "eu-west-1",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED": "true"}
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    fed = env_parameters(template)
    with tempfile.TemporaryDirectory() as data:
        for variable, value in variables.items():
            if variable == "TOKENMINT_STORE":
                env[variable] = f"sqlite:{data}/tokenmint.db"
            elif variable in fed:
                param = fed[variable]
                env[variable] = values.get(param, str(template["Parameters"][param].get("Default", "")))
            elif variable in STAND_INS:
                env[variable] = STAND_INS[variable]
            elif isinstance(value, str):
                env[variable] = value  # a literal, as the functions receive it
            else:
                return False, f"check-template.py has no offline stand-in for {variable}"
        env["TOKENMINT_ISSUER"] = env.get("TOKENMINT_ISSUER") or "https://auth.example.com"
        run = subprocess.run([str(binary), "--data", data, "keys", "list"], env=env,
                             capture_output=True, text=True, timeout=60)
    lines = run.stderr.strip().splitlines()
    return run.returncode == 0, lines[-1] if lines else f"exit {run.returncode}"


# --- modes: the template as one Endpoints value deploys it -------------------------------


def per_mode(template, check):
    """`check` on the template as each Endpoints value deploys it; lines name the value."""
    problems, notes = [], []
    for endpoints in ENDPOINTS:
        p, n = check(deployed_view(template, {"Endpoints": endpoints}))
        problems += [f"[Endpoints={endpoints}] {line}" for line in p]
        notes += [f"[Endpoints={endpoints}] {line}" for line in n]
    return problems, notes


def deployed_view(template, known):
    """The template with the parameter values `known` given: each condition they decide
    evaluated, the resources and outputs whose Condition is false left out, and every Fn::If on
    a decided condition resolved. Conditions that depend on other parameters stay as they are."""
    decided = {}
    for name in template.get("Conditions", {}):
        value = condition_value(template, name, known)
        if value is not None:
            decided[name] = value
    view = {k: v for k, v in template.items() if k not in ("Resources", "Outputs")}
    for section in ("Resources", "Outputs"):
        view[section] = {
            name: partly_resolve(res, decided)
            for name, res in template.get(section, {}).items()
            if decided.get(res.get("Condition"), True)}
    return view


def condition_value(template, name, known):
    """A condition's value given the parameter values `known`, or None when it depends on
    others."""
    return condition_expr(template, template["Conditions"][name], known)


def condition_expr(template, expr, known):
    if isinstance(expr, dict) and len(expr) == 1:
        (fn, args), = expr.items()
        if fn == "Condition":
            return condition_value(template, args, known)
        if fn == "Ref":
            return known.get(args)
        if fn == "Fn::Equals":
            a, b = (condition_expr(template, x, known) for x in args)
            return None if a is None or b is None else str(a) == str(b)
        values = [condition_expr(template, x, known) for x in args]
        if fn == "Fn::Not":
            return None if values[0] is None else not values[0]
        if fn == "Fn::And":
            return False if False in values else (None if None in values else True)
        if fn == "Fn::Or":
            return True if True in values else (None if None in values else False)
        raise ValueError(f"check-template.py cannot evaluate {fn} in a condition")
    return expr


def partly_resolve(x, decided):
    """`x` with each Fn::If on a decided condition resolved and AWS::NoValue removed."""
    if isinstance(x, dict):
        if set(x) == {"Fn::If"} and x["Fn::If"][0] in decided:
            name, yes, no = x["Fn::If"]
            return partly_resolve(yes if decided[name] else no, decided)
        if set(x) == {"Fn::If"}:  # undecided: keep both branches, AWS::NoValue included
            name, yes, no = x["Fn::If"]
            return {"Fn::If": [name, partly_resolve(yes, decided), partly_resolve(no, decided)]}
        out = {k: partly_resolve(v, decided) for k, v in x.items()}
        return {k: v for k, v in out.items() if v != {"Ref": "AWS::NoValue"}}
    if isinstance(x, list):
        out = [partly_resolve(v, decided) for v in x]
        return [v for v in out if v != {"Ref": "AWS::NoValue"}]
    return x


# --- 8. references to resources that are not deployed ------------------------------------


def expanded_template(template):
    """The template after SAM's transform (CodeUri placeholders), or an error message."""
    class Policies:  # the managed policies SAM attaches, without asking IAM
        def load(self):
            return {"AWSLambdaBasicExecutionRole":
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    sam = json.loads(json.dumps(template))
    for res in sam.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function" and "CodeUri" in res.get("Properties", {}):
            res["Properties"]["CodeUri"] = "s3://placeholder-bucket/code.zip"  # sam build's job
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    try:
        return transform(sam, {}, Policies()), None
    except Exception as e:
        return None, f"SAM cannot expand the template: {e}"


def guarded_references(x, guards=()):
    """(target, guards) for each Ref, GetAtt and ${...} in `x`: guards are the (condition,
    branch) pairs of the Fn::If branches the reference sits in."""
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "Fn::If" and isinstance(v, list) and len(v) == 3:
                yield from guarded_references(v[1], guards + ((v[0], True),))
                yield from guarded_references(v[2], guards + ((v[0], False),))
            elif k == "Ref" and isinstance(v, str):
                yield v, guards
            elif k == "Fn::GetAtt":
                yield (v[0] if isinstance(v, list) else v.split(".")[0]), guards
            elif k == "Fn::Sub":
                text, local = (v, {}) if isinstance(v, str) else (v[0], v[1])
                for m in re.findall(r"\$\{([A-Za-z0-9:.]+)\}", text):
                    name = m.split(".")[0]
                    if name not in local:
                        yield name, guards
                yield from guarded_references(local, guards)
            else:
                yield from guarded_references(v, guards)
    elif isinstance(x, list):
        for v in x:
            yield from guarded_references(v, guards)


def parameter_samples(template):
    """For each parameter a Condition reads: every value the Conditions compare it with (within
    its AllowedValues), and one value none of them is."""
    compared = {}

    def walk(x):
        if isinstance(x, dict):
            if "Fn::Equals" in x:
                args = x["Fn::Equals"]
                for a, b in (args, args[::-1]):
                    if isinstance(a, dict) and set(a) == {"Ref"} and not isinstance(b, dict):
                        compared.setdefault(a["Ref"], set()).add(str(b))
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(template.get("Conditions", {}))
    samples = {}
    for param, values in compared.items():
        spec = template["Parameters"][param]
        if "AllowedValues" in spec:
            samples[param] = sorted({str(v) for v in spec["AllowedValues"]})
        else:
            other = str(spec.get("Default"))
            other = other if other not in values else "placeholder-other-value"
            samples[param] = sorted(values | {other})
    return samples


def conditional_references(template):
    expanded, error = expanded_template(template)
    if error:
        return [error], []
    everything = {**expanded.get("Resources", {})}
    holders = [(name, res) for name, res in expanded.get("Resources", {}).items()]
    holders += [(f"output {name}", out) for name, out in expanded.get("Outputs", {}).items()]
    occurrences = []
    for name, res in holders:
        after = res.get("DependsOn", [])
        for target in [after] if isinstance(after, str) else after:
            occurrences.append((name, res.get("Condition"), target, ()))
        for target, guards in guarded_references({k: v for k, v in res.items() if k != "DependsOn"}):
            if target in everything:
                occurrences.append((name, res.get("Condition"), target, guards))
    samples = parameter_samples(expanded)
    names = sorted(samples)
    seen, problems = set(), []
    assignments = 0
    for values in itertools.product(*(samples[n] for n in names)):
        known = dict(zip(names, values))
        conditions = {c: condition_value(expanded, c, known) for c in expanded.get("Conditions", {})}
        key = tuple(sorted(conditions.items()))
        if key in seen:
            continue
        seen.add(key)
        assignments += 1
        deployed = lambda cond: cond is None or conditions[cond]
        for holder, holder_cond, target, guards in occurrences:
            if not deployed(holder_cond) or any(conditions[c] != branch for c, branch in guards):
                continue
            if not deployed(everything[target].get("Condition")):
                line = (f"{holder} references {target} (Condition "
                        f"{everything[target]['Condition']}) with {fmt(known)}")
                if line.split(" with ")[0] not in [p.split(" with ")[0] for p in problems]:
                    problems.append(line)
    notes = [f"parameters varied: {', '.join(f'{n} ({len(samples[n])})' for n in names)}",
             f"{assignments} distinct assignments of the conditions, "
             f"{len(occurrences)} references after the SAM transform"]
    return problems, notes


# --- 9. the alarms and the dashboard ------------------------------------------------------

PLACEHOLDERS = {"AWS::Region": "us-east-1", "AWS::AccountId": "111122223333",
                "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": "tokenmint-stack"}
# A namespace with a slash, the character a SEARCH expression must quote.
NAMESPACE_STAND_IN = "prod/tokenmint"


def substitute(value, params):
    """A string from an intrinsic, with placeholders for what only a deployment knows."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        v = value["Fn::Sub"]
        text, local = (v, {}) if isinstance(v, str) else (v[0], v[1])

        def one(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return substitute(local[name], params)
            return placeholder(name, params)

        return re.sub(r"\$\{([A-Za-z0-9:.!]+)\}", one, text)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return placeholder(value["Ref"], params)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        v = value["Fn::GetAtt"]
        return placeholder(".".join(v) if isinstance(v, list) else v, params)
    raise ValueError(f"check-template.py cannot substitute {json.dumps(value)[:80]}")


def placeholder(name, params):
    if name in PLACEHOLDERS:
        return PLACEHOLDERS[name]
    if name in params:
        return params[name]
    resource, _, attribute = name.partition(".")
    if attribute == "Arn":
        return f"arn:aws:placeholder:us-east-1:111122223333:{resource}"
    return f"placeholder-{resource}"


def dashboard(template):
    problems, notes = [], []
    alarms = [n for n, _ in resources(template, "AWS::CloudWatch::Alarm")]
    source = (ROOT / "shared/src/meter.rs").read_text() if (ROOT / "shared/src/meter.rs").exists() else ""
    problems += [f"{m} is in METRICS, not in shared/src/meter.rs" for m in METRICS if f'"{m}"' not in source]
    for endpoints in ENDPOINTS:
        params = {p: str(spec.get("Default", "")) for p, spec in template["Parameters"].items()}
        params.update({"Endpoints": endpoints, "MetricsNamespace": NAMESPACE_STAND_IN})
        view = deployed_view(template, params)
        where = f"[Endpoints={endpoints}]"
        for name, alarm in resources(view, "AWS::CloudWatch::Alarm"):
            problems += [f"{where} alarm {name}: {p}" for p in alarm_problems(alarm, params)]
        boards = resources(view, "AWS::CloudWatch::Dashboard")
        if not boards:
            problems.append(f"{where} no dashboard")
        for name, board in boards:
            try:
                body = json.loads(substitute(board["Properties"]["DashboardBody"], params))
            except (ValueError, KeyError) as e:
                problems.append(f"{where} {name}: DashboardBody is not JSON after substitution: {e}")
                continue
            widgets = body.get("widgets", [])
            listed = []
            for i, widget in enumerate(widgets):
                props = widget.get("properties", {})
                title = props.get("title", f"widget {i}")
                if widget.get("type") == "alarm":
                    listed += [a.rsplit(":", 1)[-1] for a in props.get("alarms", [])]
                for entry in props.get("metrics", []):
                    problems += [f"{where} {name} {title!r}: {p}" for p in metric_entry_problems(entry)]
            problems += [f"{where} {name}: the alarm widget does not list {a}" for a in alarms
                         if a in view["Resources"] and a not in listed]
            problems += [f"{where} {name}: the alarm widget lists {a}, which is not deployed"
                         for a in listed if a not in view["Resources"]]
            notes.append(f"{where} {name}: {len(widgets)} widgets, {len(listed)} alarms listed")
    return problems, notes


def metric_entry_problems(entry):
    if entry and isinstance(entry[0], dict) and "expression" in entry[0]:
        return expression_problems(entry[0]["expression"])
    names = [e for e in entry if isinstance(e, str)]
    if len(names) < 2 or len(names) % 2:
        return [f"metric {json.dumps(entry)} is not [namespace, name, dimension, value, ...]"]
    namespace, metric = names[0], names[1]
    return metric_problems(namespace, metric, dict(zip(names[2::2], names[3::2])))


def expression_problems(expression):
    problems = []
    searches = re.findall(r"SEARCH\('(.*?)',\s*'([^']+)',\s*[0-9]+\)", expression)
    if "SEARCH" in expression and not searches:
        problems.append(f"cannot read the SEARCH in {expression!r}")
    for query, _stat in searches:
        schema = re.match(r'\{"([^"]+)",([A-Za-z0-9_,]*)\}', query)
        metric = re.search(r'MetricName="([^"]+)"', query)
        if not schema or not metric:
            problems.append(f"SEARCH {query!r}: no {{\"namespace\",dimensions}} schema or MetricName=\"...\"")
            continue
        dims = [d for d in schema.group(2).split(",") if d]
        values = dict(re.findall(r'\b([a-z_]+)="([^"]+)"', query))
        values.pop("MetricName", None)
        problems += metric_problems(schema.group(1), metric.group(1), {d: values.get(d) for d in dims},
                                    searched=set(values) - set(dims))
    return problems


def metric_problems(namespace, metric, dimensions, searched=()):
    """What is wrong with one metric reference: AWS/* metrics pass; ours must be a known name
    with exactly its dimensions, and known values where the values are a closed set."""
    if namespace.startswith("AWS/"):
        return []
    if namespace != NAMESPACE_STAND_IN:
        return [f"{metric}: namespace {namespace!r} is neither AWS/* nor MetricsNamespace"]
    if metric not in METRICS:
        return [f"{metric} in {namespace!r} is not a metric the code emits"]
    labels = METRICS[metric]
    problems = []
    if set(dimensions) != set(labels):
        problems.append(f"{metric}: dimensions {sorted(dimensions)}, the code gives {sorted(labels)}")
    problems += [f"{metric}: searches {d}, not one of its dimensions" for d in searched]
    for d, v in dimensions.items():
        if v is not None and labels.get(d) is not None and v not in labels[d]:
            problems.append(f"{metric}: {d}={v!r} is never emitted ({', '.join(labels[d])})")
    return problems


def alarm_problems(alarm, params):
    props = alarm.get("Properties", {})
    stats = [props] if "MetricName" in props else [
        m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
    problems = []
    for m in stats:
        dims = {d["Name"]: substitute(d["Value"], params) for d in m.get("Dimensions", [])}
        problems += metric_problems(substitute(m["Namespace"], params), m["MetricName"], dims)
    if "AlarmDescription" not in props or "docs/operations.md" not in props["AlarmDescription"]:
        problems.append("its AlarmDescription does not point at docs/operations.md")
    if props.get("TreatMissingData") != "notBreaching":
        problems.append("TreatMissingData is not notBreaching")
    return problems


# --- helpers -----------------------------------------------------------------------------


def resources(template, *types):
    return [(n, r) for n, r in template.get("Resources", {}).items() if r.get("Type") in types]


def condition_values(policy):
    """Every assignment of the conditions a policy's Fn::If uses."""
    names = sorted(set(if_conditions(policy)))
    return [dict(zip(names, bits)) for bits in itertools.product([True, False], repeat=len(names))]


def if_conditions(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "Fn::If":
                yield v[0]
            yield from if_conditions(v)
    elif isinstance(x, list):
        for v in x:
            yield from if_conditions(v)


def resolve(x, conditions):
    """`x` with each Fn::If decided and AWS::NoValue removed."""
    if isinstance(x, dict):
        if set(x) == {"Fn::If"}:
            name, yes, no = x["Fn::If"]
            return resolve(yes if conditions[name] else no, conditions)
        out = {k: resolve(v, conditions) for k, v in x.items()}
        return {k: v for k, v in out.items() if v != {"Ref": "AWS::NoValue"}}
    if isinstance(x, list):
        return [resolve(v, conditions) for v in x if resolve(v, conditions) != {"Ref": "AWS::NoValue"}]
    return x


def refs_in(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "Ref":
                yield v
            else:
                yield from refs_in(v)
    elif isinstance(x, list):
        for v in x:
            yield from refs_in(v)


def seconds(value):
    m = re.fullmatch(r"([0-9]+)([smhd]?)", str(value))
    return int(m.group(1)) * UNIT_SECONDS[m.group(2) or "s"] if m else float("inf")


def fmt(x):
    if isinstance(x, dict) and "Fn::GetAtt" in x:
        return ".".join(x["Fn::GetAtt"])
    if isinstance(x, dict) and "Ref" in x:
        return x["Ref"]
    if isinstance(x, dict) and "Fn::Sub" in x and isinstance(x["Fn::Sub"], str):
        return x["Fn::Sub"]
    if isinstance(x, dict) and all(isinstance(v, (str, bool)) for v in x.values()):
        return " ".join(f"{k}={v}" for k, v in x.items())
    if isinstance(x, list):
        return ", ".join(fmt(v) for v in x)
    return json.dumps(x) if not isinstance(x, str) else x


if __name__ == "__main__":
    main()
