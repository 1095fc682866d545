"""1. DAG-parse cost: the wall time a DAG file pays to import our operator, sensor, transfer and
trigger modules, against the Amazon provider's Lambda operator and S3 sensor modules.

Each import runs in a fresh interpreter that first imports ``airflow.sdk`` (what every DAG file
does); the figure is ``time.perf_counter()`` around the one ``import`` after it. The baseline
interpreter imports only ``airflow.sdk``. The child also reports whether an SDK or a database
driver got loaded: our modules must load none.

Run alone: ``python -m bench.parse_cost [--reps N]``.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import (
    PYTHON,
    Section,
    Verdict,
    load_average,
    median,
    publish_as_asked,
    run_child,
    script_parser,
    spread,
)

OURS = [
    "airflow_scf_snova.operators.scf",
    "airflow_scf_snova.operators.cos",
    "airflow_scf_snova.operators.snova",
    "airflow_scf_snova.sensors.scf",
    "airflow_scf_snova.sensors.cos",
    "airflow_scf_snova.transfers.cos_to_snova",
    "airflow_scf_snova.transfers.snova_to_cos",
    "airflow_scf_snova.triggers.scf",
    "airflow_scf_snova.triggers.cos",
]
PEERS = [
    "airflow.providers.amazon.aws.operators.lambda_function",
    "airflow.providers.amazon.aws.sensors.s3",
]
#: What some of ours (and any class of their kind) build on, shown for reference: every SQL
#: operator imports common.sql's, every trigger module airflow.triggers.base.
REFERENCES = [
    "airflow.providers.common.sql.operators.sql",
    "airflow.triggers.base",
]
#: Our modules that are a subclass of a reference: their cost is compared with it too.
BASES = {"airflow_scf_snova.operators.snova": "airflow.providers.common.sql.operators.sql"}
BASELINE = "(airflow.sdk only)"
#: Must never be imported by a DAG file that only uses our classes.
FORBIDDEN = ("tencentcloud", "qcloud_cos", "psycopg2", "psycopg", "boto3", "botocore")
GOAL = 0.20

# One fresh interpreter per round imports ``airflow.sdk`` and then forks one child per module:
# each child starts from exactly the baseline state (an interpreter that imported only
# airflow.sdk), imports its module, reports and exits. ``import airflow.sdk`` costs several
# seconds here, so a fresh interpreter per import would make this benchmark alone take minutes.
# ``--fresh`` does that instead, to check that the two methods agree.
_ZYGOTE = """
import json, os, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
forbidden = set(sys.argv[2].split(","))


def one(name):
    base = None
    if ">" in name:  # "base>module": import base first, untimed; time module on top of it
        base, name = name.split(">")
        __import__(base)
    n0 = len(sys.modules)
    cpu = time.process_time()
    start = time.perf_counter()
    if name:
        __import__(name)
    end = time.perf_counter()
    return {
        "name": f"{base}>{name}" if base else name,
        "import_s": end - start,
        "cpu_s": time.process_time() - cpu,
        "modules": len(sys.modules) - n0,
        "loaded": sorted({m.split(".")[0] for m in sys.modules} & forbidden),
    }


if sys.argv[3] == "fresh":
    print(json.dumps({"sdk_s": t1 - t0, "results": [one(sys.argv[1])]}))
    sys.exit(0)
# Without this, the first garbage collection in a child walks (and so copies) the whole heap
# that importing airflow.sdk built: a cost of forking, not of the import.
import gc
gc.freeze()
results = []
for name in sys.argv[1].split(","):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.write(write_end, json.dumps(one(name)).encode())
        os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    results.append(json.loads(data))
