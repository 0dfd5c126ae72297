"""Django's HTTP requests under ASGI, each in one trip to a worker thread.

Every view and middleware of the service is synchronous. Django's own ASGI handler runs such
a request in many steps: each `MiddlewareMixin` hook and each signal goes through
`sync_to_async` on its own (15 trips to a thread for a `/health`), every request starts a
thread of its own (`ThreadSensitiveContext`), and a client that goes away mid-request has the
request's task cancelled and its body closed under the view still reading it (an "I/O
operation on closed file" 500, with a traceback, for a request nobody waits for).

Here the request runs as a WSGI server would run it: `request_started`, the middleware chain
built for sync use, the view, and (for a response that is not streamed) the closing that sends
`request_finished`, all in one call on a pooled thread, which then frees what the request built
(`request_cycles`). The event loop reads the body before and sends the response after; a
client that leaves meanwhile is simply not answered.

A request received whole may wait for a free thread, and under load most of its time can go
there: the moment it was received travels in its scope (`RECEIVED_AT`), so that its measured
duration starts then, not when a thread took it up.
"""

import time

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from episode_metadata.common import request_cycles

# The scope key of `time.perf_counter()` when the request was received whole.
RECEIVED_AT = "episodes.received_at"


class SyncRequestHandler(ASGIHandler):
    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        scope = {**scope, RECEIVED_AT: time.perf_counter()}
        try:
            response = await sync_to_async(self._respond, thread_sensitive=False)(scope, body_file)
        except BaseException:
            body_file.close()
            raise
        if not response.streaming:
            await self.send_response(response, send)
            return
        try:
            await self.send_response(response, send)
        finally:
            await sync_to_async(_finish, thread_sensitive=False)(response, body_file)

    def _respond(self, scope: dict, body_file) -> HttpResponseBase:
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        # A request, or the response refusing its body: left as a pair, since unpacked the
        # two would each read as possibly None.
        created = self.create_request(scope, body_file)
        if created[0] is not None:
            response = self.get_response(created[0])
            # As Django's handlers mark it; the stubs leave the attribute out.
            response._handler_class = self.__class__  # type: ignore[attr-defined]
            if isinstance(response, FileResponse):
                # The server chunks what it sends; bigger reads mean fewer trips.
                response.block_size = self.chunk_size
        else:
            response = created[1]
        if not response.streaming:
            _finish(response, body_file)
            if created[0] is not None:
                request_cycles.break_cycles(created[0], response)
        return response


def _finish(response: HttpResponseBase, body_file) -> None:
    """Close the response (which sends `request_finished`, and returns the database
    connection) and the request's body."""
    try:
        response.close()
    finally:
        body_file.close()
