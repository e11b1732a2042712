"""moto_server for the tests, with the one guarantee of DynamoDB's that moto lacks.

DynamoDB applies a conditional write atomically: of two writes conditioned on the same item
state, one fails. moto's server is threaded and checks a condition, then writes, without a lock,
so under concurrent requests two conditional writes can both succeed (seen with eight
concurrent `attribute_not_exists` creators). Every claim and lease in this system rests on that
guarantee, so this launcher serves moto's own application one request at a time. It is the
same server `moto_server` runs (same app, same request handler), bound to 127.0.0.1.

Usage: python moto_server.py --port PORT
"""

import argparse
import os
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def one_at_a_time(app):
    """Runs each request, body included, while holding one lock."""
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return serialized


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # moto builds URLs it hands out (SQS queue URLs) from this, as its own launcher sets it.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    # Connections are still served on threads (the SDK keeps several open); only the
    # processing of requests is serialised.
    run_simple(
        "127.0.0.1",
        args.port,
        one_at_a_time(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
