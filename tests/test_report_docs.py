"""The report's tables in README.md and docs/report.md are a fresh run's, always.

`tinygrad-act report --update-docs` writes them between `<!-- report:begin NAME ... -->` and
`<!-- report:end -->` lines, from one deterministic run (report.DOCS_CONFIG: seeded inputs,
fixed size, no time columns); this test fails when what is committed differs from such a run
in anything: bytes, errors, words, checks. Errors depend on NumPy's and PyTorch's builds:
where the versions are not the ones the documents name, only the rest is compared (and a
warning says so)."""

from __future__ import annotations

import re
import warnings

import pytest

from tinygrad_act.tools import report
from tinygrad_act.tools.cli import main

ERROR = re.compile(r"\d\.\de[+-]\d\d")
VERSIONS = re.compile(r"numpy (\S+), PyTorch (\S+)\.")


@pytest.fixture(scope="module")
def docs_run():
    pytest.importorskip("torch")
    return report.docs_run()


def committed_blocks() -> dict[str, str]:
    root = report.docs_root()
    return {m["name"]: m["body"] for path in report.DOC_BLOCKS
            for m in report.BLOCK.finditer((root / path).read_text())}


def test_the_documents_show_a_fresh_run(docs_run):
    rows, info = docs_run
    assert not report.failed(rows), [(r.activation, r.policy, r.failures) for r in rows
                                     if r.failures]
    fresh, committed = report.doc_blocks(rows, info), committed_blocks()
    assert set(committed) == {name for names in report.DOC_BLOCKS.values() for name in names}
    named = VERSIONS.search(committed["full"])
    assert named, "docs/report.md names no numpy and PyTorch versions"
    if named.groups() != (info["numpy"], info["torch"]):
        warnings.warn(f"the documents were made with numpy {named[1]}, PyTorch {named[2]}; "
                      f"this is numpy {info['numpy']}, PyTorch {info['torch']}: errors not "
                      "compared", stacklevel=1)
        fresh = {k: VERSIONS.sub("", ERROR.sub("E", v)) for k, v in fresh.items()}
        committed = {k: VERSIONS.sub("", ERROR.sub("E", v)) for k, v in committed.items()}
    for name in committed:
        assert committed[name] == fresh[name], (
            f"the {name!r} table is stale: run `{report.DOCS_COMMAND}` (first difference: "
            + next((f"{a!r} != {b!r}" for a, b in zip(committed[name].splitlines(),
                                                    fresh[name].splitlines()) if a != b),
                   "length") + ")")


def test_the_documents_have_no_time_columns(docs_run):
    rows, info = docs_run
    text = "".join(report.doc_blocks(rows, info).values())
    assert "fwd / torch" not in text and "bwd / torch" not in text
    assert all(r.forward_ratio is None for r in rows)  # not even measured


def test_update_docs_writes_only_between_the_markers(tmp_path):
    row = report.Row("relu", "mask", True, 0.125, 0.125, 4.0, 0.0,
                     errors={"value": 0.0, "gradient": 0.0, "second": 0.0},
                     torch_errors={"value": 0.0, "gradient": 0.0, "second": 0.0},
                     reference=dict.fromkeys(report.ORDERS, "torch"))
    info = {"backend": "numpy", "dtype": "float32", "size": 1024, "repeats": 0,
            "torch_threads": 1, "torch": "9.9", "numpy": "8.8", "only": None}
    (tmp_path / "docs").mkdir()
    before = {
        "README.md": "intro\n<!-- report:begin summary (generated) -->\nold\n"
                     "<!-- report:end -->\nafter\n",
        "docs/report.md": "head\n<!-- report:begin full -->\n<!-- report:end -->\ntail\n",
    }
    for path, text in before.items():
        (tmp_path / path).write_text(text)
    stale = report.update_docs([row], info, tmp_path, write=False)
    assert [line.split(",")[0] for line in stale] == ["README.md", "docs/report.md"]
    assert (tmp_path / "README.md").read_text() == before["README.md"]  # checked, not written
    report.update_docs([row], info, tmp_path, write=True)
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("intro\n<!-- report:begin summary (generated) -->\n| activation |")
    assert readme.endswith("<!-- report:end -->\nafter\n") and "old" not in readme
    full = (tmp_path / "docs/report.md").read_text()
    assert full.startswith("head\n<!-- report:begin full -->\n| activation |")
    assert "| relu | mask * | 0.125 |" in full and "numpy 8.8, PyTorch 9.9." in full
    assert full.endswith("<!-- report:end -->\ntail\n")
    assert report.update_docs([row], info, tmp_path, write=False) == []  # now up to date
    (tmp_path / "README.md").write_text("no markers\n")
    with pytest.raises(report.ReportError, match="report:begin summary"):
        report.update_docs([row], info, tmp_path, write=True)


def test_the_docs_options_take_no_other_options(capsys):
    assert main(["report", "--update-docs", "--dtype", "float64"]) == 2
    assert "takes no --dtype" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--update-docs", "--check-docs"])
