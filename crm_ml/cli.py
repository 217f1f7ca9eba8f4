"""The ``crm-ml`` command line.

User errors (bad input, a missing model) end with a one-line message and exit code 2,
never a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from crm_ml.errors import CrmMlError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-ml",
                                     description="Scores and forecasts from CRM data.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole pipeline on built-in data")
    demo.add_argument("--output", default="output", help="folder for output tables")
    demo.add_argument("--models-dir", default="models", help="folder for model cards")
    demo.add_argument("--n-customers", type=int, default=5000, help="size of the built-in data")
    demo.add_argument("--seed", type=int, default=0)

    card = sub.add_parser("card", help="regenerate a model card from the registry")
    card.add_argument("model", help="registered model name, e.g. crm-churn")
    card.add_argument("--alias", default="champion", help="alias or version number")
    card.add_argument("--models-dir", default="models")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from crm_ml.demo import run_demo

        run_demo(output=args.output, n_customers=args.n_customers, seed=args.seed,
                 models_dir=args.models_dir)
        return 0
    if args.command == "card":
        from crm_ml.cards import card_from_registry

        paths = card_from_registry(args.model, alias=args.alias, models_dir=args.models_dir)
        for kind, path in paths.items():
            print(f"{kind}: {path}")
        return 0
    raise AssertionError(f"unhandled command {args.command}")  # argparse prevents this


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``crm-ml``; returns the exit code."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.quiet:
        from crm_ml import set_progress

        set_progress(False)
    try:
        return _run(args)
    except (CrmMlError, FileNotFoundError) as exc:
        if args.debug:
            raise
        print(f"crm-ml {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
