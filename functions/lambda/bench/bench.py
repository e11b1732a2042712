#!/usr/bin/env python3
"""Footprint of each Lambda binary: stripped size, and time from process start to the first
Runtime API poll with the Stripe key read from SSM over TLS.

Two stand-ins on 127.0.0.1, both standard library only:
- the Lambda Runtime API: the time a start ends is when `GET /2018-06-01/runtime/invocation/next`
  arrives (the function has finished its init and asks for work);
- SSM over HTTPS with a self-signed certificate: answers `AmazonSSM.GetParameters`. The binary
  trusts it through `SSL_CERT_FILE`, a bundle of the system's CA certificates plus this one, so
  it loads a full root store as it does on Lambda (one bundle file on Amazon Linux 2023).

Each start must make exactly one signed GetParameters call before it polls, or the run fails:
a binary that skipped its init would otherwise look fast.

So that a figure says how much of it is the bench's: the floor, a binary that polls as soon as it
starts (floor.rs, built with rustc), is measured first; each start also records the time the
SSM stand-in spent on its TLS handshake and answer, and the CPU time the process used up to its
poll, which moves far less with the load of a shared machine than the wall time does.

Usage: bench.py --bin-dir target/release [--starts 50] [--json out.json] [--no-floor] [FUNCTION...]
"""

from __future__ import annotations

import argparse
import datetime
import http.server
import json
import os
import platform
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN_SOURCES = HERE.parent / "src" / "bin"
SECRET_PARAMETER = "/billing/stripe/secret-key"
# Every SecureString a function reads at cold start, and what the stand-in answers for it.
PARAMETERS = {
    SECRET_PARAMETER: "sk_test_bench",
    "/billing/links/secret": "bench-link-secret-of-at-least-32-bytes",
    "/billing/stripe/webhook-secret": "whsec_bench",
}
# Each function's own variables, as the template sets them (TABLE_NAME and RUST_LOG are
# everyone's).
FUNCTION_VARIABLES = {
    "cards": {"STRIPE_SECRET_PARAMETER": SECRET_PARAMETER, "SENDER_EMAIL": "billing@example.com",
              "LINK_SECRET_PARAMETER": "/billing/links/secret", "PUBLIC_BASE_URL": "https://billing.example.com"},
    "usage": {},
    "credits": {"STRIPE_SECRET_PARAMETER": SECRET_PARAMETER, "SENDER_EMAIL": "billing@example.com",
                "LINK_SECRET_PARAMETER": "/billing/links/secret",
                "PUBLIC_BASE_URL": "https://billing.example.com", "STRIPE_PUBLISHABLE_KEY": "pk_test_bench"},
    "webhook": {"STRIPE_SECRET_PARAMETER": SECRET_PARAMETER, "SENDER_EMAIL": "billing@example.com",
                "STRIPE_WEBHOOK_SECRET_PARAMETER": "/billing/stripe/webhook-secret",
                "LINK_SECRET_PARAMETER": "/billing/links/secret", "PUBLIC_BASE_URL": "https://billing.example.com"},
    "account": {"STRIPE_SECRET_PARAMETER": SECRET_PARAMETER, "SENDER_EMAIL": "billing@example.com",
                "LINK_SECRET_PARAMETER": "/billing/links/secret", "PUBLIC_BASE_URL": "https://billing.example.com"},
    "sweep": {"STRIPE_SECRET_PARAMETER": SECRET_PARAMETER, "SENDER_EMAIL": "billing@example.com",
              "CHARGE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/billing-charge"},
    "monthly-charge": {"CHARGE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/billing-charge"},
    "charge-worker": {"STRIPE_SECRET_PARAMETER": SECRET_PARAMETER, "SENDER_EMAIL": "billing@example.com",
                      "LINK_SECRET_PARAMETER": "/billing/links/secret",
                      "PUBLIC_BASE_URL": "https://billing.example.com", "STRIPE_REQUESTS_PER_SECOND": "80",
                      "CHARGE_WORKER_CONCURRENCY": "4", "PAYMENT_RETRY_DAYS": "3,5,7"},
}
POLL_PATH = "/2018-06-01/runtime/invocation/next"
# The bench's own floor (floor.rs): measured first, named so it cannot clash with a function.
FLOOR = "(floor)"
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    """A threaded HTTP server whose connections send each write at once (TCP_NODELAY).

    Without it a reply waits for the client's ACK of the server's previous segment (Nagle), and
    Linux delays that ACK by 40 ms when the client has nothing to send: against the TLS
    stand-in that added about 40 ms to every start (the reply waited behind the TLS 1.3 session
    tickets Python sends after the handshake), a cost of this stand-in, not of the binary or of
    SSM's servers.
    """

    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = self.socket.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class RuntimeApi(Server):
    """Records when each start first polls for an invocation; never hands one out."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)
        self.polled = threading.Event()
        self.polled_at = 0

    def arm(self) -> None:
        self.polled.clear()
        self.polled_at = 0


class RuntimeApiHandler(Quiet):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == POLL_PATH and not self.server.polled.is_set():
            self.server.polled_at = time.perf_counter_ns()
            self.server.polled.set()
        # The bench stops the process now; the connection is simply closed.
        self.close_connection = True


class Ssm(Server):
    """Answers GetParameters for the functions' SecureStrings over TLS and counts the calls."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), SsmHandler)
        self.context = context
        self.calls = 0
        # Time this stand-in spends on the TLS handshake and answering, its share of a start.
        self.busy_ns = 0
        self.lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, object]:
        # TLS on the accepted connection, once it has TCP_NODELAY (the handshake and the
        # session tickets are sent here, in the accepting thread).
        connection, address = super().get_request()
        started = time.perf_counter_ns()
        connection = self.context.wrap_socket(connection, server_side=True)
        self.spent(started)
        return connection, address

    def spent(self, started: int) -> None:
        with self.lock:
            self.busy_ns += time.perf_counter_ns() - started


