"""A faster ``__init__`` for the frozen dataclasses built on every event.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``, to
get past its own guard against assignment: a global lookup, an attribute lookup and a call per
field. The worker builds a dozen such objects per event (a state, its tallies, a signal, an
assessment...), and those calls were a tenth of its time (``python -m bench.topology`` under
py-spy). Writing the instance's ``__dict__`` directly does the same in about a third of the
time; instances stay as frozen, equal, hashable and printable as before, since only the way
their fields are first set changes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_HAS_FACTORY = object()  # the marker of a parameter whose default comes from a factory


def quick_init(cls: type[T]) -> type[T]:
    """Class decorator, above ``@dataclass(frozen=True)``: the same ``__init__`` signature, built faster.

    Only for plain frozen dataclasses (every field set by ``__init__``, positional, no
    ``__post_init__``, no ``InitVar``, no slots): anything else is refused, not half-handled.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__}: quick_init is for frozen dataclasses")
    if ("__slots__" in cls.__dict__ or hasattr(cls, "__post_init__")
            or len(cls.__dataclass_fields__) != len(fields)  # type: ignore[attr-defined]
            or any(not field.init or field.kw_only for field in fields)
            or {"self", "_state"} & {field.name for field in fields}):
        raise TypeError(f"{cls.__name__}: quick_init handles plain positional fields only")
    namespace: dict[str, Any] = {"_HAS_FACTORY": _HAS_FACTORY}
    parameters, body = [], ["    _state = self.__dict__"]
    for field in fields:
        name = field.name
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            parameters.append(f"{name}=_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = field.default_factory
            parameters.append(f"{name}=_HAS_FACTORY")
            body.append(f"    if {name} is _HAS_FACTORY: {name} = _factory_{name}()")
        else:
            parameters.append(name)
        body.append(f"    _state[{name!r}] = {name}")
    source = f"def __init__(self, {', '.join(parameters)}):\n" + "\n".join(body) + "\n"
    exec(source, namespace)  # noqa: S102 — built from the class's own field names, as dataclasses does
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)  # what typing and hypothesis read
    cls.__init__ = init  # type: ignore[misc]
    return cls
