"""Upload of a ~1 MB DAG file through the page (validate + atomic write) vs plain write + compile()."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path

from bench.common import Result, ratio, side_by_side
from bench.stack import WebStack


def dag_source(size: int) -> bytes:
    """A valid DAG file owned by alice, padded with comment lines to ``size`` bytes."""
    head = (
        "from airflow.sdk import DAG\n"
        "DAG_OWNER = 'alice'\n"
        "with DAG('bench_upload', schedule=None, default_args={'owner': DAG_OWNER}) as dag:\n"
        "    pass\n"
    )
    line = "# " + "x" * 77 + "\n"
    body = head + line * max(0, (size - len(head)) // len(line))
    return body.encode()


def run(stack: WebStack, repeat: int, size: int = 1_000_000) -> list[Result]:
    alice = stack.login("alice")
    data = dag_source(size)
    page_url = f"{stack.url}/pluginsv2/hopsworks/dag-files/121/"
    upload_url = f"{page_url}upload"
    token_match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', alice.get(page_url, timeout=60).text)
    assert token_match, "no upload form"
    token = token_match.group(1)

    def through_page() -> None:
        name = f"bench_{uuid.uuid4().hex[:12]}.py"  # new names: no replace confirmation
        response = alice.post(upload_url, data={"csrf_token": token}, files={"files": (name, data, "text/x-python")},
                              timeout=120)
        assert response.status_code in (200, 302, 303), (response.status_code, response.text[-500:])

    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-upload-"))

    def plain() -> None:
        target = tmp / f"bench_{uuid.uuid4().hex[:12]}.py"
        with open(target, "wb") as handle:
            handle.write(data)
        compile(data, str(target), "exec", dont_inherit=True)

    def durable() -> None:
        """The same, made crash-safe the way the page does it: temp file, fsync, rename."""
        target = tmp / f"bench_{uuid.uuid4().hex[:12]}.py"
        partial = target.with_name("." + target.name + ".tmp")
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
        compile(data, str(target), "exec", dont_inherit=True)

    page, baseline = side_by_side(through_page, plain, repeat)
    page2, durable_baseline = side_by_side(through_page, durable, repeat)
    for leftover in tmp.iterdir():
        os.unlink(leftover)
    tmp.rmdir()
    mb = len(data) / 1e6
    return [
        ratio(f"upload {mb:.1f} MB DAG through the page vs write + compile()", page, baseline, 3.0, bytes=len(data)),
        Result(f"upload {mb:.1f} MB DAG through the page vs atomic write + fsync + compile()",
               round(page2.median / durable_baseline.median, 3), "(report)", "x", None,
               {"ours_median_s": page2.median, "baseline_median_s": durable_baseline.median}),
    ]
