"""The virtual board's power switch: a separate process, the lab's side, not the test's.

A lab board's power goes through a network power switch the exporter publishes;
the virtual board gets one too, so `NetworkPowerDriver` drives it as it would a
real PDU. This is that switch: a small HTTP server in labgrid's `simplerest`
dialect that turns on/off into QMP commands to the board's QEMU. `VirtualLab`
starts it as `python -m harness.lab pdu`.
"""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


def serve_power_switch(listen: str, qmp_path: str) -> None:
    """HTTP power switch in labgrid's `simplerest` dialect:
    GET /power/<index>/1 -> QMP system_reset + cont (the board boots from reset);
    GET /power/<index>/0 -> QMP stop (the board freezes: no output, as unpowered);
    GET /power/<index>   -> "1" while running, else "0"."""
    from qemu.qmp import QMPError
    from qemu.qmp.legacy import QEMUMonitorProtocol

    qmp = QEMUMonitorProtocol(qmp_path)
    qmp.connect()
    lock = threading.Lock()

    def execute(name: str) -> Any:
        """One QMP command's return value. `cmd_obj` answers with the whole response in
        every qemu.qmp release (`cmd` changed from the response to its value), so the
        error is checked here: a refused `stop` must not pass for a board powered off."""
        reply: dict[str, Any] = qmp.cmd_obj({"execute": name})
        if "error" in reply:
            raise RuntimeError(f"QMP {name}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def running() -> bool:
        return bool(execute("query-status").get("running"))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if not parts or parts[0] != "power" or len(parts) not in (2, 3):
                self.send_error(404)
                return
            try:
                with lock:
                    if len(parts) == 3 and parts[2] in ("0", "1"):
                        if parts[2] == "1" and not running():
                            execute("system_reset")
                            execute("cont")
                        elif parts[2] == "0" and running():
                            execute("stop")
                    body = b"1" if running() else b"0"
            except (QMPError, RuntimeError, OSError) as exc:  # the client's driver reports it
                self.send_error(500, f"the board's QEMU: {exc}")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            print(f"power switch: {fmt % args}", file=sys.stderr, flush=True)

    host, port = listen.rsplit(":", 1)
    server = HTTPServer((host, int(port)), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    finally:
        qmp.close()