print(json.dumps({"sdk_s": t1 - t0, "results": results}))
"""


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _compile_bytecode() -> None:
    """Write our package's ``.pyc`` files, as installing a wheel does (pip compiled the Amazon
    provider's at install). An editable install has none, and with ``PYTHONDONTWRITEBYTECODE``
    set (as on this machine) Python never writes them: every import would compile the source
    again, which is most of the cost (we measured 49 ms of 70 ms for ``operators.scf``)."""
    import compileall

    import scf_snova_core

    import airflow_scf_snova

    # The provider and its core: both are installed from wheels in a deployment.
    for package in (airflow_scf_snova, scf_snova_core):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def measure_round(modules: list[str], fresh: bool = False) -> tuple[float, dict[str, dict]]:
    """One round: every module imported once after ``airflow.sdk`` (``""`` is the baseline).

    :param fresh: a new interpreter per module instead of forks of one.
    :returns: the seconds ``import airflow.sdk`` took, and module -> its measurement.
    """
    batches = [[m] for m in modules] if fresh else [modules]
    sdk, results = [], {}
    for batch in batches:
        child = run_child(
            [PYTHON, "-c", _ZYGOTE, ",".join(batch), ",".join(FORBIDDEN), "fresh" if fresh else ""]
        )
        report = json.loads([ln for ln in child.stdout.splitlines() if ln.startswith("{")][-1])
        sdk.append(report["sdk_s"])
        for item in report["results"]:
            results[item["name"]] = item
    return median(sdk), results


def run(
    reps: int = 5,
    warmup: int = 1,
    ours: list[str] | None = None,
    peers: list[str] | None = None,
    fresh: bool = False,
    references: list[str] | None = None,
) -> Section:
    """Measure every module ``reps`` times, interleaved: one round imports each module once, in
    an order rotated every round.

    :param ours: our modules (default: every operator, sensor, transfer and trigger module).
    :param peers: the Amazon modules; those not installed are left out (and the goal is then
        reported as not measured).
    :param fresh: one fresh interpreter per import (slow) instead of forks of one per round.
    """
    load_before = load_average()
    ours = list(OURS if ours is None else ours)
    wanted_peers = list(PEERS if peers is None else peers)
    peers = [p for p in wanted_peers if _importable(p)]
    missing = [p for p in wanted_peers if p not in peers]
    references = [r for r in (REFERENCES if references is None else references) if _importable(r)]
    _compile_bytecode()
    # Our module measured again on top of what it subclasses (imported first, untimed): the
    # cost that is ours.
    on_top = [f"{BASES[m]}>{m}" for m in ours if BASES.get(m) in references]
    modules = [""] + ours + peers + references + on_top
    results: dict[str, list[dict]] = {m: [] for m in modules}
    sdk_seconds = []
    # The warm-up rounds also write the .pyc files a fresh clone does not have yet.
    for round_no in range(warmup + reps):
        shift = round_no % len(modules)
        sdk_s, measured = measure_round(modules[shift:] + modules[:shift], fresh=fresh)
        if round_no >= warmup:
            sdk_seconds.append(sdk_s)
            for module, value in measured.items():
                results[module].append(value)

    def ms(module: str) -> list[float]:
        return [r["import_s"] * 1000 for r in results[module]]

    peer_ms = {p: median(ms(p)) for p in peers}
    reference = min(peer_ms.values()) if peer_ms else None
    rows = []
    for module in modules:
        samples = results[module]
        loaded = sorted({m for r in samples for m in r["loaded"]})
        label = module.replace("airflow_scf_snova.", "").replace(
            "airflow.providers.amazon.aws.", "amazon: "
        )
        if module in references:
            label = f"reference: {module}"
        if module in on_top:
            base, mine = module.split(">")
            label = f"{mine.replace('airflow_scf_snova.', '')}, after {base}"
        rows.append(
            [
                label or BASELINE,
                median(ms(module)),
                spread(ms(module)),
                median([r["cpu_s"] * 1000 for r in samples]),
                median([r["modules"] for r in samples]),
                ", ".join(loaded) or "none",
                f"{median(ms(module)) / reference:.0%}" if reference and module in ours else "",
            ]
        )

    verdicts = []
    own = [m for m in ours if BASES.get(m) not in references]
    worst = max(own, key=lambda m: median(ms(m))) if own else None
    if worst is not None and reference is not None:
        worst_ms = median(ms(worst))
        verdicts.append(
            Verdict(
                f"DAG-parse: each of our modules costs <= {GOAL:.0%} of Amazon's cheaper module "
                "(Lambda operator / S3 sensor)",
                f"worst: {worst.split('.', 1)[1]} {worst_ms:.1f} ms vs {reference:.1f} ms",
                f"{worst_ms / reference:.2f}x",
                worst_ms <= GOAL * reference,
            )
        )
    elif worst is not None:
        verdicts.append(
            Verdict(
                f"DAG-parse: each of our modules costs <= {GOAL:.0%} of Amazon's",
                f"Amazon provider not installed ({', '.join(missing)}): `make bench` installs it",
                "-",
                None,
            )
        )
    for module in ours:
        base = BASES.get(module)
        if base not in references or reference is None:
            continue
        mine, theirs = median(ms(module)), median(ms(base))
        own_part = median(ms(f"{base}>{module}"))
        verdicts.append(
            Verdict(
                f"DAG-parse: {module.split('.', 1)[1]} <= {GOAL:.0%} of Amazon's (it subclasses "
                "common-sql's SQLExecuteQueryOperator)",
                f"{mine:.1f} ms vs {reference:.1f} ms; {base} alone: {theirs:.1f} ms; ours on "
                f"top of it: {own_part:.2f} ms",
                f"{mine / reference:.2f}x",
                mine <= GOAL * reference,
            )
        )
    leaked = sorted({m for mod in ours for r in results[mod] for m in r["loaded"]})
    verdicts.append(
        Verdict(
            "DAG-parse: no SDK or driver loaded (tencentcloud, qcloud_cos, psycopg2)",
            "none loaded" if not leaked else f"loaded: {', '.join(leaked)}",
            "-",
            not leaked,
        )
    )

    def chart(plt, fig) -> None:
        ax = fig.add_subplot(1, 1, 1)
        names = [r[0] for r in rows[1:]]
        values = [r[1] for r in rows[1:]]
        colours = [
            "#c44e52" if n.startswith("amazon") else "#999999" if n.startswith("ref") else "#0052d9"
            for n in names
        ]
        ax.barh(names[::-1], values[::-1], color=colours[::-1])
        if reference:
            ax.axvline(GOAL * reference, color="grey", linestyle="--", label="goal: 20% of Amazon")
            ax.legend(loc="lower right")
        ax.set_xlabel("median import time after airflow.sdk (ms)")

    how = (
        "a fresh interpreter per import"
        if fresh
        else "one fresh interpreter per round imports `airflow.sdk`, then forks one child per "
        "module, so every import starts from exactly the baseline state"
    )
    method = f"""
