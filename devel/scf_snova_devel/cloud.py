"""The system tests' Tencent Cloud target (``make test-cloud``): its settings, the run's names and
the redaction of its secrets.

The system tests (``tests/system``) run against the emulator unless ``SCF_SNOVA_TEST_CLOUD=1``
selects Tencent Cloud; then these variables say where (``docs/cloud-tests.md``):

==============================  ===============================================================
``TENCENTCLOUD_SECRET_ID``      the API key's SecretId
``TENCENTCLOUD_SECRET_KEY``     its SecretKey (never printed)
``TENCENTCLOUD_REGION``         the region of the functions, the bucket and Snova
``TENCENTCLOUD_APPID``          the account's APPID (bucket names end with it)
``SCF_SNOVA_TEST_BUCKET``       a scratch bucket, ``name-appid``, in that region
``SNOVA_TEST_DSN``              ``postgresql://user:password@host:port/database`` of Snova; the
                                user creates (and drops) the run's databases and roles
==============================  ===============================================================

and optionally ``TENCENTCLOUD_SESSION_TOKEN`` (temporary credentials) and
``SCF_SNOVA_TEST_NAMESPACE`` (the SCF namespace, ``default`` otherwise).

``tests/conftest.py`` reads them with :func:`choose_target` before it removes every
``TENCENTCLOUD_*`` variable from its environment (so that no SDK picks credentials up by itself);
only the connections the tests build carry them. Everything a run creates carries its run tag
(:class:`RunNames`), which is how the session's clean-up, and a clean-up by hand after a killed
run, find it.

Standard library and :mod:`scf_snova_core` only: ``make test-cloud`` runs
``python -m scf_snova_devel.cloud check`` before anything is installed.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets as _secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from scf_snova_core.names import FULL_BUCKET, NAMESPACE, REGION

#: ``1`` (or ``true``/``yes``) selects the cloud target.
SWITCH = "SCF_SNOVA_TEST_CLOUD"
#: The variables the cloud target needs, and what each holds.
REQUIRED = {
    "TENCENTCLOUD_SECRET_ID": "the API key's SecretId",
    "TENCENTCLOUD_SECRET_KEY": "the API key's SecretKey",
    "TENCENTCLOUD_REGION": "the region, e.g. ap-guangzhou",
    "TENCENTCLOUD_APPID": "the account's APPID",
    "SCF_SNOVA_TEST_BUCKET": "a scratch bucket, name-appid",
    "SNOVA_TEST_DSN": "postgresql://user:password@host:port/database of Snova",
}
TOKEN = "TENCENTCLOUD_SESSION_TOKEN"
NAMESPACE_VARIABLE = "SCF_SNOVA_TEST_NAMESPACE"
#: Where the settings are explained.
DOC = "docs/cloud-tests.md"
#: The folder of the scratch bucket every run writes under (``<folder><tag>/...``).
TEST_FOLDER = "scf-snova-tests/"
#: A run tag: ``it`` and 6 hex digits.
TAG_PATTERN = re.compile(r"it[0-9a-f]{6}")
#: What ``python -m scf_snova_devel.cloud check`` exits with when the target is not configured.
SKIP_STATUS = 3
MASK = "***"


class CloudSettingsError(ValueError):
    """The cloud target is selected but not (correctly) configured.

    :param problems: one line per variable, naming it (never a secret's value).
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "the cloud target needs "
            + "; ".join(problems)
            + f" (see {DOC}; `make test` uses the emulator)"
        )


class Redacted(str):
    """A string whose ``repr`` hides a secret: pytest prints a failing test's arguments with
    ``repr``, so fixtures hand out DSNs and passwords as this. ``str()`` and formatting give the
    value itself.

    :param value: the value.
    :param shown: what ``repr`` shows instead (``***`` by default).
    """

    def __new__(cls, value: str, shown: str = MASK) -> Redacted:
        made = super().__new__(cls, value)
        made._shown = shown
        return made

    def __repr__(self) -> str:
        return repr(self._shown)


def mask_dsn(dsn: str) -> str:
    """``dsn`` with its password replaced by ``***``.

    :param dsn: a URL-style DSN.
    """
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def redacted_dsn(dsn: str) -> Redacted:
    """``dsn`` as a :class:`Redacted` whose ``repr`` shows it without the password.

    :param dsn: a URL-style DSN.
    """
    return Redacted(dsn, mask_dsn(dsn))


