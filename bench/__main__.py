"""``python -m bench [name ...]``: seed a database once, run the benchmarks, print figures."""

import argparse
import importlib
import os
import sys

from bench.harness import Environment, machine
from crm.demo.plan import SCALES

# name -> module; later benchmarks (sweep, API, dashboards) are added here.
BENCHMARKS = {
    "firms": "bench.firms",
    "sweep": "bench.sweep",
    "api": "bench.api",
    "workspace": "bench.workspace",
    "policies": "bench.policies",
    "stats": "bench.stats",
}
# Run only when named: stats loads half a million demands of its own (make bench runs it
# separately, at city scale).
ON_REQUEST = ("stats",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Seed a demo database and print how fast the CRM is on it. "
        "BENCH_DATABASE_URL picks the database (default: a new SQLite file under /tmp).",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="name",
        help=f"benchmarks to run: {', '.join(BENCHMARKS)} "
        f"(default: all but {', '.join(ON_REQUEST)})",
    )
    parser.add_argument("--scale", choices=list(SCALES), default="district")
    parser.add_argument("--requests", type=int, default=50, help="timed runs per measurement")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    print(f"bench      {machine()}, scale {args.scale}")
    url = os.environ.get("BENCH_DATABASE_URL") or None
    names = args.names or [n for n in BENCHMARKS if n not in ON_REQUEST]
    modules = [importlib.import_module(BENCHMARKS[n]) for n in names]
    # Data some benchmarks need beyond the demo seed (bench.city for stats), loaded once.
    extras = list(dict.fromkeys(extra for m in modules for extra in getattr(m, "DATA", ())))
    with Environment(scale=args.scale, url=url, keep=args.keep, extras=extras) as env:
        for module in modules:
            module.run(env, requests=args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
