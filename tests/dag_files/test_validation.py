"""hopsworks_ui_plugin.dag_files.validation: upload names, size cap, UTF-8 and syntax, never running the file."""

from __future__ import annotations

import io

import pytest

from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.errors import BadInput, TooLarge


def test_size_cap_reads_at_most_cap_plus_one_bytes():
    class Counting(io.BytesIO):
        read_total = 0

        def read(self, n=-1):
            chunk = super().read(n)
            Counting.read_total += len(chunk)
            return chunk

    stream = Counting(b"x" * 10_000_000)
    with pytest.raises(TooLarge) as err:
        df.read_capped(stream, 1000, "big.py")
    assert err.value.status == 413 and err.value.message == "big.py is larger than the limit of 1000 B."
    assert Counting.read_total == 1001
    assert df.read_capped(io.BytesIO(b"y" * 1000), 1000) == b"y" * 1000


def test_size_cap_is_configurable(monkeypatch):
    assert df.max_file_bytes() == 1024 * 1024
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILE_BYTES", "2048")
    assert df.max_file_bytes() == 2048
    with pytest.raises(TooLarge) as err:
        df.check_source("big.py", b"x = 1\n" * 1000)
    assert err.value.status == 413 and "limit of 2 KiB" in err.value.message


def test_the_request_cap_is_every_file_at_its_cap_plus_framing(monkeypatch):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILE_BYTES", "1000")
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILES_PER_UPLOAD", "3")
    assert df.max_upload_request_bytes() == 3000 + 256 * 1024


@pytest.mark.parametrize(
    "data",
    [b"x = '\xff'\n", b"# caf\xe9\nx = 1\n", b"x = 1\n\x80\x81\n", "x = 'é'\n".encode("utf-16")],
)
def test_non_utf8_is_rejected(data):
    with pytest.raises(BadInput) as err:
        df.check_source("bad.py", data)
    assert err.value.status == 400 and "not UTF-8" in err.value.message


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        (b"from airflow.sdk import DAG\n\nwith DAG('x'\n    pass\n", 3, "line 3"),
        (b"x = 1\ny = (\n", 2, "never closed"),
        (b"def f():\n  return 1\n return 2\n", 3, "indent"),
        (b"x = 1\nreturn x\n", 2, "'return' outside function"),
        (b"a = 1\nb = 2\nif a\n  b = 3\n", 3, "expected ':'"),
    ],
)
def test_syntax_errors_report_line_and_message(source, line, fragment):
    with pytest.raises(BadInput) as err:
        df.check_source("broken.py", source)
    assert err.value.status == 400
    assert f"line {line}" in err.value.message and fragment in err.value.message, err.value.message


def test_checking_never_executes_the_file(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').write('x')\nimport os\nos._exit(3)\n".encode()
    checked = df.check_source("evil.py", source)
    assert not marker.exists() and checked.size == len(source)


def test_empty_and_nul_sources_are_rejected():
    with pytest.raises(BadInput, match="empty"):
        df.check_source("e.py", b"  \n")
    with pytest.raises(BadInput, match="null bytes"):
        df.check_source("n.py", b"x = 1\x00\n")


def test_a_backslash_in_the_raw_upload_header_is_a_path():
    """The web server unescapes ``filename="sub\\dag.py"`` to ``subdag.py``: the raw header decides."""
    problem = df.upload_name_problem("subdag.py", 'form-data; name="files"; filename="sub\\dag.py"')
    assert problem and "a backslash" in problem
    assert df.upload_name_problem("subdag.py", 'form-data; name="files"; filename="subdag.py"') is None
    assert df.upload_name_problem("../x.py", None) == df.name_problem("../x.py")
