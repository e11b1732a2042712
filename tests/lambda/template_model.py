"""What the code says the deployment must be, read from the sources, and the checks that hold
infra/template.yaml to it (tests/lambda/test_template.py runs them; test_template_drift.py
shows each one failing on a drifted copy).

The code side is read from the Rust sources with small, strict parsers: a Lambda binary's
settings struct and every variable it reads (functions/lambda/src/settings.rs, followed
through the structs and functions it calls), the routers a binary mounts and each handler's
`#[utoipa::path]` (functions/api/src/lib.rs, routes/), the authorization page's routes, and the
constants the schedules and the table depend on. Where a parser finds nothing it fails loudly
rather than checking against an empty set. Each check returns the problems it found, so a
test asserts that list is empty and a drift test that it is not.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LAMBDA_SRC = ROOT / "functions" / "lambda" / "src"
API_SRC = ROOT / "functions" / "api" / "src"

Route = tuple[str, str]  # (METHOD, path), the path as API Gateway and OpenAPI write it

# PRODUCT.md's "HTTP API" section, transcribed: the contract lives outside this repository
# (../shared/PRODUCT.md), so the test command must not depend on it; test_template.py checks
# this list against the file whenever it is there.
PRODUCT_ROUTES: frozenset[Route] = frozenset({
    ("GET", "/v1/billing"),
    ("POST", "/v1/billing/setup-intents"),
    ("PUT", "/v1/billing/card"),
    ("DELETE", "/v1/billing/card"),
    ("POST", "/v1/billing/credit-purchases"),
    ("GET", "/v1/billing/credit-purchases/{id}"),
    ("GET", "/v1/billing/invoices"),
    ("GET", "/v1/billing/invoices/{id}"),
    ("DELETE", "/v1/account"),
    ("POST", "/v1/webhooks/stripe"),
    ("GET", "/v1/openapi.json"),
})
# PRODUCT.md: Stripe calls the webhook (it signs instead), and the OpenAPI document is served
# "(no auth)". Every other API route is behind the platform's JWT.
PRODUCT_PUBLIC_ROUTES: frozenset[Route] = frozenset({("POST", "/v1/webhooks/stripe"), ("GET", "/v1/openapi.json")})
# PRODUCT.md "Scale": Stripe's live limit, which the charge workers' total must stay under.
STRIPE_LIVE_LIMIT_PER_SECOND = 100
# Variables the code reads that only tests set (StripeSettings: "for tests only; unset in
# production"): the template must never give them.
TEST_ONLY_VARIABLES = frozenset({"STRIPE_API_BASE"})
# The variable a producer is given to name a queue, and the binary that reads that queue's
# messages (its handler parses what the producer's adapter sends).
QUEUE_VARIABLE_CONSUMERS = {"CHARGE_QUEUE_URL": "charge-worker"}
# Queues fed from outside the stack, by the stack output that names them, and their consumer.
EXTERNAL_QUEUE_OUTPUTS = {"UsageQueueUrl": "usage"}
HTTP_METHODS = ("get", "post", "put", "delete", "patch")


# --- Reading Rust sources ---------------------------------------------------------------------

def without_tests(text: str) -> str:
    """A Rust file without its `#[cfg(test)]` module (always last in this codebase)."""
    return text.split("#[cfg(test)]", 1)[0]


def rust_const(path: Path, name: str) -> str:
    """The value, as written, of `const NAME: T = value;` in `path`."""
    found = re.search(rf"\bconst {name}\s*:[^=]+=\s*(.+?);", without_tests(path.read_text()), re.S)
    if not found:
        raise AssertionError(f"{path.relative_to(ROOT)} no longer defines const {name}")
    return found.group(1).strip()


def rust_duration_seconds(value: str) -> int:
    """`Duration::minutes(15)` and the like, in seconds."""
    found = re.fullmatch(r"Duration::(seconds|minutes|hours|days)\((\d+)\)", value)
    if not found:
        raise AssertionError(f"not a chrono Duration literal: {value}")
    unit = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[found.group(1)]
    return int(found.group(2)) * unit


def top_level_items(text: str) -> list[tuple[str, str, str]]:
    """(kind, name, text) of each top-level `impl`, `fn` and `type` item of a Rust file."""
    pattern = re.compile(
        r"^(?:pub(?:\(crate\))? )?(?:(?:async )?(fn) (\w+)|(impl)(?:<[^>]*>)? (?:\w+ for )?(\w+)|(type) (\w+))",
        re.M)
    matches = list(pattern.finditer(text))
    items = []
    for match, following in zip(matches, matches[1:] + [None]):
        kind = match.group(1) or match.group(3) or match.group(5)
        name = match.group(2) or match.group(4) or match.group(6)
        items.append((kind, name, text[match.start():following.start() if following else len(text)]))
    return items


def settings_variables() -> dict[str, frozenset[str]]:
    """Every settings type and function of settings.rs with the variables it reads, itself or
    through the settings it builds (`TableSettings::from(env)`, `retry_schedule(env)`, a
    `pub type` alias)."""
    direct: dict[str, set[str]] = {}
    uses: dict[str, set[str]] = {}
    items = top_level_items(without_tests((LAMBDA_SRC / "settings.rs").read_text()))
    functions = {name for kind, name, _ in items if kind == "fn"}
    for kind, name, body in items:
        if kind == "type":
            uses.setdefault(name, set()).add(re.search(r"=\s*(\w+)\s*;", body).group(1))
            continue
        read = set(re.findall(r'(?:required|positive)\(\s*env,\s*"([A-Z0-9_]+)"', body))
        read |= set(re.findall(r'env\.var\("([A-Z0-9_]+)"\)', body))
        direct.setdefault(name, set()).update(read)
        called = set(re.findall(r"\b(\w+)::from\(env\)", body))
        called |= {f for f in re.findall(r"\b(\w+)\(env\)", body) if f in functions}
        uses.setdefault(name, set()).update(called - {name})

    def resolve(name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        if name not in direct and name not in uses:
            raise AssertionError(f"settings.rs has no settings named {name}")
        found = set(direct.get(name, ()))
        for used in uses.get(name, ()):
            if used not in seen:
                found |= resolve(used, seen | {name})
        return frozenset(found)

    return {name: resolve(name) for name in set(direct) | set(uses)}


def binary_variables(source: str, settings: dict[str, frozenset[str]]) -> frozenset[str]:
    """The environment variables a Lambda binary reads: its settings struct's, and `RUST_LOG`
    through `init_tracing` (billing_api::telemetry's `init`). The `AWS_*` variables `Aws::from_env`
    reads are Lambda's own, not the template's."""
    read: set[str] = set()
    for name in re.findall(r"\b(\w+)::from\(&ProcessEnv\)", source):
        read |= settings[name]
    if "init_tracing()" in source:
        telemetry = (API_SRC / "telemetry.rs").read_text()
        if 'std::env::var("RUST_LOG")' not in telemetry:
            raise AssertionError("telemetry no longer reads the filter from RUST_LOG: update this reader")
        read.add("RUST_LOG")
    read |= set(re.findall(r'env::var(?:_os)?\("([A-Z0-9_]+)"\)', source))
    return frozenset(read)


def handler_route(handler: str) -> Route:
    """The `#[utoipa::path(method, path = "...")]` of a handler named like
    `routes::card::put_card` (a path from billing_api's root)."""
    *module, function = handler.split("::")
    path = API_SRC.joinpath(*module).with_suffix(".rs")
    text = path.read_text()
    for attribute in re.finditer(r'#\[utoipa::path\(\s*(\w+),\s*path\s*=\s*"([^"]+)"', text):
        follows = re.search(r"pub async fn (\w+)", text[attribute.end():])
        if follows and follows.group(1) == function:
            return attribute.group(1).upper(), attribute.group(2)
    raise AssertionError(f"no #[utoipa::path] on {handler} in {path.relative_to(ROOT)}")


def api_router_routes() -> dict[str, frozenset[Route]]:
    """Each router-building function of billing_api's lib.rs with the routes it mounts, itself
    (`routes!(...)`) or through the functions it calls (`billing_routes().routes(...)`)."""
    text = without_tests((API_SRC / "lib.rs").read_text())
    bodies = {name: body for kind, name, body in top_level_items(text) if kind == "fn"}
    own = {name: {handler_route(h.strip()) for group in re.findall(r"routes!\(([^)]*)\)", body)
                  for h in group.split(",") if h.strip()}
           for name, body in bodies.items()}

    def resolve(name: str, seen: frozenset[str] = frozenset()) -> frozenset[Route]:
        found = set(own[name])
        for called in re.findall(r"\b(\w+)\(", bodies[name]):
            if called in bodies and called != name and called not in seen:
                found |= resolve(called, seen | {name})
        return frozenset(found)

    return {name: resolve(name) for name in bodies}


def page_routes() -> frozenset[Route]:
    """The authorization page's routes (`authorize_router`): HTML for people, served by the
    credits function and documented in no OpenAPI document."""
    text = without_tests((API_SRC / "authorize.rs").read_text())
    body = re.search(r"pub fn authorize_router\b.*?\n}\n", text, re.S)
    if not body:
        raise AssertionError("authorize.rs no longer defines authorize_router")
    routes = {(method.upper(), path)
              for path, handlers in re.findall(r'\.route\(\s*"([^"]+)",\s*([^\n]*)', body.group(0))
              for method in re.findall(r"\b(get|post|put|delete|patch)\(", handlers)}
    if not routes:
        raise AssertionError("authorize_router mounts no route this reader recognises")
    return frozenset(routes)


def binary_kind(source: str) -> str:
    """How Lambda invokes a binary: `http` (API Gateway, lambda_http), `sqs` (an SQS event
    source) or `scheduled` (an asynchronous invocation by EventBridge Scheduler)."""
    if "lambda_http::run" in source:
        return "http"
    if "LambdaEvent<SqsEvent>" in source:
        return "sqs"
    return "scheduled"


def partial_batch_failures(source: str) -> bool:
    """Whether an SQS binary's handler answers which messages failed (`SqsBatchResponse`)."""
    for module, function in re.findall(r"use billing_lambda::(\w+)::(\w+);", source):
        handler = LAMBDA_SRC / f"{module}.rs"
        if handler.exists() and re.search(rf"pub async fn {function}\b[^{{]*->\s*SqsBatchResponse",
                                          handler.read_text()):
            return True
    return False


def handled_webhook_events() -> frozenset[str]:
    """The Stripe event types the webhook acts on (billing-stripe's event parser)."""
    text = without_tests((ROOT / "functions" / "stripe" / "src" / "webhook" / "event.rs").read_text())
    events = {name for _, value in re.findall(r"const (\w+)\s*:[^=]+=([^;]+);", text)
              for name in re.findall(r'"([a-z_]+\.[a-z_.]+)"', value)}
    if not events:
        raise AssertionError("no event type found in functions/stripe/src/webhook/event.rs")
    return frozenset(events)


@dataclass
class Code:
    """What the code expects of its deployment."""
    #: Each Lambda binary (functions/lambda/src/bin) with how it is invoked.
    kinds: dict[str, str]
    #: The environment variables each binary reads.
    variables: dict[str, frozenset[str]]
    #: The routes each HTTP binary serves (its routers and the authorization page).
    routes: dict[str, frozenset[Route]]
    #: The authorization page's routes (no JWT: the signed link is the capability).
    pages: frozenset[Route]
    #: SQS binaries whose handler answers partial batch failures.
    partial_failures: frozenset[str]
    #: Charge jobs the worker runs at once: its whole batch.
    jobs_at_once: int
    #: The monthly charge: day of the month and hour, in UTC (core rules::period).
    charge_day: int
    charge_hour: int
    #: `detail-type` of the scheduled events the planner and the sweep accept.
    scheduled_event: str
    #: How long a purchase may take to settle before the sweep asks Stripe, in seconds.
    settlement_window: int
    #: The table's key attributes, index and TTL attribute (billing-aws).
    keys: dict[str, str]
    expires_attribute: str
    #: The charge worker's defaults for the Stripe rate and how many invocations share it.
    default_requests_per_second: int
    default_concurrency: int
    #: Stripe event types the webhook acts on.
    webhook_events: frozenset[str]
    #: Every variable a test sets and production must not.
    test_only: frozenset[str] = field(default=TEST_ONLY_VARIABLES)


def read_code() -> Code:
    settings = settings_variables()
    routers = api_router_routes()
    pages = page_routes()
    sources = {path.stem: path.read_text() for path in sorted((LAMBDA_SRC / "bin").glob("*.rs"))}
    routes = {}
    for binary, source in sources.items():
        if binary_kind(source) != "http":
            continue
        mounted: set[Route] = set()
        for router in re.findall(r"\b(\w+_router)\(", source):
            if router == "authorize_router":
                mounted |= pages
            elif router in routers:
                mounted |= routers[router]
        routes[binary] = frozenset(mounted)
    keys_rs = ROOT / "functions" / "aws" / "src" / "store" / "keys.rs"
    items_rs = ROOT / "functions" / "aws" / "src" / "store" / "items.rs"
    settings_rs = LAMBDA_SRC / "settings.rs"
    period_rs = ROOT / "core" / "src" / "rules" / "period.rs"
    return Code(
        kinds={binary: binary_kind(source) for binary, source in sources.items()},
        variables={binary: binary_variables(source, settings) for binary, source in sources.items()},
        routes=routes,
        pages=pages,
        partial_failures=frozenset(b for b, s in sources.items()
                                   if binary_kind(s) == "sqs" and partial_batch_failures(s)),
        jobs_at_once=int(rust_const(LAMBDA_SRC / "charge_worker.rs", "JOBS_AT_ONCE")),
        charge_day=int(rust_const(period_rs, "CHARGE_DAY")),
        charge_hour=int(rust_const(period_rs, "CHARGE_HOUR")),
        scheduled_event=rust_const(LAMBDA_SRC / "monthly_charge.rs", "SCHEDULED_EVENT").strip('"'),
        settlement_window=rust_duration_seconds(
            rust_const(ROOT / "core" / "src" / "rules" / "purchase.rs", "SETTLEMENT_WINDOW")),
        keys={name: rust_const(keys_rs, name).strip('"') for name in ("PK", "SK", "GSI1", "GSI1_PK", "GSI1_SK")},
        expires_attribute=rust_const(items_rs, "EXPIRES").strip('"'),
        default_requests_per_second=int(rust_const(settings_rs, "DEFAULT_REQUESTS_PER_SECOND")),
        default_concurrency=int(rust_const(settings_rs, "DEFAULT_CONCURRENCY")),
        webhook_events=handled_webhook_events(),
    )


def product_routes(product_md: str) -> frozenset[Route]:
    """Every `METHOD /path` named in PRODUCT.md's "HTTP API" section (its table, and the
    OpenAPI document's route in the text below it), query strings dropped."""
    section = product_md.split("\n## HTTP API", 1)[1].split("\n## ", 1)[0]
    return frozenset(re.findall(r"`(GET|POST|PUT|DELETE|PATCH) (/[^`?\s]*)", section))


def openapi_routes(document: dict) -> frozenset[Route]:
    return frozenset((method.upper(), path) for path, operations in document["paths"].items()
                     for method in operations if method in HTTP_METHODS)


# --- Reading the template -----------------------------------------------------------------------

def ref(value) -> str | None:
    """The logical id a `!Ref` names."""
    return value.get("!Ref") if isinstance(value, dict) else None


def get_att(value) -> tuple[str, str] | None:
    """(logical id, attribute) of a `!GetAtt`, in either of its forms."""
    if not isinstance(value, dict) or "!GetAtt" not in value:
        return None
    target = value["!GetAtt"]
    return tuple(target.split(".", 1)) if isinstance(target, str) else tuple(target)


def sub_text(value) -> str | None:
    """The text of a plain string or a `!Sub` of one."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("!Sub"), str):
        return value["!Sub"]
    return None


def functions(template: dict) -> dict[str, dict]:
    return {name: resource for name, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"}


def binary_of(function: dict) -> str:
    return function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")


def events(function: dict, kind: str) -> dict[str, dict]:
    return {name: event["Properties"] for name, event in function["Properties"].get("Events", {}).items()
            if event["Type"] == kind}


def http_routes(function: dict) -> list[Route]:
    return [(e["Method"].upper(), e["Path"]) for e in events(function, "HttpApi").values()]


def environment(template: dict, function: dict) -> dict:
    """The function's variables: Globals' and its own."""
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    return {**shared, **function["Properties"].get("Environment", {}).get("Variables", {})}


def timeout(template: dict, function: dict) -> int:
    return function["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"])


def alarms(template: dict) -> list[dict]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]


def alarm_on(template: dict, namespace: str, metric: str, dimension: str, value) -> list[dict]:
    return [a for a in alarms(template)
            if a.get("Namespace") == namespace and a.get("MetricName") == metric
            and {"Name": dimension, "Value": value} in a.get("Dimensions", [])]


# --- Schedule expressions -----------------------------------------------------------------------

MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
WEEKDAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}


def cron_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """The values an EventBridge cron field allows (`*`, `?`, lists, ranges, steps, names).
    `L`, `W` and `#` are refused: extend this parser before using them."""
    bare = text.upper()
    for name in names or {}:
        bare = bare.replace(name, "")
    if re.search(r"[LW#]", bare):
        raise ValueError(f"cron field {text!r}: L, W and # are not supported by this check")
    values: set[int] = set()
    for part in text.split(","):
        part, _, step = part.partition("/")
        if part in ("*", "?"):
            first, last = low, high
        else:
            bounds = [names.get(b.upper(), None) if names and b.upper() in names else int(b)
                      for b in part.split("-")]
            first, last = bounds[0], bounds[-1] if len(bounds) > 1 else (high if step else bounds[0])
        values |= set(range(first, last + 1, int(step) if step else 1))
    if not values <= set(range(low, high + 1)):
        raise ValueError(f"cron field {text!r} out of {low}-{high}")
    return values


def cron_firings(expression: str, zone: str, start: date, end: date) -> list[datetime]:
    """Every instant (UTC) from `start` to `end` at which an EventBridge `cron(...)` in time
    zone `zone` fires."""
    found = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not found:
        raise ValueError(f"not a cron expression: {expression}")
    fields = found.group(1).split()
    if len(fields) != 6:
        raise ValueError(f"EventBridge cron has six fields: {expression}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"exactly one of day-of-month and day-of-week must be '?': {expression}")
    minutes, hours = cron_field(minute, 0, 59), cron_field(hour, 0, 23)
    days, months = cron_field(dom, 1, 31), cron_field(month, 1, 12, MONTHS)
    weekdays, years = cron_field(dow, 1, 7, WEEKDAYS), cron_field(year, 1970, 2199)
    local = ZoneInfo(zone)
    firings = []
    day = start
    while day <= end:
        aws_weekday = (day.weekday() + 1) % 7 + 1  # SUN=1 … SAT=7
        if day.month in months and day.year in years and day.day in days and aws_weekday in weekdays:
            firings.extend(datetime(day.year, day.month, day.day, h, m, tzinfo=local).astimezone(timezone.utc)
                           for h in sorted(hours) for m in sorted(minutes))
        day += timedelta(days=1)
    return firings


def rate_seconds(expression: str) -> int:
    found = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not found:
        raise ValueError(f"not a rate expression: {expression}")
    return int(found.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[found.group(2).rstrip("s")]


# --- The checks -----------------------------------------------------------------------------

def check_binaries(template: dict, code: Code) -> list[str]:
    """One function per binary, each invoked the way its binary expects."""
    problems = []
    built = [binary_of(f) for f in functions(template).values()]
    if sorted(built) != sorted(code.kinds):
        problems.append(f"functions build {sorted(built)}, the binaries are {sorted(code.kinds)}")
    for name, function in functions(template).items():
        kind = code.kinds.get(binary_of(function))
        types = {e["Type"] for e in function["Properties"].get("Events", {}).values()}
        wanted = {"http": {"HttpApi"}, "sqs": {"SQS"}, "scheduled": {"ScheduleV2"}}.get(kind)
        if types != wanted:
            problems.append(f"{name} ({binary_of(function)}, {kind}) has events {sorted(types)}, expected {wanted}")
    return problems


def check_product_routes(template: dict, code: Code, product: frozenset[Route] = PRODUCT_ROUTES) -> list[str]:
    """Every PRODUCT.md route is an event of exactly one function, and no function has a route
    that is neither PRODUCT.md's nor the authorization page's."""
    problems = []
    served: dict[Route, list[str]] = {}
    for name, function in functions(template).items():
        for route in http_routes(function):
            served.setdefault(route, []).append(name)
    for route in sorted(product):
        if len(served.get(route, [])) != 1:
            problems.append(f"{route} is served by {served.get(route, [])}, expected exactly one function")
    for route in sorted(set(served) - product - code.pages):
        problems.append(f"{route} ({served[route]}) is neither in PRODUCT.md nor an authorization page")
    for route in sorted(r for r in code.pages if len(served.get(r, [])) != 1):
        problems.append(f"page {route} is served by {served.get(route, [])}, expected exactly one function")
    return problems


def check_routers(template: dict, code: Code) -> list[str]:
    """Each HTTP function's routes are exactly those of the routers its binary mounts."""
    problems = []
    for name, function in functions(template).items():
        binary = binary_of(function)
        if code.kinds.get(binary) != "http":
            continue
        declared, mounted = set(http_routes(function)), code.routes[binary]
        if declared != mounted:
            problems.append(f"{name} routes {sorted(declared)} but its binary {binary} serves {sorted(mounted)}")
    return problems


def check_document(template: dict, code: Code, documented: frozenset[Route]) -> list[str]:
    """The generated OpenAPI document's routes are exactly the template's, pages aside."""
    declared = {r for f in functions(template).values() for r in http_routes(f)} - code.pages
    problems = [f"{r} is in the template, not in the OpenAPI document" for r in sorted(declared - documented)]
    problems += [f"{r} is in the OpenAPI document, not in the template" for r in sorted(documented - declared)]
    mounted = {r for routes in code.routes.values() for r in routes} - code.pages
    if mounted != documented:
        problems.append(f"the binaries' routers ({sorted(mounted)}) and the document ({sorted(documented)}) differ")
    return problems


def check_auth(template: dict, code: Code) -> list[str]:
    """The JWT authorizer is the API's default, and only the webhook, the OpenAPI document and
    the authorization pages opt out."""
    problems = []
    api = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
    for props in api:
        default = props.get("Auth", {}).get("DefaultAuthorizer")
        if not default or "JwtConfiguration" not in props["Auth"]["Authorizers"].get(default, {}):
            problems.append("the HTTP API's default authorizer is not a JWT authorizer")
    public = {(e["Method"].upper(), e["Path"]) for f in functions(template).values()
              for e in events(f, "HttpApi").values()
              if e.get("Auth", {}).get("Authorizer") == "NONE"}
    if public != PRODUCT_PUBLIC_ROUTES | code.pages:
        problems.append(f"routes without the JWT authorizer: {sorted(public)}, "
                        f"expected {sorted(PRODUCT_PUBLIC_ROUTES | code.pages)}")
    return problems


def scheduled_function(template: dict, binary: str) -> tuple[str, dict, dict]:
    for name, function in functions(template).items():
        if binary_of(function) == binary:
            schedules = list(events(function, "ScheduleV2").values())
            if len(schedules) != 1:
                raise AssertionError(f"{name} has {len(schedules)} schedules, expected one")
            return name, function, schedules[0]
    raise AssertionError(f"no function builds {binary}")


def schedule_input_problems(name: str, schedule: dict, code: Code) -> list[str]:
    """The input must be a scheduled event carrying the scheduled time: the handlers refuse
    any other payload, and the planner charges the month before `time`."""
    text = sub_text(schedule.get("Input"))
    if text is None:
        return [f"{name}'s schedule has no Input"]
    try:
        sent = json.loads(text)
    except ValueError:
        return [f"{name}'s schedule input is not JSON"]
    problems = []
    if sent.get("detail-type") != code.scheduled_event:
        problems.append(f"{name}'s schedule input is not a {code.scheduled_event!r}")
    if sent.get("time") != "<aws.scheduler.scheduled-time>":
        problems.append(f"{name}'s schedule input does not carry the scheduled time")
    return problems


def check_monthly_schedule(template: dict, code: Code) -> list[str]:
    """The planner fires once a month, on the code's charge day and hour in UTC (the code's
    periods are UTC months), and nothing else."""
    name, function, schedule = scheduled_function(template, "monthly-charge")
    zone = schedule.get("ScheduleExpressionTimezone", "UTC")
    try:
        fired = cron_firings(schedule["ScheduleExpression"], zone, date(2027, 1, 1), date(2030, 12, 31))
    except ValueError as error:
        return [f"{name}: {error}"]
    expected = [datetime(y, m, code.charge_day, code.charge_hour, tzinfo=timezone.utc)
                for y in range(2027, 2031) for m in range(1, 13)]
    problems = []
    if fired != expected:
        wrong = sorted(set(fired) ^ set(expected))[:3]
        problems.append(f"{name} fires at {schedule['ScheduleExpression']} in {zone}, not at "
                        f"{code.charge_hour:02}:00 UTC on day {code.charge_day} of each month (e.g. {wrong})")
    if function["Properties"].get("Timeout") != 900:
        problems.append(f"{name} must have Lambda's whole 15 minutes to plan 1,000,000 accounts")
    return problems + schedule_input_problems(name, schedule, code)


def check_sweep_schedule(template: dict, code: Code) -> list[str]:
    """The sweep runs often enough that a purchase past its settlement window is resolved
    within one more window (and a retry due from 00:00 UTC is sent the same day), and one run
    never overlaps or trails the next."""
    name, function, schedule = scheduled_function(template, "sweep")
    try:
        every = rate_seconds(schedule["ScheduleExpression"])
    except ValueError as error:
        return [f"{name}: {error}"]
    problems = []
    if every > code.settlement_window:
        problems.append(f"{name} runs every {every} s, longer than the {code.settlement_window} s settlement window")
    if timeout(template, function) >= every:
        problems.append(f"{name}'s timeout is not under its {every} s period: runs would overlap")
    for where, age in (("EventInvokeConfig", function["Properties"].get("EventInvokeConfig", {})
                        .get("MaximumEventAgeInSeconds")),
                       ("RetryPolicy", schedule.get("RetryPolicy", {}).get("MaximumEventAgeInSeconds"))):
        if age is None or age > every:
            problems.append(f"{name}'s {where} keeps an event {age} s: a late run would trail the next")
    return problems + schedule_input_problems(name, schedule, code)


def check_environment(template: dict, code: Code) -> list[str]:
    """Each function is given exactly the variables its binary reads (none a test alone sets),
    and a variable has the same value in every function."""
    problems = []
    values: dict[str, list] = {}
    for name, function in functions(template).items():
        given = environment(template, function)
        read = code.variables.get(binary_of(function), frozenset())
        wanted = read - code.test_only
        if set(given) != wanted:
            problems.append(f"{name} is given {sorted(set(given) - wanted)} it does not read and lacks "
                            f"{sorted(wanted - set(given))} it reads")
        for variable, value in given.items():
            if value not in values.setdefault(variable, []):
                values[variable].append(value)
    problems += [f"{variable} differs between functions: {found}" for variable, found in values.items()
                 if len(found) > 1]
    return problems


def check_queues(template: dict, code: Code) -> list[str]:
    """Each SQS event source reads the queue its producers write to; batch sizes and partial
    batch failures are what the handlers expect; a batch is never visible twice at once."""
    problems = []
    resources = template["Resources"]
    consumers: dict[str, list[str]] = {}
    for name, function in functions(template).items():
        binary = binary_of(function)
        for event in events(function, "SQS").values():
            queue, attribute = get_att(event["Queue"]) or (None, None)
            if attribute != "Arn" or resources.get(queue, {}).get("Type") != "AWS::SQS::Queue":
                problems.append(f"{name}'s SQS event reads {event['Queue']}, not a queue of this stack")
                continue
            consumers.setdefault(queue, []).append(binary)
            reports = "ReportBatchItemFailures" in event.get("FunctionResponseTypes", [])
            if reports != (binary in code.partial_failures):
                problems.append(f"{name}: ReportBatchItemFailures is {reports}, its handler "
                                f"{'answers' if binary in code.partial_failures else 'does not answer'} partial failures")
            if binary == "charge-worker" and event.get("BatchSize") != code.jobs_at_once:
                problems.append(f"{name} takes batches of {event.get('BatchSize')}, it runs {code.jobs_at_once} jobs at once")
            window = event.get("MaximumBatchingWindowInSeconds", 0)
            if event.get("BatchSize", 10) > 10 and window < 1:
                problems.append(f"{name}: a batch over 10 needs a batching window")
            visibility = resources[queue]["Properties"].get("VisibilityTimeout", 30)
            if visibility < 6 * timeout(template, function) + window:
                problems.append(f"{queue}'s visibility timeout {visibility} s is under six times {name}'s timeout"
                                " plus its batching window")
            if "RedrivePolicy" not in resources[queue]["Properties"]:
                problems.append(f"{queue} has no dead-letter queue")
    for variable, consumer in QUEUE_VARIABLE_CONSUMERS.items():
        for name, function in functions(template).items():
            queue = ref(environment(template, function).get(variable))
            if variable not in environment(template, function):
                continue
            if consumers.get(queue) != [consumer]:
                problems.append(f"{name}'s {variable} names {queue}, read by {consumers.get(queue)}, not by {consumer}")
            sends = [s["Resource"] for p in function["Properties"].get("Policies", []) if isinstance(p, dict)
                     for s in p.get("Statement", [])
                     if "sqs:SendMessage" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
            if sends != [{"!GetAtt": f"{queue}.Arn"}]:
                problems.append(f"{name} may send to {sends}, expected only {queue}")
    for output, consumer in EXTERNAL_QUEUE_OUTPUTS.items():
        queue = ref(template["Outputs"].get(output, {}).get("Value"))
        if consumers.get(queue) != [consumer]:
            problems.append(f"output {output} names {queue}, read by {consumers.get(queue)}, not by {consumer}")
    return problems


def check_stripe_rate(template: dict, code: Code) -> list[str]:
    """Functions that reach Stripe from a queue or a schedule (in bulk) have a reserved
    concurrency; the charge workers share the rate exactly as many ways as can run."""
    problems = []
    parameters = template["Parameters"]
    for name, function in functions(template).items():
        binary = binary_of(function)
        props = function["Properties"]
        bulk = code.kinds.get(binary) != "http" and "STRIPE_SECRET_PARAMETER" in code.variables.get(binary, ())
        if bulk and "ReservedConcurrentExecutions" not in props:
            problems.append(f"{name} reaches Stripe in bulk without a reserved concurrency")
        if "STRIPE_REQUESTS_PER_SECOND" not in code.variables.get(binary, ()):
            continue
        variables = environment(template, function)
        shares = {ref(props.get("ReservedConcurrentExecutions")), ref(variables.get("CHARGE_WORKER_CONCURRENCY"))}
        shares |= {ref(e.get("ScalingConfig", {}).get("MaximumConcurrency")) for e in events(function, "SQS").values()}
        if len(shares) != 1 or None in shares:
            problems.append(f"{name}: reserved concurrency, MaximumConcurrency and CHARGE_WORKER_CONCURRENCY "
                            f"must be one parameter, are {shares}")
        rate = parameters.get(ref(variables.get("STRIPE_REQUESTS_PER_SECOND")), {})
        concurrency = parameters.get(next(iter(shares)) or "", {})
        if rate.get("Default") != code.default_requests_per_second:
            problems.append(f"the Stripe rate's default {rate.get('Default')} is not the code's "
                            f"{code.default_requests_per_second}")
        if not rate.get("Default", STRIPE_LIVE_LIMIT_PER_SECOND) < STRIPE_LIVE_LIMIT_PER_SECOND:
            problems.append(f"the Stripe rate's default leaves no room under Stripe's {STRIPE_LIVE_LIMIT_PER_SECOND}/s")
        if concurrency.get("Default") != code.default_concurrency:
            problems.append(f"the worker concurrency's default {concurrency.get('Default')} is not the code's "
                            f"{code.default_concurrency}")
        if concurrency.get("MinValue", 0) < 2:
            problems.append("an SQS event source's MaximumConcurrency is at least 2")
    return problems


ALARM_ACTIONS = {"!If": ["HasAlarmTopic", [{"!Ref": "AlarmTopicArn"}], {"!Ref": "AWS::NoValue"}]}


def dead_letter_queues(template: dict) -> set[str]:
    """Every queue failures end in: redrive targets, asynchronous invocations' OnFailure
    destinations and Scheduler's dead-letter queues."""
    found = set()
    for resource in template["Resources"].values():
        redrive = resource["Properties"].get("RedrivePolicy", {}) if resource["Type"] == "AWS::SQS::Queue" else {}
        if redrive:
            found.add(get_att(redrive["deadLetterTargetArn"])[0])
    for function in functions(template).values():
        destination = function["Properties"].get("EventInvokeConfig", {}).get("DestinationConfig", {})
        if "OnFailure" in destination:
            found.add(get_att(destination["OnFailure"]["Destination"])[0])
        for schedule in events(function, "ScheduleV2").values():
            if "DeadLetterConfig" in schedule:
                found.add(get_att(schedule["DeadLetterConfig"]["Arn"])[0])
    return found


def check_operations(template: dict) -> list[str]:
    """Every function has its log retention and an alarm on errors and on throttles; every
    dead-letter queue an alarm on its depth; every queue an alarm on its age; every
    asynchronous invocation somewhere to fail to; and every alarm notifies the alarm topic."""
    problems = []
    resources = template["Resources"]
    for name, function in functions(template).items():
        groups = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"
                  and r["Properties"].get("LogGroupName") == {"!Sub": f"/aws/lambda/${{{name}}}"}]
        if len(groups) != 1 or not groups[0].get("RetentionInDays"):
            problems.append(f"{name} has no log group with a retention")
        for metric in ("Errors", "Throttles"):
            if not alarm_on(template, "AWS/Lambda", metric, "FunctionName", {"!Ref": name}):
                problems.append(f"{name} has no alarm on {metric}")
        if events(function, "ScheduleV2"):
            invoke = function["Properties"].get("EventInvokeConfig", {})
            if "OnFailure" not in invoke.get("DestinationConfig", {}):
                problems.append(f"{name} is invoked asynchronously with no OnFailure destination")
            if any("DeadLetterConfig" not in s for s in events(function, "ScheduleV2").values()):
                problems.append(f"{name}'s schedule has no dead-letter queue")
        for event in events(function, "SQS").values():
            queue = get_att(event["Queue"])[0]
            retention = resources[queue]["Properties"].get("MessageRetentionPeriod", 345600)
            aged = alarm_on(template, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName",
                            {"!GetAtt": f"{queue}.QueueName"})
            if not aged or aged[0]["Threshold"] >= retention:
                problems.append(f"{queue} has no alarm on its oldest message well before its retention")
    for queue in sorted(dead_letter_queues(template)):
        deep = alarm_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                        {"!GetAtt": f"{queue}.QueueName"})
        if not any(a["Threshold"] == 0 and a["ComparisonOperator"] == "GreaterThanThreshold" for a in deep):
            problems.append(f"dead-letter queue {queue} has no alarm on its first message")
    for alarm in alarms(template):
        if alarm.get("AlarmActions") != ALARM_ACTIONS:
            problems.append(f"alarm on {alarm.get('MetricName')} does not notify AlarmTopicArn")
    return problems


def check_table(template: dict, code: Code) -> list[str]:
    """The table's keys and index are the adapter's, expired records are deleted by TTL on the
    attribute it writes, and point-in-time recovery is on."""
    tables = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    if len(tables) != 1:
        return [f"{len(tables)} tables, expected one"]
    table, keys, problems = tables[0], code.keys, []
    if [k["AttributeName"] for k in table["KeySchema"]] != [keys["PK"], keys["SK"]]:
        problems.append(f"the table's key is not ({keys['PK']}, {keys['SK']})")
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table.get("GlobalSecondaryIndexes", [])}
    if indexes.get(keys["GSI1"]) != [keys["GSI1_PK"], keys["GSI1_SK"]]:
        problems.append(f"index {keys['GSI1']} is not ({keys['GSI1_PK']}, {keys['GSI1_SK']})")
    ttl = table.get("TimeToLiveSpecification", {})
    if ttl != {"AttributeName": code.expires_attribute, "Enabled": True}:
        problems.append(f"TTL is {ttl}, the adapter writes expiry to {code.expires_attribute!r}")
    if table.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
        problems.append("point-in-time recovery is off")
    return problems