def redact(text: str, values: Iterable[str]) -> str:
    """``text`` with every secret of ``values`` (and its URL-quoted form) replaced by ``***``.

    :param text: what may show a secret.
    :param values: the secrets (empty ones are ignored).
    """
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        for form in {value, quote(value, safe="")}:
            text = text.replace(form, MASK)
    return text


def redact_report(report, values: Iterable[str]) -> None:
    """Replace every secret of ``values`` in a pytest report's traceback and captured sections
    (what pytest prints for a failing test: its arguments, locals of assertions, its output).

    :param report: a ``TestReport``.
    :param values: the secrets.
    """
    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = redact(text, values)
        if clean != text:
            report.longrepr = clean
    report.sections = [(title, redact(content, values)) for title, content in report.sections]


def _short_id(secret_id: str) -> str:
    return f"{secret_id[:4]}...{secret_id[-4:]}" if len(secret_id) > 12 else MASK


@dataclass(frozen=True)
class CloudSettings:
    """Where the cloud target runs. ``repr`` shows no secret.

    :param secret_id: the SecretId.
    :param secret_key: the SecretKey.
    :param region: the region.
    :param appid: the APPID.
    :param bucket: the scratch bucket, ``name-appid``.
    :param dsn: Snova's DSN (``postgresql://``).
    :param namespace: the SCF namespace.
    :param token: the session token of temporary credentials.
    """

    secret_id: str
    secret_key: str = field(repr=False)
    region: str
    appid: str
    bucket: str
    dsn: str = field(repr=False)
    namespace: str = "default"
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> CloudSettings:
        """Read and check the variables.

        :param environ: the environment (``os.environ``).
        :raises CloudSettingsError: one is missing or malformed (every problem is listed).
        """
        values = {name: (environ.get(name) or "").strip() for name in REQUIRED}
        problems = [f"{name} ({what})" for name, what in REQUIRED.items() if not values[name]]
        if problems:
            raise CloudSettingsError(["variables that are not set: " + ", ".join(problems)])
        for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"):
            if environ[name] != values[name] or re.search(r"\s", values[name]):
                problems.append(f"{name} without spaces")
        region = values["TENCENTCLOUD_REGION"]
        if not REGION.match(region):
            problems.append(f"TENCENTCLOUD_REGION like ap-guangzhou, not {region!r}")
        appid = values["TENCENTCLOUD_APPID"]
        if not appid.isdigit():
            problems.append(f"TENCENTCLOUD_APPID of digits, not {appid!r}")
        bucket = FULL_BUCKET.match(values["SCF_SNOVA_TEST_BUCKET"])
        if bucket is None or (appid.isdigit() and bucket["appid"] != appid):
            problems.append(
                f"SCF_SNOVA_TEST_BUCKET as <name>-{appid if appid.isdigit() else '<appid>'}, "
                f"not {values['SCF_SNOVA_TEST_BUCKET']!r}"
            )
        problems.extend(_dsn_problems(values["SNOVA_TEST_DSN"]))
        namespace = (environ.get(NAMESPACE_VARIABLE) or "default").strip()
        if not NAMESPACE.match(namespace):
            problems.append(f"{NAMESPACE_VARIABLE} of letters, digits, - and _, not {namespace!r}")
        if problems:
            raise CloudSettingsError(problems)
        return cls(
            secret_id=values["TENCENTCLOUD_SECRET_ID"],
            secret_key=values["TENCENTCLOUD_SECRET_KEY"],
            region=region,
            appid=appid,
            bucket=values["SCF_SNOVA_TEST_BUCKET"],
            dsn=values["SNOVA_TEST_DSN"],
            namespace=namespace,
            token=(environ.get(TOKEN) or "").strip() or None,
        )

    @property
    def secrets(self) -> list[str]:
        """Every value no output may show: the SecretKey, the token, Snova's password."""
        password = urlsplit(self.dsn).password
        return [v for v in (self.secret_key, self.token, password and unquote(password)) if v]

    def describe(self) -> str:
        """One line saying where the tests run, without secrets."""
        dsn = urlsplit(self.dsn)
        return (
            f"Tencent Cloud {self.region} (APPID {self.appid}, SecretId "
            f"{_short_id(self.secret_id)}, SCF namespace {self.namespace}), scratch bucket "
            f"{self.bucket}, Snova {dsn.username}@{dsn.hostname}:{dsn.port or 5432}"
            f"{dsn.path} (password hidden)"
        )


