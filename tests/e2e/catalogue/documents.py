"""Documents that do not parse, do not fit the schema, or break a limit before execution."""

from __future__ import annotations

from tests.e2e.catalogue import (
    BAD_REQUEST,
    PARSE_FAILED,
    QUERY_TOO_COMPLEX,
    QUERY_TOO_LARGE,
    VALIDATION_FAILED,
    Case,
    op,
)


def parse_failed(case_id: str, query: str, message: str | None = None) -> Case:
    """A document that is not GraphQL."""
    return op(case_id, query, code=PARSE_FAILED, message=message)


def invalid(
    case_id: str, query: str, message: str | None = None, *, caller: str | None = "admin"
) -> Case:
    """A document that does not fit the schema or a validation limit."""
    return op(case_id, query, code=VALIDATION_FAILED, message=message, caller=caller)


SYNTAX = [
    parse_failed("syntax-open-brace", "{"),
    parse_failed("syntax-close-brace", "}"),
    parse_failed("syntax-extra-close-brace", "{ __typename } }"),
    parse_failed("syntax-whitespace-only", "   "),
    parse_failed("syntax-comment-only", "# nothing here"),
    parse_failed("syntax-query-keyword-only", "query"),
    parse_failed("syntax-mutation-keyword-only", "mutation"),
    parse_failed("syntax-unknown-keyword", "foo { x }"),
    parse_failed("syntax-unclosed-arguments", "{ products( { totalCount } }"),
    parse_failed("syntax-empty-variable-name", "query Q($: Int) { __typename }"),
    parse_failed(
        "syntax-unterminated-string", '{ products(filter: {search: "open}) { totalCount } }'
    ),
    parse_failed("syntax-unterminated-block-string", '{ products(filter: {search: """open'),
    parse_failed("syntax-alias-without-field", "{ a: }"),
    parse_failed("syntax-number-leading-zero", "{ products(first: 01) { totalCount } }"),
    parse_failed("syntax-number-bare-exponent", "{ products(first: 1e) { totalCount } }"),
    parse_failed("syntax-number-trailing-dot", "{ products(first: 1.) { totalCount } }"),
    parse_failed("syntax-invalid-character", "{ __typename \u0007 }"),
    parse_failed(
        "syntax-bad-string-escape", '{ products(filter: {search: "\\q"}) { totalCount } }'
    ),
    parse_failed("syntax-fragment-named-on", "fragment on on Query { __typename } { ...on }"),
    parse_failed("syntax-spread-without-name", "{ ... }"),
    parse_failed("syntax-variable-in-fragment-definition-name", "fragment $F on Query { id }"),
    parse_failed(
        "syntax-over-2000-tokens",
        "{ " + "x " * 2100 + "}",
        "more than 2000 tokens",
    ),
    op(
        "document-over-20000-characters",
        "{ __typename }" + " " * 20_001,
        code=QUERY_TOO_LARGE,
    ),
    op(
        "document-over-20000-characters-of-comment",
        "# " + "c" * 20_001 + "\n{ __typename }",
        code=QUERY_TOO_LARGE,
    ),
]

DEEP = (
    "{ tasks { edges { node { customer { tasks { edges { node { customer { tasks { edges {"
    " node { customer { id } } } } } } } } } } } } }"
)
DEEP_BY_FRAGMENTS = (
    "{ tasks { edges { node { ...A } } } }"
    " fragment A on Task { customer { tasks { edges { node { ...B } } } } }"
    " fragment B on Task { customer { tasks { edges { node { customer { id } } } } } }"
)
EXPENSIVE = (
    "{ products(first: 100) { edges { node { tasks(first: 100) { edges { node { id } } } } } } }"
)

