"""SCF extra ``code``: decode the code package (zip) a client sends, and check that its handler
can be imported.

The check inspects the zip without running anything: the handler's module file must be at the
root of the package, must parse with the grammar of the function's Python version, and must
define (or import) the handler function at module level.
"""

from __future__ import annotations

import ast
import base64
import binascii
import io
import re
import zipfile

from .exceptions import InvalidParameterValue

#: Largest package accepted, as decoded zip bytes (the CreateFunction docstring's 50 MB).
MAX_ZIP_BYTES = 50 * 1024 * 1024


def decode_zip(text: object) -> bytes:
    """The zip bytes of a base64 ``ZipFile`` parameter.

    :raises InvalidParameterValue: ``ZipFileBase64BinasciiError`` for bad base64, ``ZipFile``
        for bytes that are not a zip archive or that exceed :data:`MAX_ZIP_BYTES`.
    """
    if not isinstance(text, str) or not text:
        raise InvalidParameterValue("ZipFile", "ZipFile must be a non-empty base64 string")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameterValue(
            "ZipFileBase64BinasciiError", f"ZipFile base64 decoding failed: {exc}"
        ) from exc
    return check_zip(data)


def check_zip(data: bytes) -> bytes:
    """Return ``data`` if it is a readable zip archive within the size limit."""
    if len(data) > MAX_ZIP_BYTES:
        raise InvalidParameterValue(
            "ZipFile", f"the code package is {len(data)} bytes; the limit is {MAX_ZIP_BYTES}"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise InvalidParameterValue(
            "ZipFile", "the code package is not a standard zip file; compress it again"
        ) from exc
    if bad is not None:
        raise InvalidParameterValue("ZipFile", f"the zip member {bad!r} is corrupt")
    return data


def handler_problem(data: bytes, handler: str, runtime: str = "") -> str | None:
    """Why ``handler`` (``module.function``) cannot be imported from the zip, or ``None``.

    Looks for ``module.py`` (or ``module/__init__.py``) at the zip root and parses it for a
    top-level ``def function``, an assignment to ``function``, or an import binding it. For a
    ``Python3.N`` runtime the module is parsed with that version's grammar (a ``match``
    statement is a SyntaxError for ``Python3.9``), as far as this interpreter's parser can tell.
    """
    module, _, function = handler.rpartition(".")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        for candidate in (f"{module}.py", f"{module}/__init__.py"):
            if candidate in names:
                source = archive.read(candidate)
                break
        else:
            return (
                f"the handler module {module!r} was not found: the code package has no "
                f"{module}.py at its root"
            )
    match = re.match(r"^Python3\.(\d+)$", runtime)
    feature = (3, int(match.group(1))) if match else None
    try:
        tree = ast.parse(source, filename=candidate, feature_version=feature)
    except SyntaxError as exc:
        return f"{candidate} cannot be imported: SyntaxError: {exc.msg} (line {exc.lineno})"
    if function not in _top_level_names(tree):
        return f"the handler function {function!r} is not defined in {candidate}"
    return None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names
