"""Upload of a ~1 MB DAG file through the page (validate + atomic write) vs the floor: the bench floor
plugin's bare endpoint in the same Airflow receiving the same multipart body, writing it atomically and
compiling it (what any upload costs); also vs a plain write + compile() in this process, as before.

Only the POST is timed on both sides (redirects are not followed): after a 303 the browser's GET of the
file list is a page view of its own."""

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

    answers: list[int] = []

    def through_page() -> None:
        name = f"bench_{uuid.uuid4().hex[:12]}.py"  # new names: no replace confirmation
        response = alice.post(upload_url, data={"csrf_token": token}, files={"files": (name, data, "text/x-python")},
                              timeout=120, allow_redirects=False)
        assert response.status_code in (200, 302, 303), (response.status_code, response.text[-500:])
        answers.append(response.status_code)

    def bare_endpoint() -> None:
        name = f"bench_{uuid.uuid4().hex[:12]}.py"
        response = alice.post(f"{stack.floor_url}/upload", data={"csrf_token": token},
                              files={"files": (name, data, "text/x-python")}, timeout=120, allow_redirects=False)
        assert response.status_code == 303, (response.status_code, response.text[-500:])

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

    # The floor ratio sits close to its goal: twice the samples (interleaved) for a steadier median.
    page_f, floor = side_by_side(through_page, bare_endpoint, 2 * repeat + 1)
    page, baseline = side_by_side(through_page, plain, repeat)
    page2, durable_baseline = side_by_side(through_page, durable, repeat)
    for leftover in tmp.iterdir():
        os.unlink(leftover)
    tmp.rmdir()
    mb = len(data) / 1e6
    redirected = all(code in (302, 303) for code in answers)
    return [
        ratio(f"upload {mb:.1f} MB DAG through the page vs bare multipart endpoint + atomic write + compile()",
              page_f, floor, 1.3, bytes=len(data)),
        Result("upload answers with a redirect (no file list rendered in the POST)", int(redirected), "= 1", "",
               redirected, {"status_codes": sorted(set(answers))}),
        ratio(f"upload {mb:.1f} MB DAG through the page vs write + compile()", page, baseline, 3.0, superseded=True,
              bytes=len(data)),
        Result(f"upload {mb:.1f} MB DAG through the page vs atomic write + fsync + compile()",
               round(page2.median / durable_baseline.median, 3), "(report)", "x", None,
               {"ours_median_s": page2.median, "baseline_median_s": durable_baseline.median}),
    ]
