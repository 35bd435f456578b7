"""`record`: a class of named fields, built without the dataclasses module.

A record class lists its fields as annotations, with defaults where wanted (`factory(list)` for a
fresh list per record). It gets a constructor taking the fields in order or by name, a repr, and
equality field by field; `record(frozen=True)` also forbids assignment and hashes by the fields.

Why not dataclasses: `import dataclasses` loads inspect, ast, dis and tokenize, and each class is
generated through exec: with the dozen record classes a command uses, about 10 ms of the start-up
that issue 15 bounds (a gradient printed unverified in 0.6× `import numpy`).
"""
from __future__ import annotations


class factory:
    """A default made afresh for each record: `steps: list = factory(list)`."""

    def __init__(self, make):
        self.make = make


def record(cls=None, *, frozen: bool = False):
    def build(cls):
        names = tuple(cls.__dict__.get("__annotations__", {}))
        defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
        for n in defaults:
            delattr(cls, n)
        required = [n for n in names if n not in defaults]

        def __init__(self, *args, **kw):
            if len(args) > len(names):
                raise TypeError(f"{cls.__name__} takes at most {len(names)} fields, not {len(args)}")
            values = dict(zip(names, args))
            for key, value in kw.items():
                if key not in names or key in values:
                    raise TypeError(f"{cls.__name__}: unexpected or repeated field {key!r}")
                values[key] = value
            for n in names:
                if n not in values:
                    if n not in defaults:
                        raise TypeError(f"{cls.__name__} needs the field {n!r} (fields: {', '.join(required)})")
                    d = defaults[n]
                    values[n] = d.make() if isinstance(d, factory) else d
                object.__setattr__(self, n, values[n])
            post = getattr(self, "__post_init__", None)
            if post is not None:
                post()

        def __repr__(self):
            return f"{cls.__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

        def __eq__(self, other):
            if other.__class__ is not self.__class__:
                return NotImplemented
            return all(getattr(self, n) == getattr(other, n) for n in names)

        cls.__init__, cls.__repr__, cls.__eq__ = __init__, __repr__, __eq__
        cls.__match_args__ = names
        if frozen:
            def __setattr__(self, name, value):
                raise AttributeError(f"{cls.__name__} is frozen: cannot assign {name!r}")

            cls.__setattr__ = __setattr__
            cls.__hash__ = lambda self: hash(tuple(getattr(self, n) for n in names))
        else:
            cls.__hash__ = None         # mutable and compared by value: unhashable, as a dataclass
        return cls

    return build if cls is None else build(cls)
