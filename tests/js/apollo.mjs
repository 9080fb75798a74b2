// Apollo Client with its persisted-query link against a running server; prints one JSON
// object describing every request the link made and what came back.
// Run by tests/e2e/test_apollo_client.py:  node apollo.mjs SCENARIO URL [TOKEN]
//
// Scenarios:
//   apq      two calls of one query over POST, then a second client (a new page load)
//   get      the same with another query and useGETForHashedQueries: hashes go over GET
//   print    the documents exactly as this client sends them (for a manifest)
//   trusted  a registered query, then one that is not registered
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createHash } from "node:crypto";

const [scenario, url, token] = process.argv.slice(2);

export const QUERIES = {
  Products: gql`
    query Products {
      products(first: 2) {
        totalCount
        edges { node { id sku } }
      }
    }
  `,
  ProductsOverGet: gql`
    query ProductsOverGet {
      products(first: 3) { totalCount }
    }
  `,
  Unregistered: gql`
    query Unregistered {
      products(first: 1) { totalCount }
    }
  `,
};

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

// A fetch that notes what each request carried and how the server answered.
function watchingFetch(requests, send = fetch) {
  return async (input, init = {}) => {
    const method = (init.method ?? "GET").toUpperCase();
    const target = new URL(typeof input === "string" ? input : input.url);
    const sent =
      method === "GET"
        ? {
            query: target.searchParams.get("query") ?? undefined,
            extensions: JSON.parse(target.searchParams.get("extensions") ?? "null"),
          }
        : JSON.parse(init.body);
    const response = await send(input, init);
    requests.push({
      method,
      document: sent.query ?? null,
      hash: sent.extensions?.persistedQuery?.sha256Hash ?? null,
      status: response.status,
      cacheControl: response.headers.get("cache-control"),
      etag: response.headers.get("etag"),
    });
    return response;
  };
}

function makeClient(requests, { useGETForHashedQueries = false, persisted = true, send } = {}) {
  const http = new HttpLink({
    uri: url,
    fetch: watchingFetch(requests, send),
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const link = persisted
    ? new PersistedQueryLink({ sha256, useGETForHashedQueries }).concat(http)
    : http;
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

// The data of a query, or the codes of the errors it failed with.
async function run(client, name) {
  try {
    const { data } = await client.query({ query: QUERIES[name], fetchPolicy: "network-only" });
    return { data };
  } catch (error) {
    const errors = error.errors ?? [{ message: String(error) }];
    return { codes: errors.map((e) => e.extensions?.code ?? e.message) };
  }
}

async function calls(options, names) {
  const requests = [];
  const client = makeClient(requests, options);
  const results = [];
  for (const name of names) results.push(await run(client, name));
  return { requests, results };
}

async function main() {
  if (scenario === "apq" || scenario === "get") {
    const options = { useGETForHashedQueries: scenario === "get" };
    const name = scenario === "get" ? "ProductsOverGet" : "Products";
    const first = await calls(options, [name, name]);
    const later = await calls(options, [name]);
    return { first, later };
  }
  if (scenario === "trusted") {
    return calls({}, ["Products", "Unregistered"]);
  }
  if (scenario === "print") {
    // Nothing reaches a server: the stub answers, the documents are what would be sent.
    const stub = async () =>
      new Response(JSON.stringify({ errors: [{ message: "stub" }] }), {
        headers: { "content-type": "application/json" },
      });
    const requests = [];
    const client = makeClient(requests, { persisted: false, send: stub });
    for (const name of Object.keys(QUERIES)) await run(client, name);
    return Object.fromEntries(
      Object.keys(QUERIES).map((name, index) => [name, requests[index].document]),
    );
  }
  throw new Error(`unknown scenario ${scenario}`);
}

process.stdout.write(JSON.stringify(await main()) + "\n");
