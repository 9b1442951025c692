"""The template sandbox with limits: what one template part may cost to render.

Jinja2's immutable sandbox keeps templates away from Python's internals; it does not
bound what they cost. A nested loop of 100,000 x 100,000, ``'x' * 10**9`` or
``10 ** 10**9`` would hang ``check``, ``preview`` and every send, or mail a gigabyte.
So each template part (subject, text, HTML) renders under a budget (README:
Templates, limits):

- time: :data:`MAX_SECONDS`, checked cooperatively (renders run on worker threads, so
  no signals) at every call, filter, attribute lookup, loop item and output chunk;
- size: no value a template makes, and no part's output, over :data:`MAX_CHARS`
  characters or items; numbers of at most :data:`MAX_INT_BITS` bits. Operations that
  multiply sizes (``*``, ``**``, ``%`` and format widths, ``center``, ``indent``,
  ``join``, ``replace`` ...) are checked before they allocate, the rest after.

Going over a limit raises :class:`LimitExceeded` (a Jinja2 ``SecurityError``), which
the template set reports as one line with the template's file and line. The checks
cost a clock read or a ``len()`` each; a whole render pays microseconds.
"""

from __future__ import annotations

import functools
import inspect
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Namespace

#: per template part, in seconds
MAX_SECONDS = 2.0
#: characters of a part's output; characters (or items) of any one value
MAX_CHARS = 1_000_000
#: bits of any one number a template computes (10**10000 has 33,220)
MAX_INT_BITS = 100_000
#: numbers in one range()
MAX_RANGE = 100_000


class LimitExceeded(SecurityError):
    """A template went over one of the limits above."""


class _Budget:
    __slots__ = ("deadline",)

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds


_local = threading.local()


_PER_PART = "the limit for one template part"


def _too_slow() -> LimitExceeded:
    return LimitExceeded(f"rendering took longer than {MAX_SECONDS:g} s, {_PER_PART}")


def _tick() -> None:
    """Stop a render that has run out of time (a no-op outside one)."""
    budget: _Budget | None = getattr(_local, "budget", None)
    if budget is not None and time.monotonic() > budget.deadline:
        raise _too_slow()


def _too_big(what: str) -> LimitExceeded:
    return LimitExceeded(f"{what} would make more than {MAX_CHARS:,} characters or items, the limit for one value")


