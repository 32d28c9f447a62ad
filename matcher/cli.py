"""The ``matcher`` command line. Each group of commands lives in :mod:`matcher.commands`; this file wires them."""

from __future__ import annotations

import typer

from matcher.commands import audit, data, demo, keys, models, rerank, serve, synth, taxonomy

app = typer.Typer(
    name="matcher",
    help="Matching engine for Danish job centres: citizens × vacancies and hybrid-internship slots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(taxonomy.app, name="taxonomy")
app.add_typer(models.app, name="models")
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.command("import")(data.import_file)
app.command("export")(data.export)
app.command("synth")(synth.synth)
app.command("rerank")(rerank.rerank)

if __name__ == "__main__":  # pragma: no cover
    app()