VALIDATION = [
    invalid("undefined-fragment", "{ ...Nope }", "Unknown fragment"),
    invalid("undefined-fragment-inside-a-field", "{ products { ...Nope } }", "Unknown fragment"),
    invalid(
        "undefined-fragment-beside-a-defined-one",
        "{ ...Known ...Nope } fragment Known on Query { __typename }",
        "Unknown fragment",
    ),
    invalid("fragment-cycle", "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
    invalid("fragment-self-spread", "{ ...A } fragment A on Query { ...A }"),
    invalid("fragment-unused", "{ __typename } fragment Unused on Query { __typename }"),
    invalid("fragment-on-unknown-type", "{ ...A } fragment A on Nope { id }"),
    invalid("fragment-on-scalar", "{ ...A } fragment A on String { id }"),
    invalid("fragment-on-impossible-type", "{ products { ...A } } fragment A on Task { id }"),
    invalid("field-unknown", "{ nope }"),
    invalid("field-unknown-nested", "{ products { edges { node { nope } } } }"),
    invalid("field-selection-on-scalar", "{ products { totalCount { value } } }"),
    invalid("field-object-without-selection", "{ products }"),
    invalid("argument-unknown", "{ products(frist: 1) { totalCount } }"),
    invalid("argument-duplicated", "{ products(first: 1, first: 2) { totalCount } }"),
    invalid("argument-required-missing", "{ product { id } }"),
    invalid("argument-null-for-required", "{ product(id: null) { id } }"),
    invalid("variable-undefined", "{ products(first: $n) { totalCount } }"),
    invalid("variable-unused", "query Q($n: Int) { __typename }"),
    invalid(
        "variable-duplicated", "query Q($n: Int, $n: Int) { products(first: $n) { totalCount } }"
    ),
    invalid(
        "variable-of-unknown-type",
        "query Q($n: Nope) { products(filter: $n) { totalCount } }",
        "Unknown type 'Nope'",
    ),
    invalid(
        "variable-of-output-type",
        "query Q($p: Product) { products(filter: $p) { totalCount } }",
        "cannot be non-input type",
    ),
    invalid(
        "variable-wrong-type-for-argument",
        "query Q($n: String) { products(first: $n) { totalCount } }",
    ),
    invalid(
        "variable-default-of-wrong-type",
        'query Q($n: Int = "x") { products(first: $n) { totalCount } }',
    ),
    invalid("directive-unknown", "{ __typename @nope }"),
    invalid("directive-missing-argument", "{ __typename @include }"),
    invalid("directive-repeated", "{ __typename @skip(if: false) @skip(if: false) }"),
    invalid("directive-in-wrong-place", "query Q @include(if: true) { __typename }"),
    invalid("operations-duplicate-names", "query A { __typename } query A { __typename }"),
    invalid("operations-anonymous-beside-named", "{ __typename } query A { __typename }"),
    invalid(
        "input-object-literal-unknown-field", '{ products(filter: {nope: "x"}) { totalCount } }'
    ),
    invalid(
        "input-object-literal-duplicate-field",
        '{ products(filter: {search: "a", search: "b"}) { totalCount } }',
    ),
    invalid("mutation-field-in-a-query", "query { createProduct { product { id } } }"),
    invalid("query-field-in-a-mutation", "mutation { products { totalCount } }"),
    invalid("subscription-operation", "subscription { products { totalCount } }"),
    invalid("subscription-unknown-field", "subscription S { nope }"),
    invalid(
        "introspection-schema-in-production",
        "{ __schema { queryType { name } } }",
        "introspection has been disabled",
    ),
    invalid(
        "introspection-type-in-production",
        '{ __type(name: "Query") { name } }',
        "introspection has been disabled",
    ),
    invalid(
        "introspection-in-a-fragment-in-production",
        "{ ...I } fragment I on Query { __schema { types { name } } }",
        "introspection has been disabled",
    ),
    invalid(
        "introspection-anonymous-in-production",
        "{ __schema { types { name } } }",
        "introspection has been disabled",
        caller=None,
    ),
    invalid("depth-over-10", DEEP, "exceeds maximum operation depth"),
    invalid(
        "depth-over-10-through-fragments", DEEP_BY_FRAGMENTS, "exceeds maximum operation depth"
    ),
    invalid(
        "aliases-over-30",
        "{ " + " ".join(f"a{n}: __typename" for n in range(31)) + " }",
        "31 aliases found",
    ),
    invalid(
        "directives-over-50",
        "{ " + " ".join(["__typename @skip(if: false)"] * 51) + " }",
        "more than 50 directives",
    ),
    op("cost-over-5000", EXPENSIVE, code=QUERY_TOO_COMPLEX),
    op(
        "cost-over-5000-through-a-variable",
        "query Q($n: Int) { customers(first: $n) { edges { node { tasks(first: 100)"
        " { edges { node { id } } } } } } }",
        {"n": 100},
        code=QUERY_TOO_COMPLEX,
    ),
]

# The request names no operation the document can run: refused at the HTTP layer.
OPERATIONS = [
    op(
        "operation-name-unknown",
        "query A { __typename }",
        code=BAD_REQUEST,
        status=400,
        operation_name="Nope",
    ),
    op(
        "operation-name-missing-with-two-operations",
        "query A { __typename } query B { __typename }",
        code=BAD_REQUEST,
        status=400,
    ),
    op(
        "operation-name-of-a-fragment",
        "query A { ...F } fragment F on Query { __typename }",
        code=BAD_REQUEST,
        status=400,
        operation_name="F",
    ),
    op(
        "operation-name-empty-string",
        "query A { __typename } query B { __typename }",
        code=BAD_REQUEST,
        status=400,
        operation_name="",
    ),
]

CASES = [*SYNTAX, *VALIDATION, *OPERATIONS]
