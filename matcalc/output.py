"""How a derivative is shown: terminal text, LaTeX, pictures (PNG, SVG), code or JSON.

`render` is what the command line calls. Every format can go to a file with
`output=`; pictures must (they are rendered by the real TeX engine, latex →
dvipng or dvisvgm, in a temporary directory).
"""
from __future__ import annotations

import io
import math
import sys
from pathlib import Path

from .command import PIPED_WIDTH, check_target, console, output_width, safe_text, styled_output, write_file
from .errors import MatcalcError, UsageError
from .shapes import fmt_shape

_KIND_SYMBOL = {"grad": "∇", "jacobian": "J", "hessian": "H", "vjp": "Jᵀg", "jvp": "Jv"}
CODE_FORMATS = ("numpy", "torch", "jax")
PICTURE_FORMATS = ("png", "svg")

# The preamble every piece of LaTeX matcalc writes compiles with (amssymb for \oslash, \mathbb).
TEX_PACKAGES = ("amsmath", "amssymb", "bm")
PNG_DPI = 300


class RenderError(MatcalcError):
    """A picture could not be made: TeX is missing or failed. Exit code 2, like every user-facing error."""

    kind = "render error"


def render(result, fmt: str, report=None, steps=False, plain=False, latex_style="bold", equation=False,
           output: str | None = None, with_value: bool = False, standalone: bool = False, force: bool = False,
           name: str | None = None):
    """Show a Result in one format: on standard output, or in the file `output` (a new file; with force
    an existing one is replaced, see command.write_file)."""
    check_options(fmt, output, with_value, equation, latex_style, standalone, name)
    if output:
        check_target(output, force)          # refused before any work, not after TeX has run
    if fmt != "json":       # notes and assumptions go to stderr: stdout holds the result alone
        for note in list(result.notes) + list(result.assumptions):
            print(f"note: {note}", file=sys.stderr)
    if fmt in PICTURE_FORMATS:
        render_picture(result, fmt, output, latex_style, force)
        _wrote(output)
        _report_to_stderr(report)
        return
    if fmt == "json":
        import json
        text = json.dumps(as_json(result, report, latex_style), ensure_ascii=False, indent=2)
    elif fmt == "latex" and standalone:
        text = tex_document(latex_equation(result, latex_style)).rstrip("\n")
    elif fmt == "latex":
        text = latex_equation(result, latex_style) if equation else result.latex_of(latex_style)
    elif fmt in CODE_FORMATS:
        from .codegen import function_code
        text = function_code(result, fmt, with_value=with_value, name=name).rstrip("\n")
    else:
        text = None
    if text is not None:
        if output:
            write_file(output, text + "\n", force)
            _wrote(output)
        else:
            print(text)
        if fmt != "json":
            _report_to_stderr(report)
        return
    if output:      # terminal text to a file: the same lines, without colour
        buf = io.StringIO()
        _terminal(result, report, steps, plain, console(plain=True, file=buf, width=PIPED_WIDTH))
        write_file(output, buf.getvalue(), force)
        _wrote(output)
        return
    rich_needed = (steps and result.steps and not plain) or styled_output()
    _terminal(result, report, steps, plain, console(plain, width=output_width()) if rich_needed else None)


def check_options(fmt: str, output=None, with_value=False, equation=False, latex_style="bold",
                  standalone=False, name=None):
    """The usage errors of the output options, raised before any work is done (exit code 2)."""
    if with_value and fmt not in CODE_FORMATS:
        raise UsageError(f"--with-value goes with --format {', '.join(CODE_FORMATS)}, not {fmt}")
    if name is not None and fmt not in CODE_FORMATS:
        raise UsageError(f"--name goes with --format {', '.join(CODE_FORMATS)}, not {fmt}")
    if name is not None:
        from .codegen import check_function_name
        check_function_name(name)
    if equation and fmt != "latex":
        raise UsageError("--equation goes with --format latex (png and svg always show the equation)")
    if standalone and fmt != "latex":
        raise UsageError("--standalone goes with --format latex")
    if latex_style not in ("bold", "plain"):
        raise UsageError(f"unknown --latex-style {latex_style!r}; choose bold or plain")
    if fmt in PICTURE_FORMATS and not output:
        raise UsageError(f"--format {fmt} writes a picture: give the file with -o FILE")


def _wrote(path: str):
    print(safe_text(f"wrote {path}"), file=sys.stderr)


# ----------------------------------------------------------------------------- terminal text

def _terminal(result, report, steps, plain, con=None):
    """The result in bold; its shape and every name's shape; the verification mark. --plain: the result.
    Through the rich console `con`, or, when con is None, as plain lines (what rich writes to a file)."""
    lines = [(result.text, "")] if plain else [(result.text, "bold"), (f"  {result.shapes_line()}", "dim")]
    if report is not None and not plain:
        colour = {"passed": "green", "inconclusive": "yellow"}.get(report.status, "red")
        lines.append((f"  {report.summary()}", colour))
    if con is None:
        print("\n".join(line for line, _ in lines))
        return
    from rich.markup import escape
    if steps and result.steps and not plain:
        con.print(steps_tree(result), soft_wrap=False)     # wrap long rules rather than crop them
    for line, style in lines:
        con.print(f"[{style}]{escape(line)}[/]" if style else escape(line))


