"""moto_server for the tests, with the one guarantee of DynamoDB's that moto lacks.

DynamoDB applies a conditional write atomically: of two writes conditioned on the same item
state, one fails. moto's server is threaded and checks a condition, then writes, without a lock,
so under concurrent requests two conditional writes can both succeed (seen with eight
concurrent `attribute_not_exists` creators). Every claim and lease in this system rests on that
guarantee, so this launcher serves moto's own application one request at a time. It is the
same server `moto_server` runs (same app, same request handler), bound to 127.0.0.1.

It also makes moto's TransactWriteItems cost what the transaction touches, not the table: moto
deep-copies every table a transaction names, to restore it if the transaction is cancelled, so
each transaction costs time in proportion to the table and a run over 2,000 accounts slowed
to a crawl (issue 13, "Faults"). This launcher copies only the items the transaction names and
puts exactly those back when it is cancelled; moto's own rollback is then a no-op. And SQS's
ReceiveMessage reads the queue's retention period as an attribute: moto computed every
attribute of the queue (each a pass over all its messages) three times per message received,
so draining a queue of n messages cost n³.

Usage: python moto_server.py --port PORT
"""

import argparse
import copy
import logging
import os
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple
import moto.dynamodb.models as dynamodb_models
from moto.core.utils import unix_time
from moto.dynamodb.models.table import Table
from moto.sqs.models import SQSBackend


def one_at_a_time(app):
    """Runs each request, body included, while holding one lock."""
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return serialized


class _TablesKept:
    """`copy` as moto's DynamoDB backend module sees it: a table without a stream is not
    copied (its transaction's items are, by `rolled_back_by_item`); anything else is."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table) and value.stream_shard is None:
            return value
        return copy.deepcopy(value, memo)


def rolled_back_by_item(transact_write_items):
    """moto's TransactWriteItems, undoing a cancelled transaction item by item."""

    def transact(backend, transact_items):
        before = []  # (table name, hash key, range key, the item before or None)
        for entry in transact_items:
            for op_type, op in entry.items():
                table = backend.tables.get(op.get("TableName"))
                if table is None:
                    continue  # moto answers ResourceNotFound before writing anything
                key = op.get("Key")
                if op_type == "Put":
                    key = {
                        name: op["Item"][name]
                        for name in (table.hash_key_attr, table.range_key_attr)
                        if name is not None and name in op["Item"]
                    }
                try:
                    hash_key, range_key = backend.get_keys_value(table, key or {})
                    item = table.get_item(hash_key, range_key)
                except Exception:
                    continue  # a malformed key: moto refuses it before writing the item
                before.append((table.name, hash_key, range_key, copy.deepcopy(item)))
        try:
            return transact_write_items(backend, transact_items)
        except BaseException:
            # The earliest copy of an item wins: restore in reverse order.
            for name, hash_key, range_key, item in reversed(before):
                table = backend.tables[name]
                if range_key is None:
                    if item is None:
                        table.items.pop(hash_key, None)
                    else:
                        table.items[hash_key] = item
                else:
                    if item is None:
                        table.items[hash_key].pop(range_key, None)
                        if not table.items[hash_key]:
                            del table.items[hash_key]
                    else:
                        table.items[hash_key][range_key] = item
            raise

    return transact


def retained(backend, queue_name, message):
    """moto's retention check on a received message, with the period read as an attribute."""
    queue = backend.get_queue(queue_name)
    return queue.message_retention_period + message.sent_timestamp / 1000 > unix_time()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # moto builds URLs it hands out (SQS queue URLs) from this, as its own launcher sets it.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # No access-log line per request: over the fault runs' tens of thousands of requests
    # writing them cost a tenth of moto's time. Errors are still logged.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    dynamodb_models.copy = _TablesKept
    backend = dynamodb_models.DynamoDBBackend
    backend.transact_write_items = rolled_back_by_item(backend.transact_write_items)
    SQSBackend.is_message_valid_based_on_retention_period = retained
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
