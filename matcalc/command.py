"""The command boundary, shared by every command module (cli.py, verify_cmd.py, ...).

`run_action` turns what can go wrong into an exit code and one message on stderr: a user's error
(MatcalcError) exit 2 with its caret; an output that cannot be written (a full disk, /dev/full) exit 2;
a bug exit 3, without a traceback. Text that came from the user (file and identity names, messages
quoting them) is printed through `safe_text`, so it cannot send escape sequences to the terminal;
files are written by `write_file`, which never writes through a symbolic link or over an input.
"""
from __future__ import annotations

import errno
import functools
import os
import sys
import tempfile
import typing
from pathlib import Path

import typer

from .errors import MatcalcError, UsageError


class _PlainHelp:
    """Help without typer's type tags (`<bool>`, `<str>`): flags show nothing, values their metavar;
    values converted without pydantic (`_convert_plainly`)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        for param in self.params:
            _convert_plainly(param)

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
            _convert_plainly(option)
        return option


class Group(_PlainHelp, typer.core.TyperGroup):
    """The matcalc app's group of commands."""


class Command(_PlainHelp, typer.core.TyperCommand):
    """A command whose help names its arguments as the README does: `grad [OPTIONS] EXPR VAR` (typer
    would write `{EXPR} {VAR}`), without type tags."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        for param in self.params:
            if param.param_type_name == "argument":
                param.display_type_rich = lambda ctx: None       # the metavar says it (EXPR, VAR)

    def collect_usage_pieces(self, ctx):
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or param.name.upper()
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces += param.get_usage_pieces(ctx)
        return pieces


def _convert_plainly(param):
    """typer ≥ 0.26 converts each value through a pydantic TypeAdapter, and loading pydantic takes
    50 to 100 ms of a command's start-up. matcalc's values are strings, flags, integers in a range and
    lists of them: they are converted here, as the adapter would, with its messages. Other parameters, or a
    typer without that layer, keep typer's own conversion."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None or getattr(param, "_runtime_param", False) is not None:
        return
    info = desc.parameter_info
    if _leaf(desc.annotation) in (str, int, bool) and info.parser is None and not info.clamp \
            and desc.file_annotation is None:
        param._runtime_param = _plain_value_class()(info, desc.annotation)


def _leaf(annotation):
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation


@functools.cache
def _plain_value_class():
    from typer._coercion import RuntimeParam

    class PlainValue(RuntimeParam):
        def _coerce_value(self, value, param, ctx):
            kind = _leaf(self.annotation)
            try:
                if isinstance(value, (list, tuple)):
                    return [_plain_value(kind, v, self.parameter_info) for v in value]
                return _plain_value(kind, value, self.parameter_info)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), ctx=ctx, param=param) from None

    return PlainValue


def _plain_value(kind, value, info):
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if kind is bool:            # a flag's value is True or False (typer passes no other to a flag)
        if isinstance(value, bool):
            return value
        raise ValueError("Input should be a valid boolean")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("Input should be a valid integer, unable to parse string as an integer") from None
    if info.min is not None and number < info.min:
        raise ValueError(f"Input should be greater than or equal to {info.min}")
    if info.max is not None and number > info.max:
        raise ValueError(f"Input should be less than or equal to {info.max}")
    return number


def safe_text(s: str) -> str:
    """`s` with every control or other non-printable character (ESC, BEL, C1 codes, U+FFFE…) as �;
    line breaks are kept, a tab becomes a space."""
    return "".join(c if c.isprintable() or c == "\n" else " " if c == "\t" else "\ufffd" for c in s)


def error(message: str, code: int = 2) -> typer.Exit:
    """Print `message` on stderr (made safe) and return the Exit to raise."""
    sys.stderr.write(safe_text(message) + "\n")
    return typer.Exit(code)


def note(message: str) -> None:
    sys.stderr.write(safe_text(f"note: {message}") + "\n")


def run_action(action):
    """Run a command's action: its errors become messages and exit codes, never tracebacks."""
    try:
        value = action()
        sys.stdout.flush()      # a full disk shows here, not after the exit code is decided
        return value
    except MatcalcError as err:
        raise error(err.render(), err.exit_code)
    except RecursionError:
        raise error("limit exceeded: the expression is too deeply nested")
    except (typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):
        raise
    except OSError as exc:      # the output cannot be written: the machine's limit, not a bug
        drop_stdout()
        raise error(f"error: cannot write the output: {exc.strerror or exc}")
    except MemoryError:
        raise error("limit exceeded: out of memory")
    except Exception as exc:   # a bug: say so plainly, without a traceback
        raise error(f"internal error: {type(exc).__name__}: {exc}\n"
                    "This is a bug in matcalc; please report it with the command you ran.", 3)


def drop_stdout():
    """After a failed write, what is still buffered for stdout would fail again at exit: discard it."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def console(plain: bool = False, file=None, width: int | None = None):
    """A rich console for results: no highlighting of numbers, colour unless plain."""
    from rich.console import Console
    return Console(highlight=False, no_color=plain, soft_wrap=True, file=file, width=width)


def styled_output(file=None) -> bool:
    """Whether rich would write escape sequences (colour, bold) to `file`, standard output by default:
    a terminal, unless TTY_COMPATIBLE=0; anything when TTY_COMPATIBLE=1 or FORCE_COLOR is set (rich's
    rules). When not, the same text written plainly spares loading rich (≈ 30 ms of start-up)."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    if "FORCE_COLOR" in os.environ:
        return os.environ["FORCE_COLOR"] != ""
    try:
        return (file or sys.stdout).isatty()
    except (AttributeError, ValueError):
        return False


PIPED_WIDTH = 100    # columns of wrapped output (--steps) when stdout is not a terminal


def output_width() -> int:
    """The terminal's width, or 100 columns when stdout is a pipe or a file."""
    if sys.stdout.isatty():
        try:
            return os.get_terminal_size(sys.stdout.fileno()).columns
        except OSError:
            pass
    cols = os.environ.get("COLUMNS", "")
    return int(cols) if cols.isdigit() and int(cols) > 0 else PIPED_WIDTH


def check_target(path: str, force: bool = False, inputs=(), what: str = "the output") -> None:
    """Refuse, with a UsageError, a file `write_file` must not write: an existing file without force,
    a symbolic link without force (with force the link itself is replaced, its target never written),
    a device, FIFO or folder, one of the command's `inputs`."""
    import stat
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    if any(_same(path, i) for i in inputs):
        raise UsageError(f"{what} {path} is one of the input files; an input is never overwritten")
    if stat.S_ISLNK(st.st_mode):
        if not force:
            raise UsageError(f"{path} is a symbolic link; matcalc does not write through links",
                             hint="name the file itself, or add --force to replace the link by the file")
    elif not stat.S_ISREG(st.st_mode):
        raise UsageError(f"cannot write {what} {path}: it is not a regular file")
    elif not force:
        raise UsageError(f"{path} exists; matcalc does not overwrite files", hint="add --force to replace it")


def write_file(path: str, data: str | bytes, force: bool = False, inputs=(), what: str = "the output") -> None:
    """Write `data` (text as UTF-8) to the regular file `path` after `check_target`, atomically: the
    data goes to a temporary file in the same folder, which then takes the name."""
    check_target(path, force, inputs, what)
    p = Path(path)
    folder = p.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        reason = "no space left on the device" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise UsageError(f"cannot write {what} {path}: {reason}") from None


def _same(p: Path, other) -> bool:
    try:
        return os.path.samefile(p, other)
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