def _report_to_stderr(report):
    if report is not None:
        print(report.summary(), file=sys.stderr)


def steps_tree(result):
    from rich.markup import escape
    from rich.tree import Tree

    from .derive import FORWARD_OVER_REVERSE
    from .printing import text
    reverse = " (reverse mode: adjoints from the output back)"
    how = {"grad": reverse, "vjp": reverse, "hessian": reverse,
           "hvp": f" (forward over reverse: the gradient, then its derivative along {result.aux})"}
    title = f"derivation of {result.kind} w.r.t. {result.wrt}" + how.get(result.kind, " (forward mode)")
    tree = Tree(f"[bold]{escape(title)}[/]")
    names = result.symbols
    for i, st in enumerate(result.steps, 1):
        branch = tree.add(f"{i}. [cyan]{escape(st.rule or st.node.op.name)}[/]")
        if st.cite:
            branch.add(f"[dim]source: {escape(st.cite)}[/]")
        if st.rule.startswith("assumption"):
            continue
        if st.rule.startswith(FORWARD_OVER_REVERSE):
            branch.add(f"gradient  {escape(text(st.node, names))}")
            continue
        if st.rule.startswith(("simplify", "identification")):
            branch.add(f"before  {escape(text(st.node, names))}")
            branch.add(f"after   {escape(text(st.adjoint, names))}")
            continue
        branch.add(f"at  {escape(text(st.node, names))}")
        if st.parts:
            branch.add(f"adjoint  {escape(text(st.adjoint, names))}")
            for arg, contribution in st.parts:
                branch.add(f"→ to {escape(text(arg, names))}:  {escape(text(contribution, names))}")
        else:
            branch.add(f"differential  {escape(text(st.adjoint, names))}")
    return tree


# ----------------------------------------------------------------------------- LaTeX equations

def equation_parts(result, style="bold") -> tuple[str, str, list]:
    """(left-hand side, result, [(name, definition)]) of the display equation."""
    from . import algebra as alg
    from .printing import LatexPrinter, latex_name, latex_parts
    syms = result.function.symbols
    var_shape = syms[result.wrt].shape if result.wrt in syms else \
        result.shape if result.kind == "grad" else (1, 1)
    var = latex_name(result.wrt, var_shape, style)
    f = result.function.expr
    f_tex = LatexPrinter(style).run(f)           # the input written out, without named parts
    negative = f.op is alg.MUL and f.attrs[0] < 0
    if f.op in (alg.ADD, alg.HAD) or negative or (f.op is alg.CONST and f.attrs[0] < 0):
        f_tex = rf"\left({f_tex}\right)"
    if result.aux:
        aux = latex_name(result.aux, result.aux_shape, style)
    if result.kind in ("jacobian", "hessian") and (_is_matrix(var_shape) or _is_matrix(f.shape)):
        # of and by matrices: in vec form (Magnus & Neudecker), the variable as a row in the denominator
        vec = r"\operatorname{vec}"
        f_vec = f"{vec}({f_tex})" if _is_matrix(f.shape) else f_tex
        return ({"jacobian": rf"\frac{{\partial {f_vec}}}{{\partial {vec}({var})^\top}}",
                 "hessian": rf"\frac{{\partial^2}}{{\partial {vec}({var})\, \partial {vec}({var})^\top}} {f_tex}"}
                [result.kind], *latex_parts(result.expr, style, result.symbols))
    lhs = {
        "grad": lambda: rf"\frac{{\partial}}{{\partial {var}}} {f_tex}",
        "jacobian": lambda: rf"\frac{{\partial {f_tex}}}{{\partial {var}}}",
        "hessian": lambda: rf"\frac{{\partial^2}}{{\partial {var}\, \partial {var}^\top}} {f_tex}",
        "vjp": lambda: rf"\left(\frac{{\partial {f_tex}}}{{\partial {var}}}\right)^{{\!\top}} {aux}",
        "jvp": lambda: rf"\frac{{\partial {f_tex}}}{{\partial {var}}}\, {aux}",
        # ∇²f applied to the direction, in the bracket notation of directional derivatives: for a
        # matrix variable the Hessian is no matrix, its action on a direction is
        "hvp": lambda: rf"\nabla^2_{{{var}}} {f_tex}\,[{aux}]",
    }[result.kind]()
    main, defs = latex_parts(result.expr, style, result.symbols)
    return lhs, main, defs


def _is_matrix(shape) -> bool:
    return shape[0] != 1 and shape[1] != 1


def display_math(result, style="bold") -> str:
    """The body of a display equation: lhs = result, and one line per named subexpression."""
    lhs, main, defs = equation_parts(result, style)
    if not defs:
        return f"{lhs} = {main}"
    lines = [f"  {lhs} &= {main},"]
    for i, (name, body) in enumerate(defs):
        head = r"\text{where}\quad " if i == 0 else ""
        lines.append(f"  {head}{name} &= {body}" + ("," if i < len(defs) - 1 else ""))
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def latex_equation(result, style="bold") -> str:
    """A display equation to paste into a paper (needs amsmath and amssymb)."""
    return "\\[\n" + display_math(result, style) + "\n\\]"


