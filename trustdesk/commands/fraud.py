"""Commands of the fraud-scoring service: merchants, scores, known fraud, rule sets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from trustdesk import db
from trustdesk.commands.common import (
    Runtime,
    emit,
    err,
    fail,
    out,
    read_lines,
    runtime_of,
)
from trustdesk.fraud import known as fraud_known
from trustdesk.fraud import merchants as fraud_merchants
from trustdesk.fraud import rulesets as fraud_rulesets
from trustdesk.fraud import service as fraud_service
from trustdesk.fraud.exceptions import FraudError
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.rules import RuleSetInvalid
from trustdesk.fraud.scoring import Scoring
from trustdesk.timeutil import parse_instant

commands = typer.Typer()


# -- fraud scoring (seed 004) -------------------------------------------------------------------

fraud_app = typer.Typer(no_args_is_help=True, help="The fraud-scoring service for merchants.")
fraud_merchants_app = typer.Typer(no_args_is_help=True, help="Merchants and their API keys.")
fraud_known_app = typer.Typer(no_args_is_help=True, help="The shared known-fraud database.")
fraud_rules_app = typer.Typer(no_args_is_help=True, help="A merchant's rule set versions.")
commands.add_typer(fraud_app, name="fraud")
fraud_app.add_typer(fraud_merchants_app, name="merchants")
fraud_app.add_typer(fraud_known_app, name="known")
fraud_app.add_typer(fraud_rules_app, name="rules")
MerchantOption = Annotated[int, typer.Option("--merchant", help="Merchant id")]


def _fraud_scoring(runtime: Runtime) -> Scoring:
    fraud = runtime.settings.fraud
    return Scoring(
        Hasher(fraud.hash_key.get_secret_value()),
        runtime.policy.fraud_order_window_days,
        fraud.velocity_count_limit,
    )


def _fraud_failed(exc: Exception, as_json: bool) -> typer.Exit:
    code = getattr(exc, "code", "invalid")
    if as_json:
        emit({"error": code, "detail": str(exc)})
        return typer.Exit(1)
    return fail(f"{code}: {exc}", 1)


FRAUD_ERRORS = (FraudError, RuleSetInvalid)


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise fail(f"{path} is not JSON: {exc}") from exc


@fraud_merchants_app.command("add")
def fraud_merchants_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The merchant's name")],
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days", min=1, help="Oldest order it may score, in days (default: policy)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add a merchant with the default rule set; prints its API key once (kept only hashed)."""
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            made = fraud_merchants.add_merchant(session, name, runtime.now(), window_days)
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, as_json) from exc
    if as_json:
        emit(made.as_json())
        return
    out.print(f"merchant {made.merchant_id}: {made.name}", highlight=False, markup=False)
    out.print(f"API key (shown once): {made.api_key}", highlight=False, markup=False)


@fraud_merchants_app.command("list")
def fraud_merchants_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Merchants with their active rules version and active key ids."""
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        lines = fraud_merchants.list_merchants(session)
    for line in lines:
        if as_json:
            emit(line)
        else:
            out.print(
                f"{line['merchant_id']}\t{line['name']}\trules v{line['rules_version']}\t"
                f"keys {', '.join(line['active_keys']) or '-'}",
                highlight=False,
                markup=False,
            )


@fraud_merchants_app.command("key")
def fraud_merchants_key(ctx: typer.Context, merchant_id: Annotated[int, typer.Argument()]) -> None:
    """Issue another API key for a merchant (to rotate: issue, switch, revoke the old one)."""
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            key_id, plaintext = fraud_merchants.issue_key(session, merchant_id, runtime.now())
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, False) from exc
    out.print(f"key {key_id} (shown once): {plaintext}", highlight=False, markup=False)


@fraud_merchants_app.command("revoke")
def fraud_merchants_revoke(
    ctx: typer.Context,
    merchant_id: Annotated[int, typer.Argument()],
    key_id: Annotated[str | None, typer.Option("--key", help="Only this key id")] = None,
) -> None:
    """Revoke a merchant's API keys (all, or one with --key); they stop working at once."""
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            count = fraud_merchants.revoke(session, merchant_id, runtime.now(), key_id)
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, False) from exc
    out.print(f"{count} key(s) revoked", highlight=False)
    if not count:
        raise typer.Exit(1)


