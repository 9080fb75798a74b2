"""Requests refused at the HTTP edge: malformed bodies (400), foreign content types (415),
oversized bodies (413), GET and other methods."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from tests.e2e.catalogue import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    Case,
    bearer,
    post,
)

Q = b'"query":"{ __typename }"'
LIMIT = 1024 * 1024


def bad_request(case_id: str, body: bytes, *, content_type: str = "application/json") -> Case:
    """A body on application/json that is not a GraphQL request: 400 BAD_REQUEST."""
    return post(case_id, body, status=400, code=BAD_REQUEST, content_type=content_type)


def with_query(field: bytes) -> bytes:
    """A valid query plus one more top-level field."""
    return b"{" + Q + b"," + field + b"}"


MALFORMED = [
    # Bare JSON values and arrays (batching is off by default).
    bad_request("body-bare-null", b"null"),
    bad_request("body-bare-string", b'"str"'),
    bad_request("body-bare-number", b"123"),
    bad_request("body-bare-float", b"1.5"),
    bad_request("body-bare-true", b"true"),
    bad_request("body-bare-false", b"false"),
    bad_request("body-empty-array", b"[]"),
    bad_request("body-array-of-numbers", b"[1, 2]"),
    bad_request("body-array-of-nulls", b"[null]"),
    post(
        "body-batch-while-batching-off",
        b"[{" + Q + b"}, {" + Q + b"}]",
        status=400,
        code=BAD_REQUEST,
        message="Batching is not enabled",
    ),
    # Not JSON at all.
    bad_request("body-empty", b""),
    bad_request("body-whitespace-only", b"   \n\t "),
    bad_request("body-not-json", b"not json"),
    bad_request("body-graphql-text-as-json", b"{ __typename }"),
    bad_request("body-unquoted-key", b'{query: "{ __typename }"}'),
    bad_request("body-single-quotes", b"{'query': '{ __typename }'}"),
    bad_request("body-trailing-comma", b"{" + Q + b",}"),
    bad_request("body-missing-value", b'{"query": }'),
    bad_request("body-truncated", b"{" + Q),
    bad_request("body-trailing-garbage", b"{" + Q + b"} garbage"),
    bad_request("body-two-objects", b"{" + Q + b"} {" + Q + b"}"),
    bad_request("body-js-comment", b"/* hi */ {" + Q + b"}"),
    bad_request("body-utf8-bom", b"\xef\xbb\xbf{" + Q + b"}"),
    bad_request("body-utf16", ("{" + Q.decode() + "}").encode("utf-16")),
    bad_request("body-control-char-in-string", b'{"query":"{ __typename }\x01"}'),
    bad_request("body-bad-escape", b'{"query":"{ __typename }\\x41"}'),
    bad_request("body-short-unicode-escape", b'{"query":"{ __typename }\\u12"}'),
    # Invalid UTF-8 inside and outside strings.
    bad_request("utf8-invalid-byte-in-string", with_query(b'"x":"\xff"')),
    bad_request("utf8-invalid-byte-outside-string", b"\xff{" + Q + b"}"),
    bad_request("utf8-overlong-slash", with_query(b'"x":"\xc0\xaf"')),
    bad_request("utf8-truncated-sequence", with_query(b'"x":"\xe2\x82"')),
    bad_request("utf8-encoded-surrogate-cesu", with_query(b'"x":"\xed\xa0\x80"')),
    bad_request("utf8-beyond-u10ffff", with_query(b'"x":"\xf4\x90\x80\x80"')),
    bad_request("utf8-invalid-byte-in-query", b'{"query":"{ __typename \xfe}"}'),
    bad_request(
        "utf8-invalid-byte-in-variable", b'{"query":"{ __typename }","variables":{"v":"\x80"}}'
    ),
    bad_request(
        "charset-latin-1-non-ascii",
        b'{"query":"{ __typename }","variables":{"n":"caf\xe9"}}',
        content_type="application/json; charset=latin-1",
    ),
    bad_request(
        "charset-utf-16-declared",
        b'{"query":"{ __typename }","variables":{"n":"caf\xe9"}}',
        content_type="application/json; charset=utf-16",
    ),
    # Numbers and nesting that exhaust a parser.
    bad_request(
        "variables-5000-digit-integer", with_query(b'"variables":{"n":' + b"9" * 5000 + b"}")
    ),
    bad_request(
        "variables-5000-digit-negative-integer",
        with_query(b'"variables":{"n":-' + b"9" * 5000 + b"}"),
    ),
    bad_request(
        "variables-nested-5000-arrays",
        with_query(b'"variables":{"v":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ),
    bad_request(
        "variables-nested-5000-objects",
        with_query(b'"variables":{"v":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}"),
    ),
    bad_request("top-level-nested-5000-arrays", b"[" * 5000 + b"]" * 5000),
    bad_request("top-level-nested-5000-objects", b'{"a":' * 5000 + b"1" + b"}" * 5000),
    bad_request("variables-nan", with_query(b'"variables":{"n":NaN}')),
    bad_request("variables-infinity", with_query(b'"variables":{"n":Infinity}')),
    bad_request("variables-minus-infinity", with_query(b'"variables":{"n":-Infinity}')),
    # The GraphQL request's own members of the wrong shape.
    bad_request("query-missing", b"{}"),
    bad_request("query-missing-with-variables", b'{"variables":{}}'),
    bad_request("query-null", b'{"query":null}'),
    bad_request("query-empty-string", b'{"query":""}'),
    bad_request("query-number", b'{"query":123}'),
    bad_request("query-boolean", b'{"query":true}'),
    bad_request("query-array", b'{"query":["{ __typename }"]}'),
    bad_request("query-object", b'{"query":{"text":"{ __typename }"}}'),
    bad_request("variables-array", with_query(b'"variables":[]')),
    bad_request("variables-string", with_query(b'"variables":"{}"')),
    bad_request("variables-number", with_query(b'"variables":1')),
    bad_request("variables-boolean", with_query(b'"variables":true')),
    bad_request("operation-name-number", with_query(b'"operationName":5')),
    bad_request("operation-name-array", with_query(b'"operationName":["A"]')),
    bad_request("operation-name-object", with_query(b'"operationName":{}')),
    bad_request("operation-name-boolean", with_query(b'"operationName":false')),
    bad_request("extensions-array", with_query(b'"extensions":[]')),
    bad_request("extensions-string", with_query(b'"extensions":"x"')),
    bad_request("extensions-number", with_query(b'"extensions":1')),
    bad_request("extensions-boolean", with_query(b'"extensions":true')),
    # A document with no operation to run.
    bad_request("document-only-fragments", b'{"query":"fragment F on Query { __typename }"}'),
]

MEDIA_TYPES = [
    post(
        f"content-type-{name}",
        b"{" + Q + b"}",
        status=415,
        code=UNSUPPORTED_MEDIA_TYPE,
        content_type=content_type,
    )
    for name, content_type in [
        ("text-plain", "text/plain"),
        ("text-plain-utf8", "text/plain; charset=utf-8"),
        ("form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart", "multipart/form-data; boundary=xyz"),
        ("application-graphql", "application/graphql"),
        ("xml", "application/xml"),
        ("octet-stream", "application/octet-stream"),
        ("text-html", "text/html"),
        ("jsonx-prefix-lookalike", "application/jsonx"),
        ("empty", ""),
        ("missing", None),
    ]
]

OVERSIZED = [
    post(
        "body-over-1-mib-of-whitespace",
        b"{" + Q + b"}" + b" " * LIMIT,
        status=413,
        code=PAYLOAD_TOO_LARGE,
    ),
    post(
        "body-over-1-mib-in-a-variable",
        with_query(b'"variables":{"v":"' + b"a" * (2 * LIMIT) + b'"}'),
        status=413,
        code=PAYLOAD_TOO_LARGE,
    ),
    post(
        "body-over-1-mib-of-garbage",
        b"\xff" * (LIMIT + 1),
        status=413,
        code=PAYLOAD_TOO_LARGE,
    ),
    post(
        "body-over-1-mib-anonymous",
        b"[" * (LIMIT + 1),
        status=413,
        code=PAYLOAD_TOO_LARGE,
        caller=None,
    ),
    # Without Content-Length: the guard counts the chunks while it reads them.
    replace(
        post(
            "body-over-1-mib-chunked",
            with_query(b'"variables":{"v":"' + b"a" * LIMIT + b'"}'),
            status=413,
            code=PAYLOAD_TOO_LARGE,
        ),
        chunked=True,
    ),
    replace(
        post("body-chunked-bare-null", b"null", status=400, code=BAD_REQUEST),
        chunked=True,
    ),
]


def get(case_id: str, path: str, *, status: int, code: str | None, accept: str = "*/*") -> Case:
    """A GET as a browser or a script sends it."""
    headers = {"accept": accept, **bearer("admin")}
    return Case(case_id, "GET", path, headers, b"", status, code)


def other_method(method: str) -> Case:
    """A method /graphql does not serve: 405 with a coded error."""
    headers = {"content-type": "application/json", **bearer("admin")}
    body = b"{" + Q + b"}"
    return Case(
        f"method-{method.lower()}", method, "/graphql", headers, body, 405, METHOD_NOT_ALLOWED
    )


METHODS = [
    get("get-graphiql-in-production", "/graphql", status=404, code=NOT_FOUND, accept="text/html"),
    get(
        "get-query-while-get-is-off",
        "/graphql?query=" + quote("{ __typename }"),
        status=400,
        code=BAD_REQUEST,
    ),
    get(
        "get-mutation",
        "/graphql?query=" + quote('mutation { deleteProduct(id: "UHJvZHVjdDox") { deletedId } }'),
        status=400,
        code=BAD_REQUEST,
    ),
    get(
        "get-query-bad-variables",
        "/graphql?query=" + quote("{ __typename }") + "&variables=%7B",
        status=400,
        code=BAD_REQUEST,
    ),
    get("get-docs-in-production", "/docs", status=404, code=None),
    get("get-redoc-in-production", "/redoc", status=404, code=None),
    get("get-openapi-in-production", "/openapi.json", status=404, code=None),
    *(other_method(method) for method in ("PUT", "PATCH", "DELETE")),
]

CASES = [*MALFORMED, *MEDIA_TYPES, *OVERSIZED, *METHODS]
