"""YAML text -> plain Python data, refusing what a config never needs and an attacker would use.

``safe_load`` constructs no objects, but still accepts three things refused here: duplicate keys (the last
one silently wins), aliases that expand into millions of values (a few hundred bytes of "billion laughs"
exhaust memory once the document is copied), and YAML 1.1 booleans (``on:`` of a join becomes ``True:``).
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

__all__ = ["MAX_VALUES", "load_yaml"]

# Values (scalars, lists, mappings) a document may hold once every alias is expanded. The largest real
# config is a few thousand (long column lists); a "billion laughs" file asks for 10^9.
MAX_VALUES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """Safe loading with YAML 1.2 booleans (``on``/``off``/``yes``/``no`` stay strings) and duplicate keys
    refused, naming the key and both lines."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # '<<: *defaults' keys may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            if seen is not None:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"duplicate key {key!r} (first given on line {seen}); each setting may appear once",
                    key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def load_yaml(text: str) -> Any:
    """The document in ``text``; raises ``yaml.YAMLError`` (with a mark) for anything refused.

    Example:
        >>> load_yaml("on: [store]\\nenabled: yes")
        {'on': ['store'], 'enabled': 'yes'}
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: Node) -> None:
    """Refuse a node graph that expands beyond :data:`MAX_VALUES` values, or that contains itself.

    Aliases make the graph a DAG (or a cycle); the expanded size is counted once per node, so the check
    takes time in the number of nodes written, not in the size they expand to.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_VALUES:
                raise yaml.composer.ComposerError(
                    None, None, f"the document expands to more than {MAX_VALUES:,} values through aliases "
                    f"(*name); a config never needs that many (a \"billion laughs\" file?)", node.start_mark)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise yaml.composer.ComposerError(None, None, "an alias refers to a value that contains it "
                                              "(a recursive structure)", node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