def _dsn_problems(dsn: str) -> list[str]:
    what = "SNOVA_TEST_DSN as postgresql://user:password@host:port/database"
    try:
        parts = urlsplit(dsn)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return [what + " (it does not parse)"]
    if parts.scheme not in ("postgresql", "postgres"):
        return [what + f" (scheme {parts.scheme!r})"]
    missing = [
        name
        for name, value in (
            ("user", parts.username),
            ("host", parts.hostname),
            ("database", parts.path.strip("/")),
        )
        if not value
    ]
    return [what + f" (no {', no '.join(missing)})"] if missing else []


@dataclass(frozen=True)
class TargetChoice:
    """What the environment selects.

    :param cloud: whether ``SCF_SNOVA_TEST_CLOUD`` asks for Tencent Cloud.
    :param settings: the cloud's settings, when asked for and complete.
    :param problem: why the cloud target cannot run, when asked for but not configured.
    """

    cloud: bool
    settings: CloudSettings | None = None
    problem: str | None = None

    @property
    def skip_reason(self) -> str | None:
        """Why every system test is skipped (``None``: they run)."""
        if not self.problem:
            return None
        return f"{SWITCH}=1 selects Tencent Cloud, but {self.problem}"


def choose_target(environ: Mapping[str, str]) -> TargetChoice:
    """The emulator, or Tencent Cloud when ``SCF_SNOVA_TEST_CLOUD`` is ``1``, ``true`` or
    ``yes``.

    :param environ: the environment, read before anything removes ``TENCENTCLOUD_*``.
    """
    if (environ.get(SWITCH) or "").strip().lower() not in ("1", "true", "yes"):
        return TargetChoice(cloud=False)
    try:
        return TargetChoice(cloud=True, settings=CloudSettings.from_environ(environ))
    except CloudSettingsError as err:
        return TargetChoice(cloud=True, problem=str(err))


class RunNames:
    """Names of what one test run creates, each holding the run's tag, so that two runs never
    collide and the clean-up finds all of it: ``<label>-<tag>-<n>`` (functions, triggers,
    buckets), ``<label>_<tag>_<n>`` (databases, roles) and
    ``scf-snova-tests/<tag>/<label>-<n>/`` (a test's folder of the scratch bucket).

    :param tag: the run's tag (a new one when omitted).
    """

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or new_tag()
        if not TAG_PATTERN.fullmatch(self.tag):
            raise ValueError(f"a run tag is 'it' and 6 hex digits, not {self.tag!r}")
        self._counter = itertools.count()

    def name(self, label: str = "t") -> str:
        """A function, trigger or bucket name.

        :param label: what it names.
        """
        return f"{label}-{self.tag}-{next(self._counter)}"

    def ident(self, label: str = "t") -> str:
        """A database or role name (lower case).

        :param label: what it names.
        """
        return f"{label}_{self.tag}_{next(self._counter)}".lower()

    @property
    def folder(self) -> str:
        """The run's folder in the scratch bucket."""
        return f"{TEST_FOLDER}{self.tag}/"

    def root(self, label: str = "t") -> str:
        """A fresh folder of the run's folder, for one test's objects.

        :param label: whose folder.
        """
        return f"{self.folder}{label}-{next(self._counter)}/"


def new_tag() -> str:
    """A fresh run tag."""
    return "it" + _secrets.token_hex(3)


def holds_tag(name: str, tag: str) -> bool:
    """Whether ``name`` carries the run tag ``tag`` between separators (``-``, ``_``, ``/``).

    :param name: a resource's name or an object key.
    :param tag: the run tag.
    """
    return re.search(rf"(?:^|[-_/]){re.escape(tag)}(?:[-_/]|$)", name) is not None


def tags_in(name: str) -> set[str]:
    """The run tags ``name`` carries.

    :param name: a resource's name or an object key.
    """
    return set(re.findall(rf"(?:^|[-_/])({TAG_PATTERN.pattern})(?=[-_/]|$)", name))


def _check(environ: Mapping[str, str]) -> int:
    choice = choose_target({**environ, SWITCH: "1"})
    if choice.settings is None:
        print(f"make test-cloud: skipped: {choice.problem}")
        return SKIP_STATUS
    print(f"make test-cloud: {choice.settings.describe()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``check``: whether the cloud target is configured (exit 0), or why not (exit
    :data:`SKIP_STATUS`); ``sweep``: delete what test runs left behind
    (:mod:`scf_snova_devel.cleanup`).

    :param argv: the arguments (``sys.argv[1:]`` when omitted).
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check"]:
        return _check(os.environ)
    if args[:1] == ["sweep"]:
        from scf_snova_devel.cleanup import sweep_main

        return sweep_main(args[1:])
    print(
        "usage: python -m scf_snova_devel.cloud check | "
        "sweep (--tag TAG | --stale HOURS) [--dry-run]"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
