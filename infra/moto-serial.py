"""moto server, applying one request at a time.

usage: moto-serial.py HOST PORT

DynamoDB makes every conditional write and transaction atomic: of two concurrent writes
conditional on the same item, one fails. moto's server handles requests on many threads
without a lock around its backends, so two concurrent conditional writes can both pass their
condition; the store contract's race checks (one winner among concurrent refresh rotations,
assertion uses, failure counts) would then test moto, not tokenmint. This runs moto's own
application behind a lock around each request: connections are still served concurrently,
each request is applied whole before the next, as DynamoDB applies each write atomically.
"""
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class OneAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # The body is produced inside the lock: moto may do its work lazily.
            return list(self.app(environ, start_response))


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, OneAtATime(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
