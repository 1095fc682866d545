"""The check that a docs page quotes its example DAGs verbatim.

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


def assert_doc_quotes_dags(doc_file: Path, *dag_files: Path, at_least: int = 1) -> dict[str, str]:
    """Fail unless ``doc_file`` quotes every marked block of ``dag_files``, verbatim, and no
    other; returns the blocks by name.

    :param at_least: how many marked blocks the DAG files must hold together (a DAG that lost its
        markers would otherwise pass with nothing to compare).
    """
    in_dag = {
        m["name"]: textwrap.dedent(m["body"])
        for path in dag_files
        for m in DAG_SNIPPET.finditer(path.read_text())
    }
    in_doc = {m["name"]: m["body"] for m in DOC_SNIPPET.finditer(doc_file.read_text())}
    dags = ", ".join(path.name for path in dag_files)
    assert len(in_dag) >= at_least, f"{dags} lost [START ...] markers: {len(in_dag)} blocks"
    assert sorted(in_doc) == sorted(in_dag), "every snippet of the DAGs is quoted, and only those"
    for name, body in in_dag.items():
        assert in_doc[name] == body, f"{doc_file.name} drifted from {dags} in {name}"
    return in_dag