Each import runs after `import airflow.sdk` ({how}); the figure is `time.perf_counter()` around
the one import, the median of {reps} rounds after {warmup} warm-up round(s). Our packages' `.pyc`
files (the provider's and the core's) are written first (`compileall`), as a wheel install does:
the Amazon provider's were written by pip. A round imports every module once, in an order
rotated every round. `import airflow.sdk` itself takes {median(sdk_seconds):.1f} s (median) here
and is the same for everyone.
*CPU* is the child's own CPU time for the import (`time.process_time()`), which the other
engineers' load on this shared machine inflates less than the wall time. *Loaded* lists the SDKs
and drivers found in `sys.modules` afterwards; *vs Amazon* is the ratio to the cheaper Amazon
module. The *reference* rows are what some of ours build on, measured alone: common-sql's
`SQLExecuteQueryOperator` (the base of `SnovaSQLOperator`, and of every SQL operator) and
`airflow.triggers.base` (imported by every trigger module). The *after* row imports that base
first, untimed, then times our module: the part of its cost that is ours.
"""
    headers = [
        "Module",
        "Import (ms, median)",
        "Range (ms)",
        "CPU (ms, median)",
        "Modules added",
        "Loaded",
        "vs Amazon",
    ]
    return Section(
        name="parse_cost",
        title="1. DAG-parse cost",
        method=method,
        headers=headers,
        rows=rows,
        verdicts=verdicts,
        chart=chart,
        load_before=load_before,
        load_after=load_average(),
    )


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, reps=5)
    parser.add_argument("--fresh", action="store_true", help="a new interpreter per import")
    args = parser.parse_args(argv)
    publish_as_asked(run(reps=args.reps, fresh=args.fresh), args)


if __name__ == "__main__":
    main()
