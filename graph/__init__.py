"""The GraphQL adapter: Strawberry types, resolvers and the FastAPI app."""
