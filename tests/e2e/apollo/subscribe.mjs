// Apollo Client with GraphQLWsLink (graphql-ws): subscribe to taskChanged, print each event
// as one JSON line, stop after `count` events. Usage: node subscribe.mjs <ws url> <token> <count>
import { ApolloClient, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, count] = process.argv.slice(2);
const wsClient = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});
const client = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
let seen = 0;
const subscription = client
  .subscribe({
    query: gql`subscription { taskChanged { cursor action task { title } } }`,
  })
  .subscribe({
    next: (result) => {
      console.log(JSON.stringify(result.data ?? { errors: result.errors }));
      seen += 1;
      if (seen >= Number(count)) {
        subscription.unsubscribe();
        wsClient.dispose();
        process.exit(0);
      }
    },
    error: (error) => {
      console.log(JSON.stringify({ error: String(error?.message ?? error) }));
      process.exit(1);
    },
  });
setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout" }));
  process.exit(2);
}, 20000);
