"""The command-line reference, generated from the click commands themselves (`modelcard.cli.cli`): every command
with its help, usage, arguments and options (their spellings, types, defaults and help), through click's own
API, so a command or option added to the code appears here without a change."""

from __future__ import annotations

import inspect
from pathlib import PurePath
from typing import Any

from sitegen.markdown import cell, code, generated_note, table


def unset(value: Any) -> bool:
    """click >= 8.3 marks "no default given" with a sentinel object instead of None."""
    return value is None or type(value).__name__ == "Sentinel"


def shown_default(param: Any, ctx: Any) -> str:
    if isinstance(param.show_default, str):  # the command's own wording of a default it computes
        return cell(param.show_default)
    value = param.get_default(ctx)
    if getattr(param, "is_flag", False) and not getattr(param, "secondary_opts", None):
        return "off" if not value else "on"
    if unset(value):
        return "—"
    return code(str(value) if isinstance(value, PurePath) else value)


def shown_type(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False):
        return "flag"
    metavar = param.make_metavar(ctx)
    return code(metavar)


# The order a user meets the commands in: make a card, look, measure, gate, compare, export, then the tools.
WORKFLOW = ("generate", "inspect", "probe", "check", "diff", "export", "render", "validate")


def first_sentence(command: Any) -> str:
    """The command's help up to its first full stop, whole (click's short help cuts it with an ellipsis)."""
    text = " ".join(help_text(command).split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def help_text(command: Any) -> str:
    return inspect.cleandoc(command.help or command.short_help or "")


def command_section(prog: str, name: str, command: Any, parent: Any) -> str:
    import click

    ctx = click.Context(command, info_name=name, parent=parent)
    usage = " ".join([prog, name, *command.collect_usage_pieces(ctx)])
    out = [f"\n## `{prog} {name}` {{#{name}}}\n\n{help_text(command)}\n\n```text\n{usage}\n```\n\n"]
    arguments = [p for p in command.get_params(ctx) if isinstance(p, click.Argument)]
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option)]
    if arguments:
        out.append(table(["Argument", "Required", "Takes"],
                         [[code(p.make_metavar(ctx)), "yes" if p.required else "no",
                           "one or more" if p.nargs == -1 else "one"] for p in arguments]))
        out.append("\n")
    out.append(table(["Option", "Takes", "Default", "Description"],
                     [[", ".join(code(o) for o in [*p.opts, *p.secondary_opts]), shown_type(p, ctx),
                       shown_default(p, ctx), cell(p.help or "")] for p in options]))
    return "".join(out)


def cli_reference_markdown(group: Any, prog: str = "modelcard") -> str:
    import click

    root = click.Context(group, info_name=prog)
    listed = group.list_commands(root)
    names = [name for name in WORKFLOW if name in listed] + sorted(set(listed) - set(WORKFLOW))
    out = ["# Command line\n\n",
           f"Every command and option of `{prog}`, generated from its click commands when this site was built. "
           "Options that load a model (`--device`, `--dtype`, `--attn-implementation`, `--trust-remote-code`, "
           "`--allow-pickle`, `--revision`) mean the same on every command that takes them. Exit codes are in the "
           "[reference overview](index.md#exit-codes).\n\n",
           f"```text\n{prog} [--version] [-h | --help] COMMAND [ARGS]...\n```\n\n",
           f"{help_text(group)}\n\n"]
    out.append(table(["Command", "Does"], [[f"[`{name}`](#{name})", cell(first_sentence(group.get_command(root, name)))]
                                           for name in names]))
    for name in names:
        out.append(command_section(prog, name, group.get_command(root, name), root))
    out.append(generated_note("the click commands in `modelcard/cli.py`"))
    return "".join(out)
