"""TLS to Postgres (DATABASE_SSL): verify-ca connects only to a server whose certificate
chains to DATABASE_SSL_CA, and refuses a server without TLS; the default (`prefer`)
keeps the local stack's plain connections working."""

from __future__ import annotations

import datetime
import shutil
import ssl
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devkit.local.net import free_port
from devkit.local.postgres import Postgres
from devkit.local.prereqs import find_programs
from devkit.local.supervisor import Supervisor
from salescontrol import config, db
from salescontrol.errors import ConfigError

pytestmark = pytest.mark.postgres


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Like Cloud SQL's: it names the instance, not the IP address clients dial."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("my-project:salescontrol-pg"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("salescontrol-pg.internal")]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A throwaway Postgres that only speaks TLS (hostssl); (its URL, its CA's PEM)."""
    programs = find_programs()
    pg = Postgres(programs.pg_bin, free_port())
    pg.init_cluster()
    assert pg.cluster_dir is not None
    ca_key, ca = _ca("Test Server CA")
    key, cert = _server_cert(ca_key, ca)
    files = {
        "server.crt": cert.public_bytes(serialization.Encoding.PEM),
        "server.key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    for name, data in files.items():
        path = pg.cluster_dir / name
        path.write_bytes(data)
        path.chmod(0o600)
        if pg.user:
            shutil.chown(path, pg.user)
    hba = pg.cluster_dir / "data" / "pg_hba.conf"
    hba.write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
    pg.options = {
        "ssl": "on",
        "ssl_cert_file": str(pg.cluster_dir / "server.crt"),
        "ssl_key_file": str(pg.cluster_dir / "server.key"),
    }
    supervisor = Supervisor(tmp_path_factory.mktemp("tls-logs"), echo=lambda line: None)
    try:
        supervisor.spawn(pg.launch())
        supervisor.wait_ready("postgres", lambda: _answers(pg.database_url("postgres"), "require"))
        yield pg.database_url("postgres"), _pem(ca)
    finally:
        supervisor.stop()
        pg.remove_cluster()


def _answers(url: str, mode: str, ca: str = "") -> bool:
    try:
        _connect(url, mode, ca)
        return True
    except sa.exc.DBAPIError:
        return False


@pytest.fixture(autouse=True)
def fresh_engines() -> Iterator[None]:
    db.dispose_engines()
    yield
    db.dispose_engines()


def _connect(url: str, mode: str, ca: str = "") -> bool:
    """Connect with DATABASE_SSL=mode through salescontrol.db; whether TLS is in use."""
    settings = config.load({"DATABASE_SSL": mode, "DATABASE_SSL_CA": ca})
    engine = sa.create_engine(
        url, poolclass=sa.pool.NullPool, connect_args=db.connect_args(settings)
    )
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                ).scalar()
            )
    finally:
        engine.dispose()


def test_verify_ca_talks_tls_to_the_server_its_ca_signed(tls_server) -> None:
    url, ca = tls_server
    assert _connect(url, "verify-ca", ca) is True
    # as Terraform passes it: one line, the newlines written \n
    assert _connect(url, "verify-ca", ca.strip().replace("\n", "\\n")) is True


def test_verify_ca_refuses_a_server_another_ca_signed(tls_server) -> None:
    url, _ = tls_server
    _, other = _ca("Somebody Else")
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _connect(url, "verify-ca", _pem(other))


def test_verify_full_checks_the_name_which_cloud_sql_certificates_do_not_carry(
    tls_server,
) -> None:
    url, ca = tls_server
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        _connect(url, "verify-full", ca)


def test_require_refuses_a_server_without_tls(stack) -> None:
    plain = stack.env["DATABASE_URL"]
    assert _connect(plain, "prefer") is False  # the local stack: plain, as before
    with pytest.raises(sa.exc.DBAPIError, match="refuses SSL"):
        _connect(plain, "require")


def test_the_process_engine_uses_the_settings(tls_server, monkeypatch) -> None:
    url, ca = tls_server
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATABASE_SSL", "verify-ca")
    monkeypatch.setenv("DATABASE_SSL_CA", ca)
    config.settings.cache_clear()
    with db.transaction() as conn:
        assert conn.execute(
            sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ).scalar()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_SSL": "verify-ca"}, "DATABASE_SSL_CA is not set"),
        ({"DATABASE_SSL": "on"}, "DATABASE_SSL='on' is not one of"),
        ({"DATABASE_SSL": "verify-ca", "DATABASE_SSL_CA": "/nonexistent/ca.pem"}, "cannot read"),
    ],
)
def test_a_bad_tls_setting_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        db.connect_args(config.load(env))
