"""GraphQL subscriptions over WebSocket (graphql-transport-ws), fed by the change log."""