def check_readme(template: dict, code: Code, readme: str) -> list[str]:
    """README's "Deploying" names every parameter, every secret's SSM name, every output, the
    webhook's path and every event type the webhook acts on."""
    section = readme.split("\n## Deploying", 1)
    if len(section) != 2:
        return ["README has no Deploying section"]
    deploying = section[1].split("\n## ", 1)[0]
    problems = [f"Deploying does not name parameter {p}" for p in template["Parameters"] if f"`{p}`" not in deploying]
    problems += [f"Deploying does not name output {o}" for o in template["Outputs"] if f"`{o}`" not in deploying]
    problems += [f"Deploying does not name SSM parameter {p['Default']}" for n, p in template["Parameters"].items()
                 if n.endswith("ParameterName") and f"`{p['Default']}`" not in deploying]
    problems += [f"Deploying does not list webhook event {e}" for e in sorted(code.webhook_events)
                 if f"`{e}`" not in deploying]
    webhooks = [path for f in functions(template).values() if binary_of(f) == "webhook" for _, path in http_routes(f)]
    url = sub_text(template["Outputs"].get("StripeWebhookUrl", {}).get("Value")) or ""
    if len(webhooks) != 1 or not url.endswith(webhooks[0]) or f"`{webhooks[0]}`" not in deploying:
        problems.append(f"the webhook's path {webhooks} is not the StripeWebhookUrl output's ({url}) or not in Deploying")
    return problems


def mutated(template: dict, change) -> dict:
    """A deep copy of `template` with `change` applied to it."""
    copied = copy.deepcopy(template)
    change(copied)
    return copied
