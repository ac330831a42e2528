"""The one gate for text that came from the server, on its way to an error, a log or a screen.

A reply body, a fault code, an element name, a header value: any of it may echo a secret
the request carried (an IIS page quoting the request, a WAF echoing a header, a fault
repeating its input), in any of the forms servers write text in, and any of it may hold
characters that act on a terminal. Such text is wrapped in :class:`ServerText`, which has
no ``str()`` of its own: only :func:`reveal` turns it into a ``str``, and it

* decodes bytes by their byte order mark, then by the XML autodetection of UTF-16/32,
  then by the ``charset`` the server declared, else as UTF-8;
* masks every known secret as it may be echoed: raw or with its whitespace collapsed,
  in any letter case, and XML/HTML-escaped (named, decimal and hex references),
  percent-encoded or JSON-escaped, up to two layers deep; then anything shaped like a
  ticket, and the content of secret elements (``<Ticket>…``), in those forms too;
* cleans it for a terminal (:func:`for_terminal`), always: a revealed text is safe to
  print, log or put in an exception message.

The secrets come with the text: ``ServerText(content, secrets)`` takes the client's
:class:`~superoffice_batch.secrets.SecretView`, so no road can forget them.
:func:`reveal` returns :data:`Shown`, the type of text that passed the gate, which the
exceptions' own-words parameters are not: their server parts take ``ServerText``.

How the forms are found: the text is *unescaped* (one pass turns every reference,
percent run, JSON escape and whitespace run into the characters it stands for), twice,
and each secret, unescaped the same way, is looked for at each of the three levels in
lower case. A piece of segments maps every place found back to the original text, which
is where it is masked. Every step is a linear scan: masking costs time linear in the
text, and memory linear in it, with a small constant per secret (at most 64 KiB each).
"""

from __future__ import annotations

import bisect
import codecs
import functools
import re
from array import array
from collections.abc import Callable, Iterable
from typing import NewType

from .secrets import SECRET_ELEMENTS, SecretView

__all__ = ["ServerText", "Shown", "for_terminal", "reveal", "shows_as_is"]

Shown = NewType("Shown", str)
"""Text that passed the gate: masked and safe for a terminal. Only :func:`reveal` makes one."""

MASK = "***"
# A secret shorter than this is masked only as a whole token: inside words it would mangle
# the text and, by what it mangled, reveal itself.
_SHORT_SECRET = 6
# At a cut, a partial secret this long at the very end is masked too.
_PARTIAL_AT_CUT = 2
# Escapes inside escapes: XML text escaped again by an HTML page, say.
_LAYERS = 2


class ServerText:
    """Text (or bytes) that came from the server, with the secrets of the client that
    received it. Only :func:`reveal` makes a ``str`` of it.

    ``str()``, ``format()`` and f-strings refuse it, so that no message can quote server
    text without passing the gate; ``repr()`` tells only its size. ``content_type`` (the
    reply's header) says how bytes are encoded.
    """

    __slots__ = ("_charset", "_content", "_secrets")

    def __init__(
        self, content: bytes | str, secrets: SecretView, content_type: str | None = None
    ) -> None:
        if not isinstance(secrets, SecretView):  # a tuple of strings would mask nothing new
            raise TypeError(f"secrets must be a SecretView, not {type(secrets).__name__}")
        self._content = content
        self._secrets = secrets
        self._charset = _charset(content_type) if isinstance(content, bytes) else None

    def __repr__(self) -> str:
        unit = "bytes" if isinstance(self._content, bytes) else "characters"
        return f"<ServerText of {len(self._content)} {unit}>"

    def __str__(self) -> str:
        raise TypeError("server text is shown only through servertext.reveal()")

    def __format__(self, spec: str) -> str:
        raise TypeError("server text is shown only through servertext.reveal()")


def reveal(text: ServerText, *, limit: int | None = None) -> Shown:
    """``text`` decoded, masked and cleaned for a terminal: the one way server text
    becomes a ``str``.

    With ``limit``, the result is an excerpt: whitespace runs collapsed, at most ``limit``
    characters, and only that much is decoded and masked, so its cost does not grow with
    the text; the start of a secret that the cut left at the end is masked too.
    """
    if not isinstance(text, ServerText):  # for callers mypy does not check
        raise TypeError(f"reveal takes ServerText, not {type(text).__name__}")
    content = text._content
    cut = False
    if limit is None:
        shown = content if isinstance(content, str) else _decoded(content, text._charset)
    else:
        shown, cut = _collapsed_start(content, text._charset, limit)
        if cut:
            shown = shown[: limit - 1]
    masked = _masker(text._secrets.values).mask(shown, cut=cut)
    if cut:
        masked = masked[: (limit or 0) - 1] + "…"
    return Shown(for_terminal(masked))


