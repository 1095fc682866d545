"""The check that a docs page quotes its example DAG verbatim.

A DAG marks each quoted block with ``# [START name]`` and ``# [END name]`` comment lines; the page
quotes it between ``<!-- [START name] -->`` and ``<!-- [END name] -->``, as a ``python`` code
block, dedented.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

DAG_SNIPPET = re.compile(r"# \[START (?P<name>\w+)\]\n(?P<body>.*?)\n\s*# \[END (?P=name)\]", re.S)
DOC_SNIPPET = re.compile(
    r"<!-- \[START (?P<name>\w+)\] -->\n```python\n(?P<body>.*?)\n```\n<!-- \[END (?P=name)\] -->",
    re.S,
)


def assert_doc_quotes_dag(dag_file: Path, doc_file: Path) -> None:
    """Fail unless ``doc_file`` quotes every marked block of ``dag_file``, verbatim, and no
    other."""
    in_dag = {
        m["name"]: textwrap.dedent(m["body"]) for m in DAG_SNIPPET.finditer(dag_file.read_text())
    }
    in_doc = {m["name"]: m["body"] for m in DOC_SNIPPET.finditer(doc_file.read_text())}
    assert in_dag, f"{dag_file.name} has no [START ...] markers"
    assert sorted(in_doc) == sorted(in_dag), "every snippet of the DAG is quoted, and only those"
    for name, body in in_dag.items():
        assert in_doc[name] == body, f"{doc_file.name} drifted from {dag_file.name} in {name}"