class SsmHandler(Quiet):
    def do_POST(self) -> None:  # noqa: N802
        started = time.perf_counter_ns()
        try:
            self.get_parameters()
        finally:
            self.server.spent(started)

    def get_parameters(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        signed = self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ")
        target = self.headers.get("X-Amz-Target")
        names = body.get("Names") or []
        if target != "AmazonSSM.GetParameters" or not signed or not names or set(names) - set(PARAMETERS):
            self.answer(400, {"__type": "ValidationException", "message": f"unexpected {target} {body}"})
            return
        with self.server.lock:
            self.server.calls += 1
        self.answer(200, {"InvalidParameters": [], "Parameters": [{
            "Name": name, "Type": "SecureString", "Value": PARAMETERS[name], "Version": 1,
            "DataType": "text", "LastModifiedDate": 1.7e9,
            "ARN": f"arn:aws:ssm:us-east-1:123456789012:parameter{name}",
        } for name in names]})

    def answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made with the openssl command line tool."""
    cert, key = folder / "ssm.pem", folder / "ssm.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=ssm stand-in",
         "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"],
        check=True, capture_output=True,
    )
    return cert, key


def trust_bundle(folder: Path, cert: Path) -> Path:
    """The system CA bundle with the stand-in's certificate appended."""
    system = next((Path(p) for p in SYSTEM_BUNDLES if Path(p).is_file()), None)
    if system is None:
        sys.exit(f"no system CA bundle found at {SYSTEM_BUNDLES}: install ca-certificates")
    bundle = folder / "bundle.pem"
    bundle.write_bytes(system.read_bytes() + b"\n" + cert.read_bytes())
    return bundle


def lambda_environment(function: str, runtime_port: int, ssm_port: int, bundle: Path, root: Path) -> dict:
    """What Lambda's provided.al2023 runtime and our template give a function, and no more."""
    return {
        "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(root),
        "LAMBDA_RUNTIME_DIR": str(root),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH1",
        "AWS_SECRET_ACCESS_KEY": "bench-secret-access-key",
        "AWS_SESSION_TOKEN": "bench-session-token",
        "AWS_ENDPOINT_URL": f"https://127.0.0.1:{ssm_port}",
        "SSL_CERT_FILE": str(bundle),
        "RUST_LOG": "info",
        "TABLE_NAME": "billing-bench",
        **FUNCTION_VARIABLES.get(function, {}),
    }


def stripped_size(binary: Path, folder: Path) -> int:
    copy = folder / f"{binary.name}.stripped"
    subprocess.run(["strip", "-o", str(copy), str(binary)], check=True)
    return copy.stat().st_size


def one_start(function: str, binary: Path, env: dict, runtime: RuntimeApi, ssm: Ssm,
              log: Path) -> tuple[float, float, float]:
    """Milliseconds from spawning `function`'s binary to its first poll, how many of them the
    SSM stand-in spent on the TLS handshake and its answer, and the CPU milliseconds (user and
    system) the process used."""
    runtime.arm()
    calls_before, busy_before = ssm.calls, ssm.busy_ns
    with open(log, "wb") as out:
        started = time.perf_counter_ns()
        # No cwd and no fd closing, so Python can spawn without the cost of a full fork (our
        # sockets are not inheritable anyway); the binary does not depend on its folder.
        process = subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   close_fds=False)
        polled = runtime.polled.wait(timeout=10)
        # Killed and reaped here, not through Popen (which may reap a process that has already
        # exited on its own): the CPU time the process used (it idles once it has polled)
        # barely moves with the machine's load, unlike the wall time.
        os.kill(process.pid, signal.SIGKILL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = status
    if not polled:
        sys.exit(f"{function} never polled the Runtime API; its output:\n{log.read_text()[-4000:]}")
    # One call for a function that reads secrets (all of them at once), none for one without.
    expected = 1 if any(n.endswith("_PARAMETER") for n in FUNCTION_VARIABLES.get(function, {})) else 0
    if ssm.calls != calls_before + expected:
        sys.exit(f"{function} made {ssm.calls - calls_before} GetParameters calls before polling, not {expected}")
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1e3
    return (runtime.polled_at - started) / 1e6, (ssm.busy_ns - busy_before) / 1e6, cpu_ms


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", type=Path, required=True, help="folder of the release binaries")
    parser.add_argument("--starts", type=int, default=50, help="measured starts per function")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured starts first (page cache)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor (it needs rustc)")
    parser.add_argument("functions", nargs="*", help="binaries to measure (default: every one in src/bin)")
    args = parser.parse_args()
    functions = args.functions or sorted(p.stem for p in BIN_SOURCES.glob("*.rs"))
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="bench-lambda-") as tmp:
        folder = Path(tmp)
        cert, key = self_signed_certificate(folder)
        bundle = trust_bundle(folder, cert)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        runtime, ssm = RuntimeApi(), Ssm(context)
        for server in (runtime, ssm):
            threading.Thread(target=server.serve_forever, daemon=True).start()

        binaries = [] if args.no_floor else [(FLOOR, floor_binary(folder))]
        for function in functions:
            binary = args.bin_dir / function
            if not binary.is_file():
                sys.exit(f"{binary} is missing: build with cargo build --release -p billing-lambda")
            binaries.append((function, binary))

        results = []
        for function, binary in binaries:
            root = folder / function
            root.mkdir()
            shutil.copy2(binary, root / "bootstrap")
            env = lambda_environment(function, runtime.server_address[1], ssm.server_address[1], bundle, root)
            log = folder / f"{function}.log"
            for _ in range(args.warmup):
                one_start(function, root / "bootstrap", env, runtime, ssm, log)
            starts = [one_start(function, root / "bootstrap", env, runtime, ssm, log) for _ in range(args.starts)]
            times = [total for total, _, _ in starts]
            results.append({
                "function": function,
                "stripped_bytes": stripped_size(binary, folder),
                "starts": len(times),
                "median_ms": round(statistics.median(times), 2),
                "p90_ms": round(percentile(times, 0.9), 2),
                "min_ms": round(min(times), 2),
                "max_ms": round(max(times), 2),
                "ssm_stand_in_median_ms": round(statistics.median(ssm_ms for _, ssm_ms, _ in starts), 2),
                "cpu_median_ms": round(statistics.median(cpu_ms for _, _, cpu_ms in starts), 2),
            })
        for server in (runtime, ssm):
            server.shutdown()

    load = os.getloadavg()
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load],
        "results": results,
    }
    print(f"{report['date']}; {report['machine']}; load average (1, 5, 15 min) before "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'function':<15} {'stripped':>10} {'starts':>6} {'median':>9} {'p90':>9} {'min':>9} {'max':>9}"
          f" {'SSM stand-in':>13} {'CPU':>9}")
    for r in results:
        print(f"{r['function']:<15} {r['stripped_bytes'] / 1e6:>8.2f}MB {r['starts']:>6} "
              f"{r['median_ms']:>7.2f}ms {r['p90_ms']:>7.2f}ms {r['min_ms']:>7.2f}ms {r['max_ms']:>7.2f}ms"
              f" {r['ssm_stand_in_median_ms']:>11.2f}ms {r['cpu_median_ms']:>7.2f}ms")
    print("SSM stand-in: the median time the Python stand-in spent on the TLS handshake and its answer,"
          " included in the start; CPU: the median CPU time (user + system) of the process up to its poll;"
          f" {FLOOR}: a binary that polls as soon as it starts (floor.rs).")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def floor_binary(folder: Path) -> Path:
    """floor.rs, built with rustc -O like a release binary (std only)."""
    binary = folder / "floor"
    subprocess.run(["rustc", "-O", "--edition", "2024", "-C", "strip=symbols", str(HERE / "floor.rs"),
                    "-o", str(binary)], check=True)
    return binary


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