def shows_as_is(text: str, secrets: SecretView) -> bool:
    """Whether the gate shows ``text`` unchanged: a value from the server that the library
    will print as it is (the tenant's endpoint, in every URL it names) must."""
    return reveal(ServerText(text, secrets)) == text


# -- decoding ------------------------------------------------------------------------------
# The patterns are strings, compiled (and cached by ``re``) at their first use: only error
# and log paths need them, and compiling them all would add milliseconds to the import.

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16's: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# XML 1.0 appendix F: "<" in UTF-32 or UTF-16 without a BOM.
_SNIFFED = (
    (b"<\0\0\0", "utf-32-le"),
    (b"\0\0\0<", "utf-32-be"),
    (b"<\0", "utf-16-le"),
    (b"\0<", "utf-16-be"),
)
# Linear: a fixed word, then one run of a class that excludes what may follow it.
_CHARSET = r"""(?i)charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})"""


def _charset(content_type: str | None) -> str | None:
    match = re.search(_CHARSET, content_type[:1024]) if content_type else None
    return match.group(1) if match else None


def _encoding(content: bytes, charset: str | None) -> tuple[str, int]:
    """The encoding to read ``content`` with, and how many BOM bytes to skip."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name, len(bom)
    for start, name in _SNIFFED:
        if content.startswith(start):
            return name, 0
    if charset:
        try:
            info = codecs.lookup(charset)
        except LookupError:
            return "utf-8", 0
        # Only text encodings: "base64" or "rot13" would decode into something else.
        if getattr(info, "_is_text_encoding", False):
            return info.name, 0
    return "utf-8", 0


def _decoded(content: bytes, charset: str | None) -> str:
    name, skip = _encoding(content, charset)
    return codecs.decode(content[skip:], name, errors="replace")


def _collapsed_start(content: bytes | str, charset: str | None, chars: int) -> tuple[str, bool]:
    """The first ``chars`` characters of ``content`` decoded with whitespace runs collapsed,
    and whether the collapsed text goes on; decodes only as much as that needs."""
    if isinstance(content, str):
        text = " ".join(content[: 4 * chars + 16].split())
        more = len(text) > chars or len(content) > 4 * chars + 16
        return text[:chars], more
    name, skip = _encoding(content, charset)
    body = content[skip:]
    size = 4 * chars + 16
    while True:
        whole = size >= len(body)
        decoder = codecs.getincrementaldecoder(name)(errors="replace")
        text = " ".join(decoder.decode(body[:size], final=whole).split())
        if whole or len(text) > chars:
            return text[:chars], len(text) > chars
        size *= 2


# -- terminals -------------------------------------------------------------------------------

# The one rule for what reaches a terminal (the command line uses it too). Replaced:
# * C0 controls but tab and newline, DEL, C1 controls (ESC, CSI, OSC…);
# * every format character (Unicode category Cf): bidi embeddings, overrides, isolates and
#   marks, zero-width characters, the soft hyphen, the BOM, interlinear annotations, tag
#   characters, and the rest of U+2060-206F; line and paragraph separators;
# * the invisible Hangul fillers, which show nothing and so hide what follows;
# * private-use characters (what they draw is up to the font, and some terminals act on
#   them: kitty's image placeholder is U+10EEEE) and lone surrogates (which no encoder
#   writes: print() would raise).
# Kept: tab and newline (a traceback keeps its lines; one-line output collapses them),
# every space (NBSP included: it shows as one), and characters Unicode has not assigned,
# so that the rule does not depend on the interpreter's Unicode version.
# One class: linear, each character tested once.
_TERMINAL_UNSAFE = (
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891"
    "\u08e2\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ud800-\uf8ff\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000f0000-\U0010ffff]"
)


def for_terminal(text: str, replace: Callable[[str], str] | None = None) -> str:
    """``text`` with every character a terminal would act on (or could not be given)
    replaced by a space, or by ``replace(character)``; newlines and tabs stay.

    The one cleaner: :func:`reveal` ends with it, and the command line cleans whatever it
    prints with it (JSON output escapes the same characters through ``replace``)."""
    if replace is None:
        return re.sub(_TERMINAL_UNSAFE, " ", text)
    return re.sub(_TERMINAL_UNSAFE, lambda match: replace(match.group()), text)


# -- unescaping, with a map back to the original ------------------------------------------

# One layer of every escape a server may quote text in. Linear: each alternative starts
# with a fixed character, then either a bounded run or one run of a single class that
# stops at the first character outside it; nothing is nested, so no input backtracks.
# The lookahead lets the engine skip to the next candidate character in C (a pattern that
# starts with a bare alternation is tried branch by branch at every position).
_ESCAPE = (
    r"(?=[&%\\ ])(?:&#[0-9]+;?"
    r"|&#[xX][0-9A-Fa-f]+;?"
    r"|&[A-Za-z][A-Za-z0-9]{0,31};?"
    r"|(?:%[0-9A-Fa-f]{2})+"
    r"|(?:\\u[0-9A-Fa-f]{4})+"
    r"|\\x[0-9A-Fa-f]{2}"
    r"|\\[\\/\"']"
    r"| {2,})"
)
# Every other whitespace character is a space first: the same length, so no piece to map.
_SPACES = str.maketrans(
    dict.fromkeys(
        "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
        "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
        " ",
    )
)
# Most tokens of a hostile text repeat: a short one is decoded once.
_SHORT_TOKEN = 12
_MAX_CODE_POINT = 0x10FFFF


def _code_point(digits: str, base: int) -> str | None:
    digits = digits.lstrip("0") or "0"
    if len(digits) > 7:  # int() of a long run would cost, and cannot be a character
        return None
    value = int(digits, base)
    if value > _MAX_CODE_POINT or 0xD800 <= value <= 0xDFFF:
        return None
    return chr(value)


def _unescaped_token(token: str) -> str | None:
    """What one match of :data:`_ESCAPE` stands for; None when it stands for itself."""
    first = token[0]
    if first == "&":
        if token.startswith(("&#x", "&#X")):
            return _code_point(token[3:].rstrip(";"), 16)
        if token.startswith("&#"):
            return _code_point(token[2:].rstrip(";"), 10)
        import html  # its table of 2,231 names is loaded on the first error that needs it

        plain = html.unescape(token)
        return plain if plain != token else None
    if first == "%":
        raw = bytes.fromhex(token.replace("%", ""))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if first == "\\":
        if token[1] == "u":
            units = bytes.fromhex(token.replace("\\u", ""))
            return units.decode("utf-16-be", errors="replace")
        if token[1] == "x":
            return chr(int(token[2:], 16))
        return token[1]
    return " "  # a run of spaces


_cached_token = functools.lru_cache(maxsize=4096)(_unescaped_token)


class _Layer:
    """One layer of unescaping of a text: the result, and where each change came from.

    Four parallel arrays, one entry per replaced piece: its start and end in the result
    and in the source. Between pieces the two texts are the same, shifted. The entries
    are C ints (4 bytes): a reply is at most 1 GiB (``max_response_bytes``).
    """

    __slots__ = ("changed", "ends", "source_ends", "source_starts", "starts", "text")

    def __init__(self, source: str) -> None:
        self.starts = array("i")
        self.ends = array("i")
        self.source_starts = array("i")
        self.source_ends = array("i")
        shift = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal shift
            token = match.group()
            plain = _cached_token(token) if len(token) <= _SHORT_TOKEN else _unescaped_token(token)
            if plain is None:
                return token
            start = match.start() - shift
            self.starts.append(start)
            self.ends.append(start + len(plain))
            self.source_starts.append(match.start())
            self.source_ends.append(match.end())
            shift += len(token) - len(plain)
            return plain

        self.text = re.sub(_ESCAPE, replace, source.translate(_SPACES))
        self.changed = self.text != source

    def back(self, start: int, end: int) -> tuple[int, int]:
        """The span of the source that ``[start, end)`` of the result came from."""
        index = bisect.bisect_right(self.starts, start) - 1
        if index >= 0 and start < self.ends[index]:
            start = self.source_starts[index]
        elif index >= 0:
            start += self.source_ends[index] - self.ends[index]
        index = bisect.bisect_left(self.starts, end) - 1
        if index >= 0 and end <= self.ends[index]:
            end = self.source_ends[index]
        elif index >= 0:
            end += self.source_ends[index] - self.ends[index]
        return start, end


def _lower(text: str) -> str:
    # The one character whose lower case is longer ("İ" -> "i̇") would shift every index.
    return text.replace("\u0130", "i").lower()


# -- masking ----------------------------------------------------------------------------

# Each pattern is linear: each quantified run stops at a character the next part cannot
# match (no nested or overlapping repetition), so no input makes them backtrack.
# A NetServer ticket (7T:…) or access token (8A:…) anywhere in a text.
# A digit first, then "not after a word character": the same as a leading \b, but a pattern
# that starts with a character class is searched for in C.
_TICKET_LIKE = r"[0-9](?<!\w[0-9])[A-Za-z]:([A-Za-z0-9+/=_.\-]{3,})"
# The same cut short at the end of an excerpt: its first characters.
_TICKET_AT_CUT = r"[0-9](?<!\w[0-9])[A-Za-z]:([A-Za-z0-9+/=_.\-]{0,2})\Z"
# A start tag of an element that carries a secret, whatever its prefix, then its content:
# text and CDATA sections up to the next markup, or up to the end of the text (a cut).
# Attributes stop at the next "<", so an unterminated tag costs only its own length.
_SECRET_ELEMENT = (
    rf"(?i)<(?:[\w.-]+:)?(?:{'|'.join(SECRET_ELEMENTS)})"
    r"(?:\s[^<>]*)?(?<!/)>"
    r"((?:[^<]+|<!\[CDATA\[(?:[^\]]+|\](?!\]>))*(?:\]\]>|\Z))*)"
)


class _Secret:
    """One known secret, unescaped and lower-cased as each layer of a text will be."""

    __slots__ = ("forms", "short")

    def __init__(self, secret: str) -> None:
        self.short = len(secret) < _SHORT_SECRET
        forms = [secret]
        for _ in range(_LAYERS):
            forms.append(_Layer(forms[-1]).text)
        # A secret that is nothing but spaces or escapes of nothing is not looked for.
        self.forms = [_lower(form).strip() for form in forms]


class _Masker:
    """The masking for one set of known secrets (made once per set: see :func:`_masker`)."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = [_Secret(secret) for secret in dict.fromkeys(secrets) if secret.strip()]

    def mask(self, text: str, *, cut: bool = False) -> str:
        """``text`` masked; with ``cut``, its end is where a longer text was cut."""
        spans: list[tuple[int, int]] = []
        layers: list[_Layer] = []
        level_text = text
        new_text = True
        for level in range(_LAYERS + 1):
            # At a cut, an escape cut short hides the secret it began: look without it.
            searched = _without_dangling_escape(level_text) if cut else level_text
            for start, end in self._found(searched, level, cut=cut, patterns=new_text):
                at_cut = cut and end == len(searched)
                for layer in reversed(layers):
                    start, end = layer.back(start, end)
                spans.append((start, len(text) if at_cut else end))
            if level < _LAYERS and new_text:
                layer = _Layer(searched)  # "&#4" at the cut is no character: not unescaped
                # Unchanged, the text is its own unescaped form: only the secrets' unescaped
                # forms (a password with a run of spaces) are left to look for in it.
                new_text = layer.changed
                if new_text:
                    layers.append(layer)
                    level_text = layer.text
            else:
                new_text = False
        return _masked(text, spans)

    def _found(
        self, text: str, level: int, *, cut: bool, patterns: bool
    ) -> Iterable[tuple[int, int]]:
        """The spans of ``text`` (a text ``level`` times unescaped) that hold a secret."""
        lowered = _lower(text) if self._secrets else text
        for secret in self._secrets:
            form = secret.forms[level]
            if form and (patterns or form != secret.forms[level - 1]):
                yield from _occurrences(lowered, form, whole_token=secret.short)
                if cut:
                    yield from _partial_end(lowered, form, whole_token=secret.short)
        if not patterns:
            return
        for pattern in (_TICKET_LIKE, _SECRET_ELEMENT):
            for match in re.finditer(pattern, text):
                yield match.span(1)
        at_cut = re.search(_TICKET_AT_CUT, text) if cut else None
        if at_cut is not None:
            yield at_cut.start(1), len(text)


