"""Render deploy/nginx.conf.template for N web processes and prepare its directories; print the command.

    python deploy/render_nginx.py --prefix var/nginx --listen 127.0.0.1:8080 \
        --upstream 127.0.0.1:8001 --upstream 127.0.0.1:8002 --static-root staticfiles

Writes <prefix>/nginx.conf and <prefix>/tmp/*, so that nginx runs as any user:
    nginx -p <prefix> -c nginx.conf -e <prefix>/error.log -g "daemon off;"
Standard library only: make prod, the system tests (tests/live.py) and bench/load.py all use it.
"""

import argparse
import getpass
import shlex
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")


def render(
    prefix: Path, listen: str, upstreams: list[str], static_root: Path, access_log: str = "off"
) -> Path:
    """Write the configuration under `prefix`; returns its path."""
    prefix = prefix.resolve()
    for name in TEMP_DIRS:
        (prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)
    values = {
        "user": getpass.getuser(),
        "prefix": str(prefix),
        "listen": listen,
        "upstreams": "\n".join(f"        server {address};" for address in upstreams),
        "static_root": str(static_root.resolve()),
        "access_log": access_log,
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("{{ " + name + " }}", value)
    if "{{" in text:
        raise ValueError(f"placeholder left in {TEMPLATE}: {text[text.index('{{') :][:40]}")
    path = prefix / "nginx.conf"
    path.write_text(text)
    return path


def command(prefix: Path) -> list[str]:
    prefix = prefix.resolve()
    log = str(prefix / "error.log")
    return ["nginx", "-p", str(prefix), "-c", "nginx.conf", "-e", log, "-g", "daemon off;"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, required=True)
    parser.add_argument("--listen", required=True, help="address:port or port")
    parser.add_argument("--upstream", action="append", required=True, help="a web process's address:port")
    parser.add_argument("--static-root", type=Path, required=True)
    parser.add_argument("--access-log", default="off", help="a path, or off")
    args = parser.parse_args()
    path = render(args.prefix, args.listen, args.upstream, args.static_root, args.access_log)
    print(f"wrote {path}", file=sys.stderr)
    print(shlex.join(command(args.prefix)))


if __name__ == "__main__":
    main()
