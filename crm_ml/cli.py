"""The ``crm-ml`` command line."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``crm-ml``."""
    parser = argparse.ArgumentParser(prog="crm-ml", description="CRM analytics and prediction.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole pipeline on built-in data")
    demo.add_argument("--output", default="output")
    demo.add_argument("--n-customers", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from crm_ml.demo import run_demo

        run_demo(output=args.output, n_customers=args.n_customers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
