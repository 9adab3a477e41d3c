"""``supplynet api schema``: print or write the GraphQL schema (SDL); ``--check`` lists breaking changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def schema_sdl() -> str:
    """The live schema in SDL (development flavour: introspection does not change the SDL)."""
    from api.schema import build_schema

    return build_schema(production=False).as_str() + "\n"


def breaking_changes(committed_sdl: str, live_sdl: str) -> list[str]:
    """Breaking changes from the committed schema to the live one, one line each ('' none)."""
    from graphql import build_schema as parse_sdl
    from graphql.utilities import find_breaking_changes

    return [
        f"{c.type.name}: {c.description}"
        for c in find_breaking_changes(parse_sdl(committed_sdl), parse_sdl(live_sdl))
    ]


def register(app: typer.Typer) -> None:
    api_app = typer.Typer(help="The GraphQL API.")
    app.add_typer(api_app, name="api")

    @api_app.command("schema")
    def schema(
        out: Annotated[Path | None, typer.Option(help="Write the SDL here (default: print it)")] = None,
        check: Annotated[
            Path | None, typer.Option(help="Compare with this committed SDL; exit 1 on breaking changes")
        ] = None,
    ) -> None:
        """Print or write the GraphQL schema; with --check, list breaking changes against a committed copy."""
        sdl = schema_sdl()
        if check is not None:
            found = breaking_changes(check.read_text(encoding="utf-8"), sdl)
            for line in found:
                typer.echo(line)
            if found:
                raise typer.Exit(1)
            typer.echo(f"no breaking changes against {check}")
            return
        if out is None:
            typer.echo(sdl, nl=False)
        else:
            out.write_text(sdl, encoding="utf-8")
            typer.echo(f"wrote {out}")
