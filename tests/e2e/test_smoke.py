"""The simplest path through the whole stack."""

from tests.conftest import GraphQLClient


async def test_given_a_created_product_when_listed_then_it_is_returned(gql: GraphQLClient) -> None:
    created = await gql.ok(
        'mutation { createProduct(input: {sku: "ab-1", name: "Widget", price: "19.9"}) '
        "{ product { id sku price version } } }"
    )
    product = created["createProduct"]["product"]
    assert product["sku"] == "AB-1"
    assert product["price"] == "19.90"
    assert product["version"] == 1

    listed = await gql.ok("{ products { totalCount edges { node { id } } } }")
    assert listed["products"]["totalCount"] == 1
    assert listed["products"]["edges"][0]["node"]["id"] == product["id"]
