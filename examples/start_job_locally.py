"""Start a batch job end to end against a throwaway NetServer stand-in on loopback.

The stand-in behaves like a stock WCF ``BasicHttpBinding`` endpoint: it refuses SOAP 1.2
with HTTP 415 and answers a SOAP 1.1 StartBatchJob with a new job id. It checks the ticket
and that the task name arrived. It is not the simulator (a later release brings one); it
shows the client negotiating, sending and parsing over real HTTP, with no tenant needed.

    python examples/start_job_locally.py
"""

from __future__ import annotations

import http.server
import itertools
import logging
import socket
import threading

from lxml import etree

from superoffice_batch import BatchClient, BatchTaskInfo

TICKET = "7T:ExampleTicketForLoopbackOnly=="
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
REPLY = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<s:Envelope xmlns:s="{SOAP11}"><s:Body>'
    f'<StartBatchJobResponse xmlns="{TNS}"><Response>{{job_id}}</Response></StartBatchJobResponse>'
    "</s:Body></s:Envelope>"
)


class StandIn(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    job_ids = itertools.count(1001)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not self.headers["Content-Type"].startswith("text/xml"):
            self._answer(415, "text/plain", b"SOAP 1.1 only")
            return
        envelope = etree.fromstring(body)
        ticket = envelope.findtext(f".//{{{TNS}}}Credentials/{{{TNS}}}Ticket")
        name = envelope.findtext(f".//{{{TNS}}}BatchTaskInfo/{{{TNS}}}Name")
        if ticket != TICKET or not name:
            self._answer(400, "text/plain", b"bad ticket or task")
            return
        reply = REPLY.format(job_id=next(self.job_ids)).encode()
        self._answer(200, "text/xml; charset=utf-8", reply)

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    server = Server(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/Cust12345"
    try:
        with BatchClient(base_url, ticket=TICKET, timeout=5.0) as client:
            task = BatchTaskInfo(name="ExportTask", parameter_object={"format": "csv"})
            job_id = client.start_batch_job(task)
            print(f"started batch job {job_id} (SOAP {client.soap_version.value})")  # noqa: T201
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