def weight(value: Any, limit: int = MAX_CHARS) -> int:
    """About how many characters ``value`` takes written out: the length of text, the
    sum over a container's items (each reference counted, so a list repeating one long
    string weighs what its text would), a digit per three bits of a number. Counting
    stops just past ``limit``, so it costs O(limit) at worst."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, list | tuple | dict | set | frozenset | Namespace):
        return value.bit_length() // 3 + 1 if isinstance(value, int) else 1
    total = 0
    stack: list[Iterator[Any]] = [iter((value,))]
    while stack:
        for v in stack[-1]:
            if isinstance(v, str | bytes):
                total += len(v) + 1
            elif isinstance(v, int):
                total += v.bit_length() // 3 + 1
            elif isinstance(v, list | tuple | set | frozenset | dict | Namespace):
                total += 2
                if isinstance(v, Namespace):
                    v = object.__getattribute__(v, "_Namespace__attrs")
                stack.append(iter(v.items()) if isinstance(v, dict) else iter(v))
                break
            else:
                total += 1
            if total > limit:
                return total
        else:
            stack.pop()
        if total > limit:
            return total
    return total


def _too_long_a_number(what: str) -> LimitExceeded:
    return LimitExceeded(f"{what} would make a number of more than {MAX_INT_BITS:,} bits, the limit for one value")


def _check(value: Any, what: str) -> Any:
    if isinstance(value, str):  # nearly every value: one len()
        if len(value) > MAX_CHARS:
            raise _too_big(what)
        return value
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _too_long_a_number(what)
    if weight(value) > MAX_CHARS:
        raise _too_big(what)
    return value


def _count(n: Any, what: str) -> None:
    """A width, count or repetition that becomes a size."""
    if isinstance(n, int) and n > MAX_CHARS:
        raise _too_big(what)


# -- sizes known before an operation allocates -----------------------------------------

_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent(fmt: Any, what: str) -> None:
    """``'%1000000000d' % 1`` allocates its width first: no width or precision over
    the limit, and no ``*`` (a width taken from the arguments)."""
    if isinstance(fmt, str) and "%" in fmt:
        for m in _PERCENT.finditer(fmt):
            for n in m.groups():
                if n == "*":
                    raise LimitExceeded(f"{what}: a '*' width or precision is not allowed in templates")
                if n is not None:
                    _count(int(n), what)


def _check_format(fmt: str, what: str) -> None:
    """The same for ``str.format``: widths in the specs, and no nested ``{}`` in one."""
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec:
            if "{" in spec:
                raise LimitExceeded(f"{what}: a nested '{{}}' in a format spec is not allowed in templates")
            for n in re.findall(r"\d+", spec):
                _count(int(n), what)


def _text_estimate(owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """The size of ``owner.<name>(*args)`` for the string methods that can grow text."""
    arg = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill"):
        return arg if isinstance(arg, int) else 0
    if name == "expandtabs":
        size = kwargs.get("tabsize", 8 if arg is None else arg)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        return len(owner) + tabs * size if isinstance(size, int) else 0
    if name == "replace" and len(args) >= 2 and type(args[0]) is type(owner) and type(args[1]) is type(owner):
        return _replaced(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
    if name == "join" and isinstance(arg, list | tuple):
        return len(owner) * len(arg) + weight(arg)
    if name == "translate" and isinstance(arg, Mapping):
        longest = max((len(v) for v in arg.values() if isinstance(v, str)), default=1)
        return len(owner) * longest
    return 0


def _check_product(left: Any, right: Any, what: str) -> None:
    """``'x' * 10**9`` and ``[1] * 10**9`` allocate at once: check the size first."""
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, str | bytes | list | tuple) and isinstance(n, int) and weight(seq) * n > MAX_CHARS:
            raise _too_big(what)
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise _too_long_a_number(what)


def _replaced(text: Any, old: Any, new: Any, count: Any) -> int:
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(text) + times * max(0, len(new) - len(old))


def _filter_estimate(name: str, a: Mapping[str, Any]) -> None:
    """Before a filter that can multiply sizes runs: refuse what would be too big.
    ``a`` is the filter's arguments by parameter name (Jinja2's own names)."""
    what = f"|{name}"
    if name == "center":
        _count(a.get("width"), what)
    elif name == "indent":
        s, width = a.get("s"), a.get("width")
        per_line = width if isinstance(width, int) else len(str(width))
        lines = s.count("\n") + 1 if isinstance(s, str) else weight(s)
        _count(weight(s) + per_line * lines, what)
    elif name == "join":
        value = a.get("value")
        items = len(value) if isinstance(value, list | tuple | dict | set | str) else 0
        _count(weight(value) + len(str(a.get("d", ""))) * items, what)
    elif name == "replace" and isinstance(a.get("s"), str) and isinstance(a.get("old"), str):
        _count(_replaced(a["s"], a["old"], str(a.get("new")), a.get("count")), what)
    elif name == "format":
        _check_percent(a.get("value"), what)
    elif name == "batch":
        _count(a.get("linecount"), what)
    elif name == "slice":
        _count(a.get("slices"), what)
    elif name == "sum" and not isinstance(a.get("start", 0), int | float):
        raise LimitExceeded("|sum adds numbers only: its start must be a number")
    elif name == "wordwrap":
        s, wrap = a.get("s"), a.get("wrapstring")
        if isinstance(s, str):
            # textwrap runs at a few microseconds a character; each break adds ``wrap``
            _count(len(s) * 10, what)
            _count(len(s) * (1 + len(wrap or "\n")), what)
    elif name == "urlize":
        value = str(a.get("value", ""))
        links = value.count(".") + value.count("@") + value.count(":")
        # a link repeats its text in the href, and brings its attributes
        extra = 100 + len(a.get("target") or "") + len(a.get("rel") or "")
        _count(len(value) * (2 if links else 1) + links * extra, what)
    elif name == "tojson" and isinstance(a.get("indent"), int):
        _count(weight(a.get("value")) * (1 + a["indent"]), what)


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` checked like a call: time, argument sizes, known growth, result size.
    ``functools.wraps`` keeps Jinja2's pass_context/pass_eval_context marks."""
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None
    amplifies = name in _AMPLIFYING_FILTERS and signature is not None

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        for v in args:
            _check(v, f"an argument of |{name}")
        for v in kwargs.values():
            _check(v, f"an argument of |{name}")
        if amplifies:
            assert signature is not None
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            _filter_estimate(name, bound.arguments)
        return _check(func(*args, **kwargs), f"|{name}")

    return guarded


