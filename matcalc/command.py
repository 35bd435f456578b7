"""The command boundary, shared by every command module (cli.py, verify_cmd.py, ...).

`run_action` turns what can go wrong into an exit code and one message on stderr: a user's error
(MatcalcError) exit 2 with its caret; an output that cannot be written (a full disk, /dev/full) exit 2;
a bug exit 3, without a traceback. Text that came from the user (file and identity names, messages
quoting them) is printed through `safe_text`, so it cannot send escape sequences to the terminal;
files are written by `write_file`, which never writes through a symbolic link or over an input.
"""
from __future__ import annotations

import os
import sys

from .errors import MatcalcError, UsageError


def safe_text(s: str) -> str:
    """`s` with every control or other non-printable character (ESC, BEL, C1 codes, U+FFFE…) as �;
    line breaks are kept, a tab becomes a space."""
    return "".join(c if c.isprintable() or c == "\n" else " " if c == "\t" else "\ufffd" for c in s)


def note(message: str) -> None:
    sys.stderr.write(safe_text(f"note: {message}") + "\n")


def run_action(action) -> int:
    """Run a command's action; its exit code: the action's own (0 when it returns none), or that of what
    went wrong, said in one message on stderr, never a traceback."""
    try:
        code = action()
        sys.stdout.flush()      # a full disk shows here, not after the exit code is decided
        return code if isinstance(code, int) else 0
    except MatcalcError as err:
        return _fail(err.render(), err.exit_code)
    except RecursionError:
        return _fail("limit exceeded: the expression is too deeply nested")
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:     # the reader left (`matcalc … | head -1`): nothing more to say
        drop_stdout()
        return 1
    except OSError as exc:      # the output cannot be written: the machine's limit, not a bug
        drop_stdout()
        return _fail(f"error: cannot write the output: {exc.strerror or exc}")
    except MemoryError:
        return _fail("limit exceeded: out of memory")
    except Exception as exc:   # a bug: say so plainly, without a traceback
        return _fail(f"internal error: {type(exc).__name__}: {exc}\n"
                     "This is a bug in matcalc; please report it with the command you ran.", 3)


def _fail(message: str, code: int = 2) -> int:
    """Print `message` on stderr (made safe); the exit code."""
    try:
        sys.stderr.write(safe_text(message) + "\n")
        sys.stderr.flush()
    except OSError:         # stderr itself is gone: the exit code says it
        pass
    return code


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
    import errno
    import tempfile
    from pathlib import Path

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


def _same(p, other) -> bool:
    try:
        return os.path.samefile(p, other)
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
