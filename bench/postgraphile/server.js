// PostGraphile 4 as the benchmark's peer (bench/README.md, "PostGraphile").
//
// Run by bench/peer.py from var/bench/postgraphile/ (where `npm ci` installed the pinned
// packages of package-lock.json):
//   node server.js   with BENCH_PG_URL, BENCH_HOST and BENCH_PORT in the environment.
//
// No authentication and no pgSettings, so PostGraphile runs every query outside a
// transaction on a pooled connection. Besides /graphql it serves what the benchmark asks of
// every server: /healthz (once the schema is built), and /__bench/statements and
// /__bench/in-flight, counted here as bench/statements.py counts them for the Python servers.
"use strict";

const http = require("http");
const { Pool } = require("pg");
const { postgraphile } = require("postgraphile");
const PgSimplifyInflectorPlugin = require("@graphile-contrib/pg-simplify-inflector");

const STATEMENTS_PATH = "/__bench/statements";
const IN_FLIGHT_PATH = "/__bench/in-flight";

const connectionString = process.env.BENCH_PG_URL;
const host = process.env.BENCH_HOST || "127.0.0.1";
const port = Number(process.env.BENCH_PORT);
if (!connectionString || !port) {
  console.error("server.js needs BENCH_PG_URL and BENCH_PORT");
  process.exit(2);
}

const counter = { requests: 0, inFlight: 0, statements: {} };

function classify(text) {
  // Only the verb: every table PostGraphile reads here is business data.
  const first = String(text).trimStart().split(/\s+/, 1)[0].toLowerCase();
  if (first === "select" || first === "with" || first === "values") return "data:read";
  if (["insert", "update", "delete"].includes(first)) return "data:write";
  return "data:other";
}

// Connections stay open (no idle timeout), as the Python servers' pools keep theirs, so the
// benchmark can attribute each PostgreSQL backend's CPU time to this process.
const pool = new Pool({
  connectionString,
  max: 10,
  idleTimeoutMillis: 0,
  application_name: "bench-postgraphile",
});
let counting = false;
pool.on("connect", (client) => {
  const query = client.query.bind(client);
  client.query = (config, ...rest) => {
    if (counting) {
      const kind = classify(typeof config === "string" ? config : config && config.text);
      counter.statements[kind] = (counter.statements[kind] || 0) + 1;
    }
    return query(config, ...rest);
  };
});

const graphqlHandler = postgraphile(pool, "public", {
  appendPlugins: [PgSimplifyInflectorPlugin],
  graphqlRoute: "/graphql",
  graphiql: false,
  disableQueryLog: true,
  watchPg: false,
  retryOnInitFail: false,
  legacyRelations: "omit",
  setofFunctionsContainNulls: false,
  ignoreRBAC: false,
  enableQueryBatching: false,
});

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?", 1)[0];
  if (path === "/healthz") return json(res, 200, { status: "ok" });
  if (path === STATEMENTS_PATH) {
    const taken = {
      requests: counter.requests,
      statements: counter.statements,
      in_flight: counter.inFlight,
    };
    counter.requests = 0;
    counter.statements = {};
    return json(res, 200, taken);
  }
  if (path === IN_FLIGHT_PATH) return json(res, 200, { in_flight: counter.inFlight });
  if (path === "/graphql") {
    counter.requests += 1;
    counter.inFlight += 1;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        counter.inFlight -= 1;
      }
    };
    res.on("finish", finish);
    res.on("close", finish);
  }
  return graphqlHandler(req, res);
});
server.keepAliveTimeout = 75_000;

graphqlHandler
  .getGraphQLSchema()
  .then(() => {
    counting = true;
    server.listen(port, host, () => console.log(`postgraphile listening on ${host}:${port}`));
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });

function stop() {
  server.close();
  pool.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
