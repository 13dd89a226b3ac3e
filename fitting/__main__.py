"""The fitting engine's command line: `python -m fitting <command> ...`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _cmd_probe(args: argparse.Namespace) -> int:
    from fitting.probe import host_capabilities

    report = host_capabilities(args.device, [b.strip() for b in args.backends.split(",") if b.strip()])
    if args.json:
        print(json.dumps(report))
    else:
        torch_info = report["torch"]
        print(f"torch {torch_info['torch_version']}: device {torch_info['device'] or torch_info['error']}")
        for probe in report["renderer"]["probes"]:
            state = "ok" if probe["ok"] else "failed"
            print(f"renderer {probe['backend']}: {state} ({probe['detail']})")
        print(f"renderer in use: {report['renderer']['backend'] or 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fitting", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    probe = sub.add_parser("probe", help="report the torch device and the headless renderer that work here")
    probe.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    probe.add_argument("--backends", default="egl,osmesa", help="render backends to try, in order")
    probe.add_argument("--json", action="store_true", help="print one JSON object")
    probe.set_defaults(func=_cmd_probe)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