_AMPLIFYING_FILTERS = frozenset(
    {"center", "indent", "join", "replace", "format", "batch", "slice", "sum", "wordwrap", "urlize", "tojson"}
)


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    try:
        n = len(numbers)
    except OverflowError:
        n = MAX_RANGE + 1
    if n > MAX_RANGE:
        raise LimitExceeded(f"range() of more than {MAX_RANGE:,} numbers, the limit for one loop")
    return numbers


def _iterate(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` iterates: the items, with the clock checked at each."""
    for item in iterable:
        _tick()
        yield item


def _weighed(value: Any) -> Any:
    """Each operand of ``~`` before ``str()`` writes it out."""
    return _check(value, "an operand of '~'")


def _joined(text: str) -> str:
    """The result of ``~``: at most one value's size."""
    if len(text) > MAX_CHARS:
        raise _too_big("'~'")
    return text


def _finalize(value: Any) -> Any:
    """Each ``{{ ... }}`` before it becomes text: a list that repeats a long string is
    refused before ``str()`` writes it out."""
    return _check(value, "this expression")


class _Generator(CodeGenerator):
    """Compiles every ``{% for %}`` to iterate through :func:`_iterate` and every ``~``
    to pass through :func:`_joined`: the two places a template spends time or grows
    text without a call the sandbox sees."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        iterated = nodes.Call(nodes.EnvironmentAttribute("iterate"), [node.iter], [], None, None, lineno=node.lineno)
        node = nodes.For(node.target, iterated, node.body, node.else_, node.test, node.recursive, lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        checked = [
            nodes.Call(nodes.EnvironmentAttribute("weighed"), [n], [], None, None, lineno=n.lineno) for n in node.nodes
        ]
        self.write("environment.joined(")
        super().visit_Concat(nodes.Concat(checked, lineno=node.lineno), frame)
        self.write(")")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the limits above on every render."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, filters: Mapping[str, Callable[..., Any]], **kwargs: Any) -> None:
        super().__init__(finalize=_finalize, **kwargs)
        self.filters = {name: _guard_filter(name, f) for name, f in {**self.filters, **filters}.items()}
        self.globals["range"] = _bounded_range
        # Filler text has no place in a message, and its sizes are unbounded.
        self.globals.pop("lipsum", None)
        self.iterate = _iterate
        self.weighed = _weighed
        self.joined = _joined

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        what = f"{type(left).__name__} {operator} {type(right).__name__}"
        if operator == "*":
            _check_product(left, right, what)
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            # |left| ** right has at least right * (bits of |left| - 1) bits
            if right * (abs(left).bit_length() - 1) > MAX_INT_BITS:
                raise _too_long_a_number(what)
        elif operator == "%":
            _check_percent(left, what)
            _check(right, what)
        elif operator == "+" and not isinstance(left, int | float) and weight(left) + weight(right) > MAX_CHARS:
            raise _too_big(what)
        return _check(super().call_binop(context, operator, left, right), what)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # The calls the compiler adds (see _Generator); their extra keywords are Jinja2's.
        if __obj is _iterate:
            return _iterate(args[0])
        if __obj is _weighed:
            return _weighed(args[0])
        _tick()
        name = __obj.name if isinstance(__obj, Macro) else getattr(__obj, "__name__", "a call")
        what = f"{name}()"
        for v in args:
            _check(v, f"an argument of {what}")
        for k, v in kwargs.items():
            if k not in ("_loop_vars", "_block_vars"):
                _check(v, f"an argument of {what}")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):
            _count(_text_estimate(owner, name, args, kwargs), what)
        return _check(super().call(__context, __obj, *args, **kwargs), what)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__, f"{value.__name__}()")
        return wrapped

    def render_part(self, template: jinja2.Template, context: Mapping[str, Any]) -> str:
        """``template.render(context)`` within the time and size limits; chunk by chunk,
        so a part that grows too long stops there."""
        outer = getattr(_local, "budget", None)
        budget = _local.budget = _Budget(MAX_SECONDS)
        chunks = template.generate(context)
        try:
            out: list[str] = []
            size = 0
            for chunk in chunks:
                size += len(chunk)
                if size > MAX_CHARS:
                    stop = LimitExceeded(f"output is longer than {MAX_CHARS:,} characters, {_PER_PART}")
                elif time.monotonic() > budget.deadline:
                    stop = _too_slow()
                else:
                    out.append(chunk)
                    continue
                # Raised where the template is paused, so its traceback names the line
                # that wrote the chunk.
                chunks.throw(stop)
                raise stop
            return "".join(out)
        finally:
            chunks.close()
            _local.budget = outer
