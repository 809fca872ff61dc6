"""`permissions [--cloud aws|gcp|azure]`: the least-privilege cloud policies, built from the
``permissions`` every billing source, reader and action declares (remediation.policies).
Needs no cache and no credentials."""

from __future__ import annotations

import argparse

from finops_bot.remediation.registry import CLOUDS


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "permissions",
        parents=[common],
        help="print the least-privilege IAM policy / custom roles the bot needs, per cloud",
    )
    p.add_argument("--cloud", choices=CLOUDS, help="only this cloud (default: all three)")
    p.set_defaults(run=permissions)


def permissions(args: argparse.Namespace) -> int:
    from finops_bot.remediation.policies import render

    print(render(args.cloud))
    return 0