def tex_document(body: str, wide: bool = False) -> str:
    """A complete LaTeX document around `body` (wide: one very wide line, for pictures)."""
    pre = "\\documentclass[12pt]{article}\n" + "".join(f"\\usepackage{{{p}}}\n" for p in TEX_PACKAGES)
    pre += "\\pagestyle{empty}\n"
    if wide:
        pre += "\\setlength{\\textwidth}{200cm}\n\\setlength{\\parindent}{0pt}\n"
    return pre + "\\begin{document}\n" + body + "\n\\end{document}\n"


def run_latex(source: str, workdir: Path, name: str = "matcalc") -> Path:
    """Compile `source` with latex in workdir; the DVI file, or RenderError with TeX's own message."""
    import shutil
    import subprocess
    if shutil.which("latex") is None:
        raise RenderError("TeX is not installed: the 'latex' program was not found",
                          hint="install TeX Live (Debian/Ubuntu: apt-get install texlive-latex-base "
                               "texlive-latex-recommended texlive-fonts-recommended dvipng dvisvgm)")
    tex = workdir / f"{name}.tex"
    tex.write_text(source, encoding="utf-8")
    try:
        proc = subprocess.run(["latex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                              cwd=workdir, capture_output=True, text=True, errors="replace", timeout=300)
    except subprocess.TimeoutExpired:
        raise RenderError("latex did not finish within 5 minutes") from None
    dvi = workdir / f"{name}.dvi"
    if proc.returncode != 0 or not dvi.exists():
        raise RenderError("latex failed: " + tex_error(proc.stdout))
    return dvi


def tex_error(log: str) -> str:
    """The '! ...' error lines of a TeX log, with the line they point at."""
    lines = log.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("!"):
            out.append(line)
            out += [x for x in lines[i + 1:i + 8] if x.startswith("l.")][:1]
    return " / ".join(out) or "see the TeX log"


def render_picture(result, fmt: str, path: str, style: str = "bold", force: bool = False):
    """Render the display equation to a PNG or SVG file through latex and dvipng / dvisvgm (loaded here:
    these modules cost a few ms of every command's start-up)."""
    import shutil
    import subprocess
    import tempfile
    tool = {"png": "dvipng", "svg": "dvisvgm"}[fmt]
    if shutil.which("latex") is None or shutil.which(tool) is None:
        missing = "latex" if shutil.which("latex") is None else tool
        raise RenderError(f"--format {fmt} needs TeX: the '{missing}' program was not found",
                          hint="install TeX Live (Debian/Ubuntu: apt-get install texlive-latex-base "
                               "texlive-latex-recommended texlive-fonts-recommended dvipng dvisvgm), "
                               "or use --format latex")
    body = "$\\displaystyle\n" + display_math(result, style) + "\n$"
    with tempfile.TemporaryDirectory(prefix="matcalc-") as tmp:
        work = Path(tmp)
        dvi = run_latex(tex_document(body, wide=True), work)
        out = work / f"out.{fmt}"
        if fmt == "png":
            cmd = ["dvipng", "-q", "-T", "tight", "-D", str(PNG_DPI), "-bg", "White", "-o", out.name, dvi.name]
        else:
            cmd = ["dvisvgm", "--no-fonts", "--exact-bbox", "-v", "0", "-o", out.name, dvi.name]
        try:
            proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, errors="replace", timeout=300)
        except subprocess.TimeoutExpired:
            raise RenderError(f"{tool} did not finish within 5 minutes") from None
        if proc.returncode != 0 or not out.exists():
            raise RenderError(f"{tool} failed: {(proc.stderr or proc.stdout).strip()[:500]}")
        write_file(path, out.read_bytes(), force)


# ----------------------------------------------------------------------------- JSON

SCHEMA_PATH = Path(__file__).parent / "schema" / "result.schema.json"


def as_json(result, report=None, latex_style="bold") -> dict:
    """The result for tools; the fields are documented in matcalc/schema/result.schema.json."""
    from .api import AUX_ROLE
    names = result.function.names()
    if result.aux:
        names.append({"name": result.aux, "kind": AUX_ROLE[result.kind],
                      "shape": fmt_shape(result.aux_shape)})
    return {
        "input": result.function.source,
        "variable": result.wrt,
        "derivative": result.kind,
        "names": names,
        "shape": fmt_shape(result.shape),
        "result": {"text": result.text, "latex": result.latex_of(latex_style), "numpy": result.numpy,
                   "matcalc": result.source},
        "notes": list(result.notes),
        "assumptions": list(result.assumptions),
        "verification": _finite(report.as_dict()) if report is not None else None,
    }


def _finite(d: dict) -> dict:
    """JSON has no NaN or infinity: a relative error that is not a number is null."""
    out = dict(d)
    err = out.get("max_rel_error")
    if isinstance(err, float) and not math.isfinite(err):
        out["max_rel_error"] = None
    return out
