"""The built wheel carries templates and static files, and the installed plugin finds them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

RENDER = textwrap.dedent(
    """
    import hopsworks_ui_plugin, sys
    assert hopsworks_ui_plugin.__file__.startswith(sys.prefix), hopsworks_ui_plugin.__file__
    from airflow.providers.fab.www.app import create_app
    from airflow.api_fastapi.app import get_auth_manager
    app = create_app(enable_plugins=True)
    with app.app_context():
        user = app.appbuilder.sm.find_user(username="admin")
        token = get_auth_manager().generate_jwt(user)
    client = app.test_client()
    client.set_cookie("_token", token)
    page = client.get("/hopsworks/connection/")
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    assert "Hopsworks connection" in html and "answers" in html, html[-2000:]
    css = client.get("/hopsworks-assets/static/hopsworks.css")
    assert css.status_code == 200 and b".hw-badge" in css.data
    import hopsworks_ui_plugin.views.base as base
    print("TEMPLATES", base.TEMPLATE_FOLDER)
    """
)


def test_wheel_installs_and_renders_a_page(tmp_path, airflow_db, hopsworks):
    wheel_dir = tmp_path / "dist"
    source = tmp_path / "src"  # build from a copy: an in-tree build leaves *.egg-info in the checkout
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("hopsworks_ui_plugin", "hopsworks_plugin", "templates", "static"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w",
         str(wheel_dir), "-q"],
        check=True, capture_output=True, cwd=tmp_path,
    )
    (wheel,) = wheel_dir.glob("hopsworks_airflow_plugin-*.whl")
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    site = next((target / "lib").glob("python3*/site-packages"))
    # The fresh venv sees Airflow and friends from the test venv (appended after its own
    # site-packages), but not the editable checkout: only the wheel provides the plugin.
    (site / "airflow-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install", "--no-deps", "-q",
         str(wheel)],
        check=True, capture_output=True,
    )
    result = subprocess.run(
        [str(target / "bin" / "python"), "-c", RENDER],
        env=dict(os.environ), capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert f"TEMPLATES {site}/hopsworks_ui_plugin/templates" in result.stdout
