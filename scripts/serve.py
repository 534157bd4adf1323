"""Serve the app to a classroom: several Streamlit processes behind nginx, at one address.

    python scripts/serve.py [--replicas N] [--port P]       (or: make serve REPLICAS=N PORT=P)

One Streamlit process runs its sessions' scripts on one core, so a class needs several. Each
session lives in the process its websocket reached, so nginx sends a browser to the same process
every time (sticky sessions): it gives each new browser a random `mnist_replica` cookie and
picks the process by hashing it, which keeps uploads and pictures (held in a process's memory)
with their session too. The processes listen on 127.0.0.1, ports P+1..P+N; nginx on P, on every
address. They share the models folder, the feedback database and the machine's one training job
(whose state is on disk, `mnist_core.jobs`), so any session can watch the job and stop it. A
process that dies is started again; only the sessions it held start afresh (their links keep
the person and the model). Ctrl-C (or SIGTERM) stops them all; a running job trains on.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = (
    PROJECT_ROOT / "logs" / "serve"
)  # nginx's configuration and files; each process's log and pid
RESTART_PAUSE_SECONDS = 1.0
QUICK_DEATH_SECONDS = 10  # a process that ends sooner after starting will not start at all
REPLICA_HEADER = "X-Mnist-Replica"  # which process answered: for tests and for curious admins
REPLICA_COOKIE = "mnist_replica"  # a browser's process, as nginx hashes it

NGINX_CONF = """\
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {run}/temp/body;
    proxy_temp_path {run}/temp/proxy;
    fastcgi_temp_path {run}/temp/fastcgi;
    uwsgi_temp_path {run}/temp/uwsgi;
    scgi_temp_path {run}/temp/scgi;
    client_max_body_size {max_upload_mb}m;

    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    # A browser's process: its cookie, or a new random one on its first visit.
    map $cookie_{replica_cookie} $replica_key {{
        "" $request_id;
        default $cookie_{replica_cookie};
    }}

    upstream streamlit {{
        hash $replica_key consistent;
{servers}
    }}
    server {{
        listen {port};
        location / {{
            proxy_pass http://streamlit;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1d;  # a websocket stays open for as long as its tab
            proxy_buffering off;
            proxy_request_buffering off;
            add_header Set-Cookie "{replica_cookie}=$replica_key; Path=/; SameSite=Lax" always;
            add_header {replica_header} $upstream_addr always;
        }}
    }}
}}
"""


def nginx_config(port: int, replica_ports: list[int], run: Path, max_upload_mb: int) -> str:
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in replica_ports
    )
    return NGINX_CONF.format(
        run=run,
        port=port,
        servers=servers,
        max_upload_mb=max_upload_mb,
        replica_header=REPLICA_HEADER,
        replica_cookie=REPLICA_COOKIE,
    )


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.headless=true",
        "--server.address=127.0.0.1",
        f"--server.port={port}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, help="Streamlit processes (default 2)")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port (default 8501)")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 64:
        parser.error(f"--replicas must be 1..64, not {args.replicas}")
    if not 1 <= args.port <= 65535 - args.replicas:
        parser.error(f"--port must leave room for {args.replicas} ports above it")
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if nginx is None:
        print("error: nginx is not installed: run `make nginx`", file=sys.stderr)
        return 2

    run = args.run_dir.resolve()
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run / "temp" / temp).mkdir(parents=True, exist_ok=True)
        os.chmod(run / "temp" / temp, 0o777)  # nginx's workers may run as another user
    replica_ports = [args.port + n for n in range(1, args.replicas + 1)]
    config = run / "nginx.conf"
    config.write_text(nginx_config(args.port, replica_ports, run, max_upload_mb=10))
    # One cookie secret for all: a browser's XSRF cookie must be valid on any of them.
    env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}

    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start_replica(port: int) -> subprocess.Popen:
        with (run / f"streamlit-{port}.log").open("ab") as log:
            process = subprocess.Popen(
                streamlit_command(port),
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches this script, which stops them in order
            )
        (run / f"streamlit-{port}.pid").write_text(str(process.pid))
        return process

    replicas = {port: start_replica(port) for port in replica_ports}
    started = dict.fromkeys(replica_ports, time.monotonic())
    proxy = subprocess.Popen(
        [nginx, "-p", str(run), "-c", str(config), "-g", "daemon off;"],
        start_new_session=True,
    )
    print(
        f"Serving at http://localhost:{args.port} with {args.replicas} Streamlit processes "
        f"(ports {replica_ports[0]}-{replica_ports[-1]}); logs in {run}. Ctrl-C stops.",
        flush=True,
    )
    try:
        while not stopping:
            if proxy.poll() is not None:
                print(f"error: nginx stopped (see {run / 'nginx-error.log'})", file=sys.stderr)
                return 1
            for port, process in replicas.items():
                if process.poll() is None or stopping:
                    continue
                log = run / f"streamlit-{port}.log"
                if time.monotonic() - started[port] < QUICK_DEATH_SECONDS:
                    print(
                        f"error: the process on port {port} cannot start (see {log})",
                        file=sys.stderr,
                    )
                    return 1
                print(f"the process on port {port} ended; starting it again", flush=True)
                replicas[port], started[port] = start_replica(port), time.monotonic()
            time.sleep(RESTART_PAUSE_SECONDS)
    finally:
        for process in [proxy, *replicas.values()]:
            if process.poll() is None:
                process.terminate()
        for process in [proxy, *replicas.values()]:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
