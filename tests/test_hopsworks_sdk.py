"""The official ``hopsworks`` Python SDK (PyPI) drives the fake Hopsworks: login, jobs, a run, its logs.

No ``hopsworks`` 4.x release can be installed beside Airflow 3.3: every one pins
``hopsworks-aiomysql[sa]``, which needs ``sqlalchemy<=2.0.41`` (Airflow 3.3 needs ``>=2.0.50``),
and ``protobuf<5`` (Airflow's OpenTelemetry packages need ``>=5``). So the SDK gets its own
virtualenv next to the test venv (``.venv/hopsworks-sdk``, created on first use) and the test runs it
in a subprocess against the fake, which listens in this process.

The SDK always talks https (it builds ``https://host:port``), so the fake serves TLS with a
certificate made here, and the SDK verifies it against that certificate (``hostname_verification=True``,
``trust_store_path=``): nothing is switched off.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hopsworks_ui_plugin.fake_hopsworks import FakeHopsworks, load_seed
from tests.support import ScaledClock

SDK_VERSION = "4.8.8"
#: The SDK's default "python" engine needs pyarrow (from its ``python`` extra, which would also pull
#: Kafka and Delta Lake clients the test does not use).
SDK_REQUIREMENTS = [f"hopsworks=={SDK_VERSION}", "pyarrow>=17,<26"]
ROOT = Path(__file__).resolve().parents[1]
SDK_VENV = Path(os.environ.get("HW_SDK_VENV", ROOT / ".venv" / "hopsworks-sdk"))
USER_KEY = "aliceSdkKey00001." + "s" * 64  # alice's own key, with what the SDK needs for logs

SCRIPT = r"""
import json, logging, os, sys
import hopsworks

cfg = json.loads(sys.argv[1])
logging.getLogger().setLevel(logging.WARNING)
project = hopsworks.login(host=cfg["host"], port=cfg["port"], project="demo_fs", api_key_value=cfg["key"],
                          hostname_verification=True, trust_store_path=cfg["ca"], cert_folder=cfg["certs"],
                          engine="python")
jobs_api = project.get_job_api()
names = sorted(job.name for job in jobs_api.get_jobs())
job = jobs_api.get_job("etl")
execution = job.run(args="--date 2024-05-01", await_termination=True)
out_path, err_path = execution.download_logs(cfg["logs"])
print("RESULT " + json.dumps({
    "project": [project.name, project.id], "jobs": names, "execution": execution.id,
    "state": execution.state, "final_status": execution.final_status, "success": execution.success,
    "stdout": open(out_path).read() if out_path else None,
    "stderr_file": os.path.basename(err_path) if err_path else None,
}))
hopsworks.logout()
"""


def sdk_python() -> Path:
    """The SDK venv's python, creating the venv (``SDK_REQUIREMENTS``) the first time."""
    python = SDK_VENV / "bin" / "python"
    stamp = SDK_VENV / ".hopsworks-sdk-version"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == " ".join(SDK_REQUIREMENTS):
        return python
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(SDK_VENV)], check=True, capture_output=True, timeout=300)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *SDK_REQUIREMENTS],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if install.returncode != 0:
        pytest.fail(f"could not install {SDK_REQUIREMENTS} into {SDK_VENV}:\n{install.stderr[-3000:]}")
    stamp.write_text(" ".join(SDK_REQUIREMENTS))
    return python


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that is its own CA: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-hopsworks")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeHopsworks, Path]]:
    folder = tmp_path_factory.mktemp("sdk-tls")
    cert, key = make_certificate(folder)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = FakeHopsworks(seed=load_seed("test"), clock=ScaledClock(10.0)).start(ssl_context=ctx)  # type: ignore[arg-type]
    server.state.add_api_key(USER_KEY, "alice", ["JOB", "PROJECT", "DATASET_VIEW"], "alice-sdk")
    yield server, cert
    server.stop()


def test_official_sdk_logs_in_lists_jobs_runs_one_and_downloads_its_logs(tls_fake, tmp_path):
    server, ca = tls_fake
    python = sdk_python()
    (tmp_path / "logs").mkdir()
    cfg = {"host": "127.0.0.1", "port": server.port, "key": USER_KEY, "ca": str(ca),
           "certs": str(tmp_path / "certs"), "logs": str(tmp_path / "logs")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOPSWORKS_", "AIRFLOW", "REST_ENDPOINT"))}
    env["HOME"] = str(tmp_path)  # the SDK may cache things under ~
    server.clear_requests()
    run = subprocess.run([str(python), "-c", SCRIPT, json.dumps(cfg)], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path, check=False)
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["project"] == ["demo_fs", 119]
    assert result["jobs"] == sorted(["etl", "train", "broken", "<script>alert(1)</script>", "big_log"])
    assert (result["state"], result["final_status"], result["success"]) == ("FINISHED", "SUCCEEDED", True)
    assert "--date 2024-05-01" in result["stdout"] and result["stderr_file"] == "stderr.log"
    snapshot = server.state.get_execution(result["execution"])
    assert (snapshot["user"], snapshot["args"]) == ("alice", "--date 2024-05-01")
    paths = {r.path.split("/hopsworks-api/api/")[-1].split("/")[0] for r in server.requests}
    assert paths == {"variables", "project"}
    assert all(r.status < 500 for r in server.requests)
    assert any("/dataset/download/with_auth/" in r.path for r in server.requests)  # logs via the dataset API
