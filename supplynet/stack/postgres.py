"""PostgreSQL, the production record store, from Debian's ``postgresql`` package (``infra/setup.sh``).

Runs ``postgres`` in the foreground (the manager owns the process like the JVM servers'), bound to
127.0.0.1 with its socket in its own data folder. PostgreSQL refuses to run as root, so a root caller
runs it as the package's ``postgres`` account; the cluster then lives where that account can reach it
(``/var/tmp/supplynet-postgres-<hash of the state dir>``) with a link from the state dir, because a
state dir under ``/root`` or a ``mktemp -d`` folder is closed to other accounts. The password of user
``supplynet`` is generated on first use and kept in the state dir (mode 0600), like Neo4j's.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from supplynet.stack.spec import ServerSpec, StackPaths, stored_secret

NAME = "postgres"
USER = "supplynet"
DATABASE = "supplynet"
SERVICE_ACCOUNT = "postgres"
"""The account Debian's package creates; used when supplynet itself runs as root."""


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<major>/bin`` (Debian's layout), else ``initdb``'s folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and (Path(initdb).parent / "postgres").exists():
        return Path(initdb).parent
    raise PostgresMissing(
        "PostgreSQL is not installed: run `bash infra/setup.sh` or `apt-get install postgresql`"
    )


def password(paths: StackPaths) -> str:
    """The local server's password for user ``supplynet``; generated once."""
    return stored_secret(paths.state / NAME / "password", lambda: secrets.token_urlsafe(24))


def url(paths: StackPaths, port: int, *, database: str = DATABASE) -> str:
    """The SQLAlchemy URL of the local server (psycopg 3 driver)."""
    return f"postgresql+psycopg://{USER}:{password(paths)}@127.0.0.1:{port}/{database}"


def _account() -> pwd.struct_passwd | None:
    """The account the server runs as: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        raise PostgresMissing(
            f"running as root needs the `{SERVICE_ACCOUNT}` account (Debian's postgresql package makes it)"
        ) from None


def cluster_dir(paths: StackPaths) -> Path:
    """Where the cluster's files are; the state dir's ``data/postgres`` is this folder or links to it."""
    link = paths.data(NAME)
    if _account() is None:
        return link
    digest = hashlib.sha256(str(paths.state.resolve()).encode()).hexdigest()[:12]
    # A fixed name in a world-writable folder: _prepare() refuses it unless it is a real folder owned by
    # the service account with mode 0700, so nobody can plant a link or folder there first.
    return Path(f"/var/tmp/supplynet-postgres-{digest}")  # noqa: S108


def _as_account(cmd: list[str], *, log: Path) -> None:
    account = _account()
    with log.open("a") as out:
        rc = subprocess.run(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            cwd="/",
        ).returncode
    if rc != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed (exit {rc}); see {log}")


def _prepare(paths: StackPaths) -> None:
    """``initdb`` once, with user ``supplynet`` as superuser and its password; scram auth on TCP."""
    data = cluster_dir(paths)
    link = paths.data(NAME)
    account = _account()
    if account is not None:
        if not (paths.state / NAME / "password").exists() and (data / "PG_VERSION").exists():
            # The cluster outlived the state folder that held its password (the folder was deleted and
            # made again at the same path): nothing can log in to it, and its data went with that
            # folder's, so it is made again rather than left to fail every login.
            shutil.rmtree(data)
        try:
            data.mkdir(mode=0o700)
            os.chown(data, account.pw_uid, account.pw_gid)
        except FileExistsError:
            st = data.lstat()
            if data.is_symlink() or st.st_uid != account.pw_uid or st.st_mode & 0o077:
                raise RuntimeError(
                    f"{data} exists but is not a folder of {SERVICE_ACCOUNT} with mode 0700: refusing it"
                ) from None
        if link.is_dir() and not link.is_symlink() and not any(link.iterdir()):
            link.rmdir()  # the manager makes the folder before prepare(); the link replaces it
        if link.is_symlink() and link.resolve() != data.resolve():
            link.unlink()  # a link to a cluster folder that is gone or is another one
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(data)
    if (data / "PG_VERSION").exists():
        return
    log = paths.log(NAME)
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", delete=False, prefix="pw-", dir="/tmp") as pw:
        pw.write(password(paths) + "\n")
    try:
        if account is not None:
            os.chown(pw.name, account.pw_uid, account.pw_gid)
        _as_account(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pw.name}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            log=log,
        )
    finally:
        os.unlink(pw.name)


def ready(port: int, paths: StackPaths) -> bool:
    """True once the ``supplynet`` database accepts a login (created on the first successful probe)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=USER,
            password=password(paths),
            dbname="postgres",
            connect_timeout=2,
            autocommit=True,
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')  # a constant name, not input
        return True
    except Exception:  # a probe reports, it does not raise
        return False


def spec(paths: StackPaths, *, port: int, shared_buffers_mb: int = 128) -> ServerSpec:
    """The server's spec; describing it needs no installed PostgreSQL (``prepare`` says if one is missing)."""
    account = _account()
    data = cluster_dir(paths)
    try:
        server = str(bin_dir() / "postgres")
    except PostgresMissing:
        server = "postgres"  # prepare() runs first and raises the clear error
    command = (
        server,
        "-D",
        str(data),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"port={port}",
        "-c",
        f"unix_socket_directories={data}",
        "-c",
        f"shared_buffers={shared_buffers_mb}MB",
        "-c",
        "max_connections=200",
        "-c",
        "fsync=on",
    )
    return ServerSpec(
        name=NAME,
        pom=None,
        main_class="",
        ports=(port,),
        command=command,
        run_as=(account.pw_uid, account.pw_gid) if account else None,
        cwd=data,
        prepare=lambda: _prepare(paths),
        ready=lambda: ready(port, paths),
        ready_timeout_s=60.0,
    )