@fraud_app.command("score")
def fraud_score(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="The order as JSON; - reads stdin")],
    merchant_id: MerchantOption,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score an order in-process, with the same answer as POST /api/v1/fraud/orders."""
    runtime = runtime_of(ctx)
    document = _read_json(file)
    try:
        with db.unit_of_work(runtime.factory) as session:
            result = fraud_service.score(
                session.connection(), _fraud_scoring(runtime), merchant_id, document, runtime.now()
            )
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, as_json) from exc
    if as_json:
        emit(result)
        return
    out.print(
        f"{result['order_id']}: {result['band']} (score {result['score']}, rules "
        f"v{result['rules_version']})",
        highlight=False,
        markup=False,
    )
    for reason in result["reasons"]:
        out.print(f"  {json.dumps(reason, ensure_ascii=False)}", highlight=False, markup=False)


@fraud_known_app.command("import")
def fraud_known_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import known fraud: JSON lines {"kind": email|phone|address|device|card|ip, "value":
    ..., "note": ...}; an address is an object with postal_code, prefecture, city, street."""
    runtime = runtime_of(ctx)
    hasher = Hasher(runtime.settings.fraud.hash_key.get_secret_value())
    with db.unit_of_work(runtime.factory) as session:
        report = fraud_known.import_entries(
            session, hasher, read_lines(file), str(file), runtime.now()
        )
    if as_json:
        emit(report.as_json())
    else:
        for error in report.errors:
            err.print(f"[yellow]rejected[/yellow] {escape(error)}", highlight=False)
        out.print(
            f"{file}: {report.added} added, {report.duplicates} duplicates, "
            f"{len(report.errors)} rejected",
            highlight=False,
            markup=False,
        )
    if report.errors:
        raise typer.Exit(1)


@fraud_rules_app.command("list")
def fraud_rules_list(
    ctx: typer.Context,
    merchant_id: MerchantOption,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The merchant's rule set versions, the active one marked."""
    try:
        with db.unit_of_work(runtime_of(ctx).factory) as session:
            merchant = fraud_merchants.get_merchant(session, merchant_id)
            lines = fraud_rulesets.list_versions(session, merchant)
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, as_json) from exc
    for line in lines:
        if as_json:
            emit(line)
        else:
            mark = "*" if line["active"] else " "
            out.print(
                f"{mark} v{line['rules_version']}\t{len(line['rules'])} rules\t"
                f"{line['created_at']}\t{line['note']}",
                highlight=False,
                markup=False,
            )


@fraud_rules_app.command("add")
def fraud_rules_add(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help='JSON {"rules": [...], "thresholds": {...}}')],
    merchant_id: MerchantOption,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Validate and store a new rule set version (not active until `fraud rules activate`)."""
    runtime = runtime_of(ctx)
    document = _read_json(file)
    try:
        with db.unit_of_work(runtime.factory) as session:
            merchant = fraud_merchants.get_merchant(session, merchant_id)
            if not isinstance(document, dict):
                raise RuleSetInvalid(["the file must hold a JSON object"])
            row = fraud_rulesets.create_version(session, merchant, document, runtime.now())
            line = fraud_rulesets.version_json(row, merchant.active_version)
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, as_json) from exc
    if as_json:
        emit(line)
    else:
        out.print(f"stored rules v{line['rules_version']} (inactive)", highlight=False)


@fraud_rules_app.command("backtest")
def fraud_rules_backtest(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument()],
    merchant_id: MerchantOption,
    limit: Annotated[int, typer.Option(help="Newest N scored orders")] = 10000,
) -> None:
    """How the bands of past scored orders would change under VERSION (JSON)."""
    try:
        with db.unit_of_work(runtime_of(ctx).factory, reading=True) as session:
            merchant = fraud_merchants.get_merchant(session, merchant_id)
            emit(fraud_rulesets.backtest(session, merchant, version, limit=limit))
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, True) from exc


@fraud_rules_app.command("activate")
def fraud_rules_activate(
    ctx: typer.Context, version: Annotated[int, typer.Argument()], merchant_id: MerchantOption
) -> None:
    """Score the merchant's orders with VERSION from now on."""
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            merchant = fraud_merchants.get_merchant(session, merchant_id)
            fraud_rulesets.activate(session, merchant, version, runtime.now())
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, False) from exc
    out.print(f"merchant {merchant_id}: rules v{version} active", highlight=False)


@fraud_app.command("report")
def fraud_report(
    ctx: typer.Context,
    merchant_id: MerchantOption,
    start: Annotated[str | None, typer.Option("--from", help="Shipped from (ISO 8601)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Shipped before (ISO 8601)")] = None,
) -> None:
    """Chargeback guarantee report (seed 004 §25): shipped orders covered and not (JSON)."""
    try:
        moments = [parse_instant(value) if value else None for value in (start, end)]
    except ValueError as exc:
        raise fail(str(exc)) from exc
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        emit(fraud_service.guarantee_report(session, merchant_id, *moments))