# The start of an escape that a cut left at the end of a text (at most 40 characters).
_DANGLING_ESCAPE = (
    r"(?:&#?[xX]?[0-9A-Za-z]{0,31}|%[0-9A-Fa-f]?|\\(?:u[0-9A-Fa-f]{0,3}|x[0-9A-Fa-f]?)?)\Z"
)


def _without_dangling_escape(text: str) -> str:
    tail = len(text) - 40
    found = re.search(_DANGLING_ESCAPE, text[max(tail, 0) :])
    return text if found is None else text[: len(text) - len(found.group())]


# A client's secrets change at each new ticket: the last few sets are enough.
_masker = functools.lru_cache(maxsize=32)(_Masker)


def _occurrences(text: str, form: str, *, whole_token: bool) -> Iterable[tuple[int, int]]:
    start = text.find(form)
    while start >= 0:
        end = start + len(form)
        if not whole_token or (_token_edge(text, start - 1) and _token_edge(text, end)):
            yield start, end
        start = text.find(form, start + 1)


def _token_edge(text: str, index: int) -> bool:
    """Whether ``text[index]`` is outside any word (or outside the text)."""
    return not 0 <= index < len(text) or not (text[index].isalnum() or text[index] == "_")


def _partial_end(text: str, form: str, *, whole_token: bool) -> Iterable[tuple[int, int]]:
    """The start of ``form`` that a cut left at the end of ``text``, if long enough."""
    smallest = 1 if whole_token else _PARTIAL_AT_CUT
    for size in range(min(len(form) - 1, len(text)), smallest - 1, -1):
        start = len(text) - size
        if text.endswith(form[:size]) and (not whole_token or _token_edge(text, start - 1)):
            yield start, len(text)
            return


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every span (merged where they touch) replaced by the mask."""
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if end <= position:
            continue
        if start > position:
            pieces.append(text[position:start])
        if start >= position:
            pieces.append(MASK)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
