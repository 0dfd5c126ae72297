"""Prepares `make cluster`, the production topology rehearsed on one machine.

Under $VAR_DIR/cluster (`var/cluster`): the database made and migrated, static files
collected, a secret key and a self-signed certificate made once, the production nginx
configuration rendered for loopback ports, and `env`, the variables deploy/Procfile.cluster
runs with. Then it prints where the service answers.
"""

import datetime
import io
import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import django
import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from honcho.environ import parse_procfile
from psycopg import sql

from episode_metadata.secret_key import load_or_create

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "deploy" / "Procfile.cluster"
NGINX_DIR = ROOT / "deploy" / "nginx"
# Debian keeps nginx in /usr/sbin, which is not on an ordinary user's PATH.
NGINX_PATH = f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin"
SERVER_PORT = re.compile(r"--port \"?\$\{?(\w+)")
HOST = "127.0.0.1"


def main() -> None:
    nginx = shutil.which("nginx", path=NGINX_PATH)
    if nginx is None:
        sys.exit("make cluster needs nginx: apt-get install nginx (or your system's package).")
    cluster_dir = Path(os.environ.get("VAR_DIR") or ROOT / "var").resolve() / "cluster"
    env = cluster_env(cluster_dir, nginx)
    create_database(env["DATABASE_URL"])
    # The commands below read their settings from the cluster's environment.
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "episode_metadata.settings")
    django.setup()
    call_command("migrate", "--noinput")
    call_command("collectstatic", "--noinput", "--verbosity", "0")
    write_nginx_config(cluster_dir / "nginx", env)
    lines = [f"{name}={shlex.quote(value)}\n" for name, value in env.items()]
    (cluster_dir / "env").write_text("".join(lines))
    print(
        f"Serving on https://{HOST}:{env['CLUSTER_HTTPS_PORT']}/ through nginx, with the "
        f"processes of {PROCFILE.relative_to(ROOT)}. The certificate is self-signed: "
        f"curl --cacert {cluster_dir / 'nginx' / 'cert.pem'}. Ctrl-C stops."
    )


def cluster_env(cluster_dir: Path, nginx: str) -> dict[str, str]:
    """What every process of the Procfile runs with: the local PostgreSQL and Redis unless
    the environment names others, and the ports the environment chose or defaults."""
    env = {
        "VAR_DIR": str(cluster_dir),
        "DATABASE_URL": os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/episodes_cluster",
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": os.environ.get("REDIS_PREFIX") or "episodes-cluster",
        # nginx, on loopback, forwards each client's address.
        "FORWARDED_ALLOW_IPS": HOST,
        "SECRET_KEY": load_or_create(cluster_dir / "secret_key"),
        "NGINX_BIN": nginx,
        "CLUSTER_HTTP_PORT": os.environ.get("CLUSTER_HTTP_PORT") or "8080",
        "CLUSTER_HTTPS_PORT": os.environ.get("CLUSTER_HTTPS_PORT") or "8443",
    }
    for number, name in enumerate(server_port_names(), start=1):
        env[name] = os.environ.get(name) or str(8000 + number)
    return env


def server_port_names() -> list[str]:
    """The port variables of the Procfile's servers: nginx sends requests to each of them."""
    commands = parse_procfile(PROCFILE.read_text()).processes.values()
    return [match.group(1) for command in commands if (match := SERVER_PORT.search(command))]


def server_ports(env: dict[str, str]) -> list[str]:
    return [env[name] for name in server_port_names()]


def create_database(url: str) -> None:
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def write_nginx_config(nginx_dir: Path, env: dict[str, str]) -> None:
    (nginx_dir / "temp").mkdir(parents=True, exist_ok=True)
    certificate, key = nginx_dir / "cert.pem", nginx_dir / "key.pem"
    if not certificate.exists():
        write_certificate(certificate, key)
    shutil.copyfile(Path(nginx_conf_dir(env["NGINX_BIN"])) / "mime.types", nginx_dir / "mime.types")
    main_config = (NGINX_DIR / "cluster.conf").read_text()
    if os.geteuid() == 0:
        # Started by root, nginx would run its workers as nobody, who may not read $VAR_DIR.
        main_config = "user root;\n" + main_config
    (nginx_dir / "nginx.conf").write_text(main_config)
    site = io.StringIO()
    call_command(
        "nginx_config",
        *(arg for port in server_ports(env) for arg in ("--server", f"{HOST}:{port}")),
        *("--server-name", HOST, "--certificate", str(certificate), "--certificate-key", str(key)),
        *("--http-listen", f"{HOST}:{env['CLUSTER_HTTP_PORT']}"),
        *("--https-listen", f"{HOST}:{env['CLUSTER_HTTPS_PORT']}"),
        *("--log-dir", str(nginx_dir)),
        stdout=site,
    )
    (nginx_dir / "episode-metadata.conf").write_text(site.getvalue())


def nginx_conf_dir(nginx: str) -> str:
    """Where this nginx keeps its own files (mime.types), from how it was built."""
    built = subprocess.run(  # noqa: S603 - the nginx found on PATH, asked its version
        [nginx, "-V"], capture_output=True, text=True, check=True
    ).stderr
    match = re.search(r"--conf-path=(\S+)", built)
    return os.path.dirname(match.group(1)) if match else "/etc/nginx"


def write_certificate(certificate: Path, key_path: Path) -> None:
    """A self-signed certificate for 127.0.0.1, so the rehearsal runs the TLS server block."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":
    main()
