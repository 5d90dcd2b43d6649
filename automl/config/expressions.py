"""Refuse config SQL expressions that reach beyond the rows: Java code, files, secrets, the network.

A config's ``derive`` and ``filter`` expressions go to Spark's SQL parser, where ``reflect(...)`` calls any
Java method (``reflect('java.lang.System', 'exit', 0)`` stops the JVM) and a subquery reads any file
(``(SELECT * FROM text.`/etc/passwd`)``). The check is static, so it runs before Spark starts: a small
tokenizer that skips string literals, comments and quoted identifiers, then looks at every name called as a
function (case-insensitive, also when backticked or qualified as ``system.builtin.reflect``).

Example:
    >>> refused_calls("units / price")
    []
    >>> refused_calls("REFLECT ('java.lang.System', 'getenv', 'HOME')")[0][:22]
    'calls reflect(), which'
"""
from __future__ import annotations

from collections.abc import Iterator

from pydantic import field_validator

from automl.config.base import Problem, Problems, Section

__all__ = ["REFUSED_FUNCTIONS", "ExpressionSection", "refused_calls"]

# Checked against Spark 4's `SHOW FUNCTIONS` and each function's `DESCRIBE FUNCTION EXTENDED` text: these are
# the built-ins that leave the row. input_file_name() and current_user() only read metadata and stay allowed;
# xpath and from_xml parse with external entities off (measured: a file entity expands to nothing).
REFUSED_FUNCTIONS: dict[str, str] = {
    "reflect": "runs any Java method in the JVM",
    "java_method": "runs any Java method in the JVM",
    "try_reflect": "runs any Java method in the JVM",
    "from_protobuf": "reads a descriptor file from the file system",
    "to_protobuf": "reads a descriptor file from the file system",
    # IDENTIFIER('reflect')(...) names a function by a string, which would hide every other entry here.
    "identifier": "names a function or column by a string, hiding what it calls",
    # Databricks SQL: secrets, files, streams and the network.
    "secret": "reads a secret",
    "try_secret": "reads a secret",
    "read_files": "reads files",
    "read_kafka": "reads a stream",
    "read_kinesis": "reads a stream",
    "read_pubsub": "reads a stream",
    "read_pulsar": "reads a stream",
    "read_statestore": "reads a streaming state store",
    "http_request": "calls the network",
    "ai_query": "calls the network",
}

# A query inside an expression (scalar subquery, IN/EXISTS subquery) can read any table or file path.
_QUERY_STARTS = frozenset({"select", "from", "table", "values", "with"})
_WORD = "word"
_QUOTED = "quoted"
_PUNCT = "punct"


def refused_calls(expression: str) -> list[str]:
    """One message per refused function and one for a subquery in ``expression``; empty when it is safe.

    The text is read twice, with and without backslash escapes in string literals, since
    ``spark.sql.parser.escapedStringLiterals`` decides which one Spark sees.
    """
    problems: list[str] = []
    for escapes in (True, False):
        tokens = list(_tokens(expression, escapes=escapes))
        for index, (kind, text) in enumerate(tokens):
            following = tokens[index + 1] if index + 1 < len(tokens) else (_PUNCT, "")
            name = text.lower()
            if kind in (_WORD, _QUOTED) and following == (_PUNCT, "(") and name in REFUSED_FUNCTIONS:
                problems.append(f"calls {name}(), which {REFUSED_FUNCTIONS[name]}; config expressions may only "
                                f"compute from the row's columns")
            elif kind == _WORD and name == "select" or (kind, text) == (_PUNCT, "|>") or _query_start(tokens, index):
                problems.append("holds a query (SELECT, FROM, TABLE, VALUES, WITH or |>), which can read any table "
                                "or file; config expressions may only compute from the row's columns (a column "
                                "with such a name goes in backticks)")
    return list(dict.fromkeys(problems))


def _query_start(tokens: list[tuple[str, str]], index: int) -> bool:
    """``(FROM t``, ``(TABLE t``, ``(VALUES (``, ``(WITH t``: a query; ``(values + 1)`` uses a column."""
    kind, text = tokens[index]
    if kind != _WORD or text.lower() not in _QUERY_STARTS or index == 0 or tokens[index - 1] != (_PUNCT, "("):
        return False
    following = tokens[index + 1] if index + 1 < len(tokens) else (_PUNCT, "")
    return following[0] in (_WORD, _QUOTED) or following == (_PUNCT, "(")


def _tokens(text: str, *, escapes: bool) -> Iterator[tuple[str, str]]:
    """Words, quoted names/strings (content) and punctuation; whitespace and comments dropped."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            i = _end_of_block_comment(text, i)
        elif char in "'\"`":
            end, content = _quoted(text, i, raw=not escapes)
            yield _QUOTED, content
            i = end
        elif char.isalnum() or char == "_":
            start = i
            while i < n and (text[i].isalnum() or text[i] in "_$"):
                i += 1
            word = text[start:i]
            if word in ("r", "R") and i < n and text[i] in "'\"":  # a raw string: backslashes do not escape
                i, content = _quoted(text, i, raw=True)
                yield _QUOTED, content
            else:
                yield _WORD, word
        elif text.startswith("|>", i):
            yield _PUNCT, "|>"
            i += 2
        else:
            yield _PUNCT, char
            i += 1


def _quoted(text: str, start: int, *, raw: bool) -> tuple[int, str]:
    """End index and content of the literal or identifier opening at ``start`` (unterminated: to the end)."""
    quote, i, n, content = text[start], start + 1, len(text), []
    while i < n:
        char = text[i]
        if char == "\\" and not raw and quote != "`" and i + 1 < n:
            content.append(text[i + 1])
            i += 2
        elif char == quote:
            if quote == "`" and text.startswith("``", i):  # a doubled backtick is one backtick in the name
                content.append("`")
                i += 2
            else:
                return i + 1, "".join(content)
        else:
            content.append(char)
            i += 1
    return n, "".join(content)


def _end_of_block_comment(text: str, start: int) -> int:
    """Spark's bracketed comments nest: ``/* a /* b */ c */`` is one comment."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(text)


def _check_expressions(expressions: list[tuple[tuple[str, ...], str]]) -> None:
    """Refuse config SQL that reaches the JVM, files or the network;
    each expression comes with its path relative to the validated setting."""
    problems: list[Problem] = [(where, message) for where, text in expressions for message in refused_calls(text)]
    if problems:
        raise Problems(problems)


class ExpressionSection(Section):
    """A section holding Spark SQL in ``filter`` and ``derive``: checked statically when loaded."""

    @field_validator("filter", check_fields=False)
    @classmethod
    def _safe_filter(cls, text: str | None) -> str | None:
        if text is not None:
            _check_expressions([((), text)])
        return text

    @field_validator("derive", check_fields=False)
    @classmethod
    def _safe_derive(cls, derive: dict[str, str]) -> dict[str, str]:
        _check_expressions([((name,), text) for name, text in derive.items()])
        return derive
